"""Cases: the record a citizen's request becomes, its numbers and its lifecycle. Pure.

A case moves ``new -> dispatched -> in_progress -> resolved -> closed``. A step may be skipped,
never taken back, except ``resolved -> in_progress``, which reopens it (the citizen says it is
not resolved). ``CaseStatus.may_become`` is that table; ``change`` applies an edit to a case
and says what its history records.

A case number is what a citizen keys in on the phone: 10 digits, the last digit of the year,
the day of the year, a 5-digit sequence of the day and a Luhn check digit, so the IVR can
refuse a mistyped number before asking the database.

The IVR reads a status back in its own words (``READBACK_STATUSES``), one prompt per word.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from ivr.errors import RecordRefused

# Cases a day a number can tell apart: 5 digits of sequence (Beijing: ~65,000 a day).
MAX_CASES_PER_DAY = 99_999
CASE_NUMBER_LENGTH = 10
READBACK_STATUSES = ("received", "processing", "resolved", "closed", "unknown")
"""What the IVR can say about a case (prompt ``ivr/case-status-<word>``)."""


class CaseStatus(enum.StrEnum):
    """Where a case stands; the order is the lifecycle's."""

    NEW = "new"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @classmethod
    def parse(cls, text: str) -> CaseStatus:
        """The status named ``text``; ``RecordRefused`` for a word that is not one."""
        try:
            return cls(text)
        except ValueError:
            raise RecordRefused(f"unknown case status {text!r}") from None

    @property
    def is_open(self) -> bool:
        """Still being worked on: the citizen waits for an answer."""
        return self in _OPEN

    @property
    def readback(self) -> str:
        """How the IVR reads this status back to a caller (one of ``READBACK_STATUSES``)."""
        return _READBACK[self]

    def may_become(self, wanted: CaseStatus) -> bool:
        """Whether a case in this status may move to ``wanted`` (see the module docstring)."""
        return _ORDER[wanted] > _ORDER[self] or (
            self is CaseStatus.RESOLVED and wanted is CaseStatus.IN_PROGRESS
        )


_ORDER = {status: n for n, status in enumerate(CaseStatus)}
_OPEN = frozenset({CaseStatus.NEW, CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS})
_READBACK = {
    CaseStatus.NEW: "received", CaseStatus.DISPATCHED: "processing",
    CaseStatus.IN_PROGRESS: "processing", CaseStatus.RESOLVED: "resolved",
    CaseStatus.CLOSED: "closed",
}


@dataclass(frozen=True, slots=True)
class Case:
    number: str
    caller: str
    category: str
    status: str
    created_at: str
    updated_at: str
    call_id: str | None = None
    department: str = ""
    description: str = ""
    satisfaction: int | None = None

    @property
    def is_open(self) -> bool:
        """Still being worked on (a status this release does not know is not open)."""
        return self.status in _OPEN

    @property
    def readback(self) -> str:
        """The IVR's word for the case's status ("unknown" for a status it does not know)."""
        known = self.status in _ORDER
        return CaseStatus(self.status).readback if known else "unknown"


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One change to a case: who, when, the status after it, and what was said."""

    number: str
    at: str
    actor: str
    status: str
    note: str


@dataclass(frozen=True, slots=True)
class CaseChange:
    """What an edit changes on a case (``values``: field -> new text) and the note its
    history line carries."""

    values: Mapping[str, str]
    note: str


def change(
    case: Case, fields: Mapping[str, str], status: str | None, note: str
) -> CaseChange | None:
    """The edit of ``case`` to ``fields`` (category, department, description) and ``status``,
    with ``note``; None when it changes nothing and says nothing.

    ``RecordRefused`` when the status may not move that way.
    """
    said = [note.strip()] if note.strip() else []
    values: dict[str, str] = {}
    for name, value in fields.items():
        old = getattr(case, name)
        if value != old:
            values[name] = value
            if name != "description":
                said.append(f"{name}: {old or '-'} -> {value or '-'}")
            else:
                said.append("description changed")
    if status is not None and status != case.status:
        current, wanted = CaseStatus.parse(case.status), CaseStatus.parse(status)
        if not current.may_become(wanted):
            raise RecordRefused(
                f"case {case.number} cannot go from {current} to {wanted} "
                "(cases move new -> dispatched -> in_progress -> resolved -> closed; "
                "only a resolved case can be reopened)"
            )
        values["status"] = wanted.value
        if current is CaseStatus.RESOLVED and wanted is CaseStatus.IN_PROGRESS:
            said.insert(0, "reopened")
    if not values and not said:
        return None
    return CaseChange(values, "; ".join(said))


def case_number(day_of_year: int, year: int, sequence: int) -> str:
    """10 digits: last digit of the year, day of the year, 5-digit sequence, Luhn check digit.

    ``RecordRefused`` when the day has used up its numbers.
    """
    if not 1 <= sequence <= MAX_CASES_PER_DAY:
        raise RecordRefused(f"case sequence {sequence} out of range for one day")
    payload = f"{year % 10}{day_of_year:03d}{sequence:05d}"
    return payload + luhn_check_digit(payload)


def case_number_valid(number: str) -> bool:
    """A case number is 10 digits whose last digit is the Luhn check digit of the first 9."""
    if len(number) != CASE_NUMBER_LENGTH or not number.isdigit():
        return False
    return luhn_check_digit(number[:-1]) == number[-1]


def luhn_check_digit(payload: str) -> str:
    """The Luhn digit that makes ``payload + digit`` pass the Luhn check."""
    total = 0
    # Double every second digit counting from the right of the payload (the check digit
    # will be position 0, so the payload's rightmost digit is doubled).
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)
