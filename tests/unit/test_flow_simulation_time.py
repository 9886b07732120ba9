"""When a simulated call arrives: the given local time, else the clock's now, in the hotline's
time zone (``ivr flow simulate``, the admin pages)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ivr import settings
from ivr.edges.clock import FakeClock
from ivr.flows.simulation import arrival_facts, call_time

CFG = settings.load()
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_without_a_time_the_call_arrives_now_in_the_hotlines_zone() -> None:
    """No --at: the clock's now, read in Asia/Shanghai."""
    clock = FakeClock(datetime(2026, 12, 18, 15, 0, tzinfo=UTC))
    now = call_time(CFG, None, clock)
    assert (now.hour, now.tzinfo) == (23, SHANGHAI)
    clock.advance(3600)
    assert call_time(CFG, None, clock).hour == 0


def test_a_given_time_is_local() -> None:
    """--at 2026-12-18T23:00 is 23:00 in the hotline's zone; not a time: ValueError."""
    assert call_time(CFG, "2026-12-18T23:00", FakeClock()) == datetime(
        2026, 12, 18, 23, 0, tzinfo=SHANGHAI)
    with pytest.raises(ValueError):  # noqa: PT011 - datetime's own error
        call_time(CFG, "yesterday", FakeClock())


def test_facts_follow_the_schedules_at_that_time() -> None:
    """A Friday night call finds the daytime schedules closed."""
    night = call_time(CFG, "2026-12-18T23:00", FakeClock())
    facts = arrival_facts(CFG, caller="13800138000", language="zh", now=night,
                          speech_available=False)
    assert facts.now == night
    assert facts.open_schedules == CFG.schedules.open_at(night)
    assert not facts.speech_available
