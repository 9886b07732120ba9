"""Deadlines of a dispatched case: respond within hours, resolve within working days. Pure.

Theory of operation. ``config/deadlines.yaml`` gives, per urgency and optionally per
category, how long a department has: ``respond_hours`` (clock hours from dispatch to its
first response: accepting, asking or resolving) and ``resolve_working_days`` (or
``resolve_hours`` for cases that cannot wait for working days). A resolve deadline of N
working days ends at midnight after the N-th working day following the day of dispatch; a
working day is Monday to Friday unless it is a public holiday (a calendar of
``schedules.yaml``), and any make-up working day (调休, a Saturday or Sunday worked instead of a
holiday) is one too. The deadlines are computed once, when the case is dispatched (or
reopened), and stored with it, so a later edit of the rules never moves a deadline a
department was given. A case is *nearly due* once less than ``nearly_due_share`` of its
resolve window is left (``remind_at``): its department gets one reminder in the history. It is
*overdue* past a deadline it has not met, and escalated to the supervisors (once) when it has
been overdue for ``escalate_after_hours``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

URGENCIES = ("urgent", "normal")
MAX_WORKING_DAYS = 365


@dataclass(frozen=True, slots=True)
class Deadline:
    """How long a department has for one kind of case."""

    respond_hours: float
    resolve_working_days: int = 0
    resolve_hours: float = 0.0  # when set, the resolve deadline is in clock hours


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    holidays: frozenset[date] = frozenset()
    make_up_days: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def end_of_working_days(self, start: datetime, days: int) -> datetime:
        """Midnight after the ``days``-th working day following ``start``'s day (in
        ``start``'s time zone)."""
        day = start.date()
        counted = 0
        for _ in range(MAX_WORKING_DAYS * 3):
            if counted >= days:
                break
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime.combine(day + timedelta(days=1), time(), start.tzinfo)


@dataclass(frozen=True, slots=True)
class Due:
    """A case's deadlines, as the store keeps them (ISO text in the hotline's time)."""

    respond_by: str
    resolve_by: str
    remind_at: str


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    defaults: Mapping[str, Deadline] = field(default_factory=lambda: {
        "urgent": Deadline(2.0, resolve_hours=24.0), "normal": Deadline(24.0, 15)})
    categories: Mapping[str, Mapping[str, Deadline]] = field(default_factory=dict)
    calendar: WorkingCalendar = WorkingCalendar()
    nearly_due_share: float = 0.2
    escalate_after_hours: float = 0.0

    def deadline(self, category: str, urgency: str) -> Deadline:
        kind = urgency if urgency in URGENCIES else "normal"
        own = self.categories.get(category, {})
        return own.get(kind) or self.defaults.get(kind) or self.defaults["normal"]

    def due(self, category: str, urgency: str, start: datetime) -> Due:
        """The deadlines of a case of ``category`` and ``urgency`` dispatched at ``start``."""
        rule = self.deadline(category, urgency)
        respond = start + timedelta(hours=rule.respond_hours)
        if rule.resolve_hours:
            resolve = start + timedelta(hours=rule.resolve_hours)
        else:
            resolve = self.calendar.end_of_working_days(start, rule.resolve_working_days)
        remind = resolve - (resolve - start) * self.nearly_due_share
        return Due(_text(respond), _text(resolve), _text(remind))


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a case stands against its deadlines at one moment."""

    respond_overdue: bool = False
    overdue: bool = False
    nearly_due: bool = False

    @property
    def flagged(self) -> bool:
        return self.respond_overdue or self.overdue or self.nearly_due

    @property
    def word(self) -> str:
        """``overdue``, ``respond_overdue``, ``nearly_due`` or ``""``."""
        return ("overdue" if self.overdue else "respond_overdue" if self.respond_overdue
                else "nearly_due" if self.nearly_due else "")


_WORKED = frozenset({"dispatched", "in_progress"})


def standing(
    status: str, now: datetime, *, respond_by: str | None, resolve_by: str | None,
    remind_at: str | None, responded_at: str | None,
) -> Standing:
    """Whether a case being worked is overdue (to respond or to resolve) or nearly due at
    ``now``. Resolved, returned and closed cases are never flagged: the clock stopped."""
    if status not in _WORKED:
        return Standing()
    respond_late = (respond_by is not None and responded_at is None
                    and now >= datetime.fromisoformat(respond_by))
    late = resolve_by is not None and now >= datetime.fromisoformat(resolve_by)
    nearly = (not late and remind_at is not None
              and now >= datetime.fromisoformat(remind_at))
    return Standing(respond_late, late, nearly)


def _text(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class FlaggedCase:
    """A case being worked that is overdue or nearly due, as the supervisors see it."""

    number: str
    department: str
    category: str
    status: str
    word: str  # overdue | respond_overdue | nearly_due
    respond_by: str | None
    resolve_by: str | None
    escalated: bool


@dataclass(frozen=True, slots=True)
class CaseAlerts:
    """The cases being worked against their deadlines at ``at``: how many are overdue (to
    resolve; to respond), nearly due, escalated, and the most urgent of them."""

    at: str = ""
    overdue: int = 0
    respond_overdue: int = 0
    nearly_due: int = 0
    escalated: int = 0
    cases: tuple[FlaggedCase, ...] = ()
