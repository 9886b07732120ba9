"""The surge signal: cases of one category in one place rising well above their usual rate. Pure.

Every check looks at the last ``window`` (an hour by default) before now, and counts the cases
filed in it per (category, place): the place is the street or town the caller named
(``Case.place``), so cases that named none are not counted. The **usual rate** of a pair is
the mean of its counts in the same window of the day, on the same weekday, over the past
``weeks`` weeks (Monday 09:00-10:00 is compared with the previous Mondays 09:00-10:00): the
hotline's load follows the hour and the weekday. A pair **surges** when its count is at least
``min_count`` and at least ``factor`` times its usual rate, the usual rate being taken as
``floor`` when it is lower (a pair that had no case in the past weeks does not surge on its
second case). Merged duplicates count: each is a citizen reporting the problem.

``SurgeRule`` is ``[surges]`` of ``ivr.toml``; ``windows`` gives the moments to count and
``surges`` decides from the counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

Pair = tuple[str, str]  # (category, place)


@dataclass(frozen=True, slots=True)
class SurgeRule:
    window_minutes: int = 60
    weeks: int = 4
    factor: float = 3.0
    min_count: int = 5
    floor: float = 1.0
    check_interval: float = 60.0

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


@dataclass(frozen=True, slots=True)
class Surge:
    category: str
    place: str
    count: int  # cases in the window now
    usual: float  # mean of the same window over the past weeks
    since: str  # the window's start (ISO)
    basis: float = 1.0  # the usual rate, or the rule's floor when that is higher

    @property
    def ratio(self) -> float:
        """How many times the usual rate (the floor when the usual rate is lower)."""
        return self.count / self.basis if self.basis else float(self.count)


def windows(now: datetime, rule: SurgeRule) -> list[tuple[datetime, datetime]]:
    """[start, end) of the window before ``now`` (first), then the same window 1, 2, ...
    ``weeks`` weeks earlier."""
    return [(now - rule.window - timedelta(weeks=k), now - timedelta(weeks=k))
            for k in range(rule.weeks + 1)]


def surges(
    counts: Mapping[Pair, Sequence[int]], rule: SurgeRule, since: str,
) -> list[Surge]:
    """The pairs surging, strongest first. ``counts``: per pair, its count in each window of
    ``windows`` (now first; missing weeks count 0)."""
    found = []
    for (category, place), per_window in counts.items():
        now_count = per_window[0] if per_window else 0
        if now_count < rule.min_count:
            continue
        past = list(per_window[1:rule.weeks + 1])
        usual = sum(past) / rule.weeks if rule.weeks else 0.0
        if now_count >= rule.factor * max(usual, rule.floor):
            found.append(Surge(category, place, now_count, round(usual, 2), since,
                               max(usual, rule.floor)))
    found.sort(key=lambda s: (-s.ratio, -s.count, s.category, s.place))
    return found
