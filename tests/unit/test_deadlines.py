"""Deadlines (``ivr.core.deadlines``): working days with holidays and make-up days (调休),
per category and urgency; where a case stands against them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ivr import settings
from ivr.core.deadlines import Deadline, DeadlinePolicy, WorkingCalendar, standing
from tests.unit.test_settings import CONFIG

TZ = ZoneInfo("Asia/Shanghai")
SPRING = WorkingCalendar(
    holidays=frozenset({date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18)}),
    make_up_days=frozenset({date(2026, 2, 14)}),
)


def at(day: int, hour: int = 10, month: int = 2) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TZ)


@pytest.mark.parametrize(("start", "days", "due"), [
    (at(9), 1, at(11, 0)),          # Monday: due at midnight after Tuesday
    (at(13), 1, at(15, 0)),         # Friday: Saturday the 14th is worked (调休)
    (at(14), 1, at(20, 0)),         # the 16th-18th are holidays: Thursday the 19th
    (at(13), 3, at(21, 0)),         # Sat 14 (make-up), Thu 19, Fri 20
    (at(20), 1, at(24, 0)),         # a plain weekend: Monday the 23rd
])
def test_working_days_skip_weekends_and_holidays_and_count_make_up_days(
        start: datetime, days: int, due: datetime) -> None:
    assert SPRING.end_of_working_days(start, days) == due


def test_deadlines_per_category_and_urgency() -> None:
    """An urgent case must be answered in hours; a category may have its own rules."""
    policy = DeadlinePolicy(
        defaults={"urgent": Deadline(2, resolve_hours=24), "normal": Deadline(24, 15)},
        categories={"utilities": {"normal": Deadline(12, 5)}}, calendar=SPRING,
    )
    urgent = policy.due("environment", "urgent", at(13))
    assert (urgent.respond_by, urgent.resolve_by) == (
        "2026-02-13T12:00:00+08:00", "2026-02-14T10:00:00+08:00")
    utilities = policy.due("utilities", "normal", at(13))
    assert utilities.respond_by == "2026-02-13T22:00:00+08:00"
    assert utilities.resolve_by == "2026-02-25T00:00:00+08:00"  # 14, 19, 20, 23, 24
    # 'utilities' has no urgent rule of its own: the default urgent one applies.
    assert policy.due("utilities", "urgent", at(13)).resolve_by == "2026-02-14T10:00:00+08:00"


def test_the_shipped_rules_use_the_shipped_holidays() -> None:
    """config/deadlines.yaml takes its holidays from schedules.yaml's calendar."""
    cfg = settings.load(CONFIG)
    assert cfg.deadlines.calendar.is_working_day(date(2026, 2, 14))  # 调休 Saturday
    assert not cfg.deadlines.calendar.is_working_day(date(2026, 10, 1))
    due = cfg.deadlines.due("environment", "normal", at(13))
    assert due.resolve_by == "2026-03-10T00:00:00+08:00"


def test_a_case_past_its_deadline_is_overdue_and_a_resolved_one_never() -> None:
    due = DeadlinePolicy(calendar=SPRING).due("environment", "normal", at(2))
    fields = {"respond_by": due.respond_by, "resolve_by": due.resolve_by,
              "remind_at": due.remind_at}
    start = at(2)
    assert not standing("dispatched", start, responded_at=None, **fields).flagged
    late_reply = standing("dispatched", start + timedelta(hours=25), responded_at=None,
                          **fields)
    assert late_reply.word == "respond_overdue"
    answered = standing("in_progress", start + timedelta(hours=25), responded_at="x", **fields)
    assert not answered.flagged
    remind = datetime.fromisoformat(due.remind_at)
    assert standing("in_progress", remind, responded_at="x", **fields).word == "nearly_due"
    resolve = datetime.fromisoformat(due.resolve_by)
    assert standing("in_progress", resolve, responded_at="x", **fields).word == "overdue"
    for stopped in ("resolved", "returned", "closed"):
        assert not standing(stopped, resolve, responded_at=None, **fields).flagged
