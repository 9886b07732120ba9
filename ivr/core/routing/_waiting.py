"""The waiting line of a skill: who is next, and how long a caller should expect to wait.

A caller who asks for a callback leaves Asterisk's queue but not the line: the
``WaitingCallback`` keeps the arrival time and priority the call had, and ``line_for``
orders live calls and callbacks together by (priority desc, arrival asc). So a callback
neither loses its place (re-queued at the back) nor jumps it (served before callers who were
already waiting when it arrived).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ivr.core.routing._model import check_time


@dataclass(frozen=True, slots=True)
class WaitingCall:
    """A live call waiting in ``skill``'s queue since ``arrived_at`` with ``priority``."""

    call_id: str
    skill: str
    priority: int
    arrived_at: float

    def __post_init__(self) -> None:
        check_time("arrived_at", self.arrived_at)

    def to_callback(self, requested_at: float, callback_number: str) -> WaitingCallback:
        """The callback this caller asked for at ``requested_at``, keeping their place."""
        return WaitingCallback(
            call_id=self.call_id,
            skill=self.skill,
            priority=self.priority,
            arrived_at=self.arrived_at,
            requested_at=requested_at,
            callback_number=callback_number,
        )


@dataclass(frozen=True, slots=True)
class WaitingCallback:
    """A caller to be called back; ``arrived_at`` is their original arrival in ``skill``.

    ``requested_at`` (when they pressed 1) is kept for the record only: it never moves
    the request in the line.
    """

    call_id: str
    skill: str
    priority: int
    arrived_at: float
    requested_at: float
    callback_number: str

    def __post_init__(self) -> None:
        check_time("arrived_at", self.arrived_at)
        check_time("requested_at", self.requested_at)
        if self.requested_at < self.arrived_at:
            raise ValueError(f"{self.call_id}: callback requested before the call arrived")
        if not self.callback_number:
            raise ValueError(f"{self.call_id}: callback_number must not be empty")


InLine = WaitingCall | WaitingCallback


def _place(entry: InLine) -> tuple[int, float, str]:
    # The call id breaks exact ties so the order never depends on input order.
    return (-entry.priority, entry.arrived_at, entry.call_id)


def line_for(
    waiting_calls: Iterable[WaitingCall], callbacks: Iterable[WaitingCallback], skill: str
) -> tuple[InLine, ...]:
    """``skill``'s line, first to be served first: priority desc, then arrival asc."""
    entries: list[InLine] = [c for c in waiting_calls if c.skill == skill]
    entries.extend(c for c in callbacks if c.skill == skill)
    entries.sort(key=_place)
    return tuple(entries)


def next_in_line(
    waiting_calls: Iterable[WaitingCall], callbacks: Iterable[WaitingCallback], skill: str
) -> InLine | None:
    """Who ``skill``'s next free operator should serve, live call or callback; None if nobody."""
    entries: list[InLine] = [c for c in waiting_calls if c.skill == skill]
    entries.extend(c for c in callbacks if c.skill == skill)
    return min(entries, key=_place, default=None)


def expected_wait(position: int, agents: int, avg_handle_time: float) -> float | None:
    """Seconds a caller at ``position`` (1 = next) should expect to wait; None if unknowable.

    ``agents`` counts operators staffing the skill (available, on a call or wrapping up).
    With all of them busy and handle times roughly exponential, one frees up every
    ``avg_handle_time / agents`` seconds on average, and the caller is served when
    ``position`` of them have: ``position * avg_handle_time / agents``. With nobody staffing
    the skill there is no honest estimate, and None tells the flow to say so instead.
    """
    if position < 1:
        raise ValueError(f"position starts at 1, got {position}")
    if not math.isfinite(avg_handle_time) or avg_handle_time < 0:
        raise ValueError(f"avg_handle_time must be >= 0 seconds, got {avg_handle_time!r}")
    if agents <= 0:
        return None
    return position * avg_handle_time / agents
