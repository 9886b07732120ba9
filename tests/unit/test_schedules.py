"""Business hours and holiday calendars: open or closed at an instant, problems reported."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import yaml

from ivr import settings
from ivr.core.schedules import parse

CFG = settings.load()


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        (datetime(2026, 12, 18, 10, 0), {"housing_bureau", "utilities_emergency"}),  # Friday
        (datetime(2026, 12, 18, 12, 30), {"utilities_emergency"}),  # lunch break
        (datetime(2026, 12, 18, 23, 0), {"utilities_emergency"}),   # night
        (datetime(2026, 12, 19, 10, 0), {"utilities_emergency"}),   # Saturday
        (datetime(2026, 10, 1, 10, 0), {"utilities_emergency"}),    # National Day, a Thursday
        (datetime(2026, 12, 21, 9, 0), {"housing_bureau", "utilities_emergency"}),  # opening
        (datetime(2026, 12, 21, 17, 30), {"utilities_emergency"}),  # closing time is closed
    ],
)
def test_open_at(when: datetime, open_: set[str]) -> None:
    """Windows, weekdays and holidays decide what is open."""
    assert CFG.schedules.open_at(when) == open_


def test_holidays_on() -> None:
    """A calendar names the days it contains."""
    assert CFG.schedules.holidays_on(date(2026, 10, 1)) == {"cn_public_holidays"}
    assert CFG.schedules.holidays_on(date(2026, 10, 3)) == frozenset()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schedules: {a: {hours: {mon: ['09:00-12:00', '11:00-13:00']}}}", "windows overlap"),
        ("schedules: {a: {hours: {}}}", "no opening hours"),
        ("schedules: {a: {hours: {mon: ['12:00-09:00']}}}", "ends before it starts"),
        ("schedules: {a: {hours: {funday: ['09:00-10:00']}}}", "day must be one of"),
        ("schedules: {a: {hours: {mon: ['9-10']}}}", "HH:MM-HH:MM"),
        ("schedules: {a: {hours: {mon: ['09:00-10:00']}, closed_on: [nope]}}", "unknown calendar"),
        ("calendars: {x: [not-a-date]}", "list of dates"),
    ],
)
def test_problems(text: str, message: str) -> None:
    """Each mistake in schedules.yaml is named with its key."""
    _, problems = parse(yaml.safe_load(text), "schedules.yaml")
    assert any(message in p.reason for p in problems), problems
