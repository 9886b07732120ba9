"""Screen pops: what an operator's console shows the moment app_queue rings them.

The application publishes a ``ScreenPop`` when Asterisk offers a caller to an operator
(``AgentCalled``, again at ``AgentConnect``); every console the operator has open receives it
through ``ScreenPopHub.subscribe``. The hub keeps the last pop per operator so a console opened
or reloaded in the middle of the call still shows it, until ``clear`` at the end of the call.

Theory of operation: each subscription owns a bounded ``asyncio.Queue``. ``publish`` never
waits: when a console does not keep up (a frozen browser tab), the oldest pop in its queue is
dropped and counted in ``dropped``, so one slow console cannot hold up the AMI event loop or
the operator's other consoles. No aiohttp here; the web layer turns pops into WebSocket frames.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

DEFAULT_QUEUE_SIZE = 16


@dataclass(frozen=True, slots=True)
class ScreenPop:
    """One call offered to one operator, with what the IVR learnt about the caller.

    ``transcript`` is what the caller said (empty for keys only), ``intent`` the recognised
    intent, ``category`` the case category suggested for it, ``urgency`` e.g. "normal" or
    "emergency". ``previous_cases`` holds the caller's earlier cases as string maps (number,
    category, status, created_at). ``at`` is when the pop was made (ISO 8601).
    """

    call_id: str
    operator_id: str
    caller: str
    caller_name: str = ""
    language: str = ""
    queue: str = ""
    skill: str = ""
    transcript: str = ""
    intent: str = ""
    category: str = ""
    urgency: str = "normal"
    route_reasons: tuple[str, ...] = ()
    previous_cases: tuple[dict[str, str], ...] = field(default=())
    at: str = ""

    def __post_init__(self) -> None:
        if not self.call_id:
            raise ValueError("call_id must not be empty")
        if not self.operator_id:
            raise ValueError("operator_id must not be empty")
        # Callers may hand lists or mappings of any kind; keep immutable, string-only copies so
        # a pop already queued for a console cannot change under it.
        object.__setattr__(self, "route_reasons", tuple(str(r) for r in self.route_reasons))
        object.__setattr__(
            self,
            "previous_cases",
            tuple(_string_map(case) for case in self.previous_cases),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (lists for the tuples)."""
        return {
            "call_id": self.call_id,
            "operator_id": self.operator_id,
            "caller": self.caller,
            "caller_name": self.caller_name,
            "language": self.language,
            "queue": self.queue,
            "skill": self.skill,
            "transcript": self.transcript,
            "intent": self.intent,
            "category": self.category,
            "urgency": self.urgency,
            "route_reasons": list(self.route_reasons),
            "previous_cases": [dict(case) for case in self.previous_cases],
            "at": self.at,
        }

    def to_json(self) -> str:
        """The pop as JSON text (UTF-8 characters kept as they are)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


def _string_map(case: Mapping[str, object]) -> dict[str, str]:
    return {str(key): "" if value is None else str(value) for key, value in case.items()}


class ScreenPopHub:
    """Delivers screen pops to every console an operator has open; see the module docstring."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size!r}")
        self._queue_size = queue_size
        self._subscribers: dict[str, set[asyncio.Queue[ScreenPop]]] = {}
        self._current: dict[str, ScreenPop] = {}
        self.dropped = 0
        """Pops thrown away because a console's queue was full (oldest first)."""
        self.published = 0

    @asynccontextmanager
    async def subscribe(self, operator_id: str) -> AsyncIterator[asyncio.Queue[ScreenPop]]:
        """A queue receiving every pop published for ``operator_id`` while the block runs.

        The current pop (if any) is not put in the queue; read ``current()`` for it first.
        """
        queue: asyncio.Queue[ScreenPop] = asyncio.Queue(self._queue_size)
        self._subscribers.setdefault(operator_id, set()).add(queue)
        try:
            yield queue
        finally:
            queues = self._subscribers.get(operator_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._subscribers[operator_id]

    def subscribers(self, operator_id: str) -> int:
        """Consoles of ``operator_id`` listening now."""
        return len(self._subscribers.get(operator_id, ()))

    def publish(self, pop: ScreenPop) -> int:
        """Remember ``pop`` as the operator's current one and hand it to each of their
        consoles; returns how many consoles received it. Never blocks."""
        self._current[pop.operator_id] = pop
        self.published += 1
        delivered = 0
        for queue in self._subscribers.get(pop.operator_id, ()):
            while queue.full():
                queue.get_nowait()
                self.dropped += 1
            queue.put_nowait(pop)
            delivered += 1
        return delivered

    def current(self, operator_id: str) -> ScreenPop | None:
        """The last pop of the operator's call in progress, None between calls."""
        return self._current.get(operator_id)

    def clear(self, operator_id: str, call_id: str | None = None) -> bool:
        """Forget the operator's current pop (the call ended); with ``call_id``, only if the
        current pop is that call's (a late hang-up must not clear the next call's pop).
        Returns whether a pop was forgotten."""
        pop = self._current.get(operator_id)
        if pop is None or (call_id is not None and pop.call_id != call_id):
            return False
        del self._current[operator_id]
        return True
