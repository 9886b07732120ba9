"""Screen pops on this node's consoles, and shared with every other node.

The application publishes a ``ScreenPop`` (``ivr.core.screen_pops``) when Asterisk offers a
caller to an operator (``AgentCalled``, again at ``AgentConnect``); every console the operator
has open receives it through ``ScreenPopHub.subscribe``. The hub keeps the last pop per
operator so a console opened or reloaded in the middle of the call still shows it, until
``clear`` at the end of the call.

Theory of operation: each subscription owns a bounded ``asyncio.Queue``. ``publish`` never
waits: when a console does not keep up (a frozen browser tab), the oldest pop in its queue is
dropped and counted in ``dropped``, so one slow console cannot hold up the AMI event loop or
the operator's other consoles. No aiohttp here; the web layer turns pops into WebSocket frames.

With two nodes, the AMI events that raise an operator's pop may reach node 1 while the
operator's browser is connected to node 2. ``SharedScreenPops`` sits in front of this node's
hub: ``publish`` and ``clear`` go over the event bus (channels ``screen_pop`` and
``screen_pop_clear``) and every node, this one included, applies them to its own hub; so
``hub.current(operator)`` and ``hub.subscribe(operator)`` work the same on every node. The
application publishes through ``SharedScreenPops`` only, never on the hub directly.

A pop travels as ``ScreenPop.to_dict()`` trimmed by ``ivr.edges.bus.fit``: a long transcript
arrives cut and ending with "…". Pops are live state: one published while a node was not
listening is lost there (see ``ivr.edges.bus``), and a ringing call is over before anyone could
replay it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog

from ivr.core.screen_pops import ScreenPop, pop_from_dict
from ivr.edges.bus import EventBus, fit

log = structlog.get_logger("ivr.operators.screen_pops")

DEFAULT_QUEUE_SIZE = 16
POP_CHANNEL = "screen_pop"
CLEAR_CHANNEL = "screen_pop_clear"


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


class SharedScreenPops:
    """This node's ``hub`` fed by the pops of every node on ``bus``; see the module docstring.

    Subscribes at construction; ``close()`` ends the subscriptions (not the bus or the hub).
    """

    def __init__(self, hub: ScreenPopHub, bus: EventBus) -> None:
        self.hub = hub
        self.bus = bus
        self.rejected = 0
        """Events on the pop channels that were not pops (logged, dropped)."""
        self._unsubscribe: list[Callable[[], None]] = [
            bus.subscribe(POP_CHANNEL, self._pop_arrived),
            bus.subscribe(CLEAR_CHANNEL, self._clear_arrived),
        ]

    async def publish(self, pop: ScreenPop) -> None:
        """Show ``pop`` on the operator's consoles, on every node. This node's hub has it
        when this returns; ``BusError`` when the other nodes could not be reached."""
        await self.bus.publish(POP_CHANNEL, fit(pop.to_dict()))

    async def clear(self, operator_id: str, call_id: str | None = None) -> None:
        """``ScreenPopHub.clear`` on every node (the call ended)."""
        await self.bus.publish(CLEAR_CHANNEL, {"operator_id": operator_id, "call_id": call_id})

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def _pop_arrived(self, payload: dict[str, Any]) -> None:
        try:
            pop = pop_from_dict(payload)
        except (TypeError, ValueError) as exc:
            self.rejected += 1
            log.warning("screen_pop_rejected", error=str(exc))
            return
        self.hub.publish(pop)

    def _clear_arrived(self, payload: dict[str, Any]) -> None:
        operator_id, call_id = payload.get("operator_id"), payload.get("call_id")
        if not isinstance(operator_id, str) or not (call_id is None or isinstance(call_id, str)):
            self.rejected += 1
            log.warning("screen_pop_clear_rejected")
            return
        self.hub.clear(operator_id, call_id)
