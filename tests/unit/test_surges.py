"""The surge signal's rule (pure): the usual rate from the same window of past weeks, the
minimum count, the factor and the floor."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ivr.core.surges import SurgeRule, surges, windows

RULE = SurgeRule(window_minutes=60, weeks=4, factor=3.0, min_count=5, floor=1.0)
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Monday


def test_windows_are_the_last_hour_and_the_same_hour_of_past_weeks():
    spans = windows(NOW, RULE)
    assert len(spans) == 5
    assert spans[0] == (NOW - timedelta(hours=1), NOW)
    assert spans[4] == (NOW - timedelta(hours=1, weeks=4), NOW - timedelta(weeks=4))
    assert all(start.weekday() == 0 and start.hour == 9 for start, _ in spans)


@pytest.mark.parametrize(("counts", "surging"), [
    ([12, 2, 3, 2, 1], True),    # usual 2: 12 >= 6
    ([5, 2, 2, 2, 2], False),    # usual 2: 5 < 6
    ([6, 2, 2, 2, 2], True),     # exactly 3 times
    ([4, 0, 0, 0, 0], False),    # under the minimum count, however rare
    ([5, 0, 0, 0, 0], True),     # the floor (1): 5 >= 3
    ([25, 10, 12, 8, 10], False),  # a busy place near its usual level (10)
    ([0], False),
])
def test_surge_decision(counts, surging):
    found = surges({("environment", "ronghua"): counts}, RULE, "since")
    assert bool(found) is surging


def test_strongest_first_with_usual_rate_and_ratio():
    found = surges({("environment", "ronghua"): [12, 2, 2, 2, 2],
                    ("utilities", "boxing"): [9, 0, 0, 0, 0]}, RULE, "2026-12-07T09:00")
    assert [(s.category, s.count, s.usual, s.ratio) for s in found] == [
        ("utilities", 9, 0.0, 9.0), ("environment", 12, 2.0, 6.0)]
    assert found[0].since == "2026-12-07T09:00"


def test_a_stricter_rule_flags_less():
    counts = {("traffic", "majuqiao"): [8, 2, 2, 2, 2]}
    assert surges(counts, RULE, "")
    assert not surges(counts, SurgeRule(factor=5.0), "")
    assert not surges(counts, SurgeRule(min_count=10), "")
