"""Business hours and holiday calendars (``config/schedules.yaml``), pure.

``parse`` checks the file and returns every problem (overlapping windows on a day, a window
that ends before it starts, a schedule with no hours at all, an unknown calendar); ``open_at``
and ``holidays_on`` answer for one instant, so the flow engine never reads a clock.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ivr.errors import ConfigProblem

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    description: str
    # weekday (0 = Monday) -> (start minute, end minute) windows, sorted
    hours: Mapping[int, tuple[tuple[int, int], ...]]
    closed_on: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Schedules:
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    calendars: Mapping[str, frozenset[date]] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        """Every name a flow may use: schedules and calendars."""
        return frozenset(self.schedules) | frozenset(self.calendars)

    def holidays_on(self, day: date) -> frozenset[str]:
        return frozenset(name for name, days in self.calendars.items() if day in days)

    def open_at(self, when: datetime) -> frozenset[str]:
        holidays = self.holidays_on(when.date())
        minute = when.hour * 60 + when.minute
        return frozenset(
            s.name for s in self.schedules.values()
            if not holidays & set(s.closed_on)
            and any(a <= minute < b for a, b in s.hours.get(when.weekday(), ()))
        )


def parse(raw: Any, file: str) -> tuple[Schedules, list[ConfigProblem]]:
    problems: list[ConfigProblem] = []

    def add(key: str, reason: str) -> None:
        problems.append(ConfigProblem(file, key, reason))

    if raw is None:
        return Schedules(), problems
    if not isinstance(raw, Mapping):
        add("-", "must be a mapping with 'schedules' and 'calendars'")
        return Schedules(), problems
    calendars: dict[str, frozenset[date]] = {}
    for name, days in (raw.get("calendars") or {}).items():
        if not isinstance(days, list) or not all(isinstance(d, date) for d in days):
            add(f"calendars.{name}", "must be a list of dates (YYYY-MM-DD)")
            continue
        calendars[str(name)] = frozenset(days)
    schedules: dict[str, Schedule] = {}
    for name, item in (raw.get("schedules") or {}).items():
        where = f"schedules.{name}"
        if not isinstance(item, Mapping):
            add(where, "must be a mapping")
            continue
        hours: dict[int, tuple[tuple[int, int], ...]] = {}
        for day, windows in (item.get("hours") or {}).items():
            if day not in DAYS:
                add(f"{where}.hours.{day}", f"day must be one of {', '.join(DAYS)}")
                continue
            spans = []
            for window in windows if isinstance(windows, list) else [windows]:
                m = _WINDOW.match(str(window))
                if not m:
                    add(f"{where}.hours.{day}", f"window must be HH:MM-HH:MM, got {window!r}")
                    continue
                a = int(m.group(1)) * 60 + int(m.group(2))
                b = int(m.group(3)) * 60 + int(m.group(4))
                if b <= a or b > 24 * 60:
                    add(f"{where}.hours.{day}", f"window {window} ends before it starts")
                    continue
                spans.append((a, b))
            spans.sort()
            for (_, end), (start, _) in itertools.pairwise(spans):
                if start < end:
                    add(f"{where}.hours.{day}", "windows overlap")
            hours[DAYS.index(day)] = tuple(spans)
        if not any(hours.values()):
            add(f"{where}.hours", "no opening hours at all (missing windows)")
        closed_on = tuple(str(c) for c in item.get("closed_on") or ())
        for cal in closed_on:
            if cal not in calendars:
                add(f"{where}.closed_on", f"unknown calendar {cal!r}")
        schedules[str(name)] = Schedule(
            str(name), str(item.get("description", "")), hours, closed_on
        )
    return Schedules(schedules, calendars), problems
