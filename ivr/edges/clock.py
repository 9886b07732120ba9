"""The clock: the one place the shell asks what time it is.

The composition root hands one ``Clock`` to every part that needs the time; the core is given
``now`` as an argument and never asks. ``SystemClock`` reads the system's clock; ``FakeClock``
is the in-memory one for tests (it moves when advanced by hand). Durations and deadlines (how long
an AGI command took, when to give up waiting) use ``time.monotonic`` where they are measured:
they are not the time of day.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, tzinfo
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch (what AMI event times and live figures use)."""
        ...

    def now(self, tz: tzinfo = UTC) -> datetime:
        """The current moment, aware, in ``tz``."""
        ...


class SystemClock:
    """The system's clock."""

    def time(self) -> float:
        return time.time()

    def now(self, tz: tzinfo = UTC) -> datetime:
        return datetime.now(tz)


SYSTEM_CLOCK = SystemClock()


class FakeClock:
    """A clock that moves only when told (``advance``)."""

    def __init__(self, at: datetime | float = 0.0) -> None:
        self._at = at.timestamp() if isinstance(at, datetime) else float(at)

    def time(self) -> float:
        return self._at

    def now(self, tz: tzinfo = UTC) -> datetime:
        return datetime.fromtimestamp(self._at, tz)

    def advance(self, seconds: float) -> None:
        self._at += seconds
