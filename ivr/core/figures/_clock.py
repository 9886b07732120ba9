"""The hotline's local calendar for bucketing: epoch seconds -> local minute, interval, day.

Charts and "since midnight" follow the hotline's local time ([service] timezone), not UTC.
Asking ``tzinfo`` for an offset on every AMI event would cost more than the rest of the event,
so the offset is cached per UTC quarter hour: real time zones change their offset only at
quarter-hour boundaries.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

_SLOT = 900


class LocalCalendar:
    """Maps an epoch time to bucket indexes in local time; ``index * resolution`` is local."""

    __slots__ = ("_offset", "_slot", "tz")

    def __init__(self, tz: tzinfo = UTC) -> None:
        self.tz = tz
        self._slot = -(2**62)
        self._offset = 0.0

    def offset(self, at: float) -> float:
        """Seconds east of UTC of the local time at ``at``."""
        slot = int(at // _SLOT)
        if slot != self._slot:
            delta = datetime.fromtimestamp(slot * _SLOT, tz=self.tz).utcoffset()
            self._offset = delta.total_seconds() if delta is not None else 0.0
            self._slot = slot
        return self._offset

    def index(self, at: float, resolution: int) -> int:
        """The local bucket of ``at``: local midnight is a multiple of every resolution."""
        return int((at + self.offset(at)) // resolution)

    def start(self, index: int, resolution: int) -> float:
        """The epoch time a local bucket starts at (within the hour around a DST change)."""
        local = float(index * resolution)
        return local - self.offset(local - self.offset(local))

    def label(self, index: int, resolution: int) -> datetime:
        """The local, zone-aware start of a bucket, for reports and chart axes."""
        return datetime.fromtimestamp(self.start(index, resolution), tz=self.tz)
