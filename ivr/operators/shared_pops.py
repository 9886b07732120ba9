"""Screen pops shared by every node: a pop raised on one node reaches consoles on all of them.

With two nodes, the AMI events that raise an operator's pop may reach node 1 while the
operator's browser is connected to node 2. ``SharedScreenPops`` sits in front of this node's
``ScreenPopHub``: ``publish`` and ``clear`` go over the event bus (channels ``screen_pop`` and
``screen_pop_clear``) and every node, this one included, applies them to its own hub; so
``hub.current(operator)`` and ``hub.subscribe(operator)`` work the same on every node. The
application publishes through this class only, never on the hub directly.

A pop travels as ``ScreenPop.to_dict()`` trimmed by ``ivr.edges.bus.fit``: a long transcript
arrives cut and ending with "…". Pops are live state: one published while a node was not
listening is lost there (see ``ivr.edges.bus``), and a ringing call is over before anyone could
replay it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from ivr.edges.bus import EventBus, fit
from ivr.operators.screen_pops import ScreenPop, ScreenPopHub

log = structlog.get_logger("ivr.operators.shared_pops")

POP_CHANNEL = "screen_pop"
CLEAR_CHANNEL = "screen_pop_clear"
_FIELDS = frozenset(f.name for f in dataclasses.fields(ScreenPop))


def pop_from_dict(data: Mapping[str, Any]) -> ScreenPop:
    """The ``ScreenPop`` of a ``to_dict()`` mapping that travelled as JSON (lists back to
    tuples; keys it does not know, e.g. from a newer node or ``fit``'s marker, ignored).
    ``ValueError`` or ``TypeError`` when it is not a pop."""
    fields = {key: value for key, value in data.items() if key in _FIELDS}
    for name in ("route_reasons", "previous_cases"):
        value = fields.get(name, ())
        if not isinstance(value, list | tuple):
            raise TypeError(f"{name} must be a list, got {type(value).__name__}")
        fields[name] = tuple(value)
    for name, value in fields.items():
        if name not in {"route_reasons", "previous_cases"} and not isinstance(value, str):
            raise TypeError(f"{name} must be text, got {type(value).__name__}")
    for case in fields["previous_cases"]:
        if not isinstance(case, Mapping):
            raise TypeError("previous_cases must hold mappings")
    return ScreenPop(**fields)


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
