"""Reports per hour or per day and per skill, from call outcomes and survey scores.

Pure aggregation: the storage layer reads ``CallOutcome`` records (the call records
``LiveFigures.apply`` returns, or rows of the call table) and ``SurveyScore`` records for a
period and hands them here. A call is counted in the period it *arrived* in (the usual way
hotline reports read: of the calls that came in between 9:00 and 10:00, how many were answered
within 20 s), which may differ from the wallboard's live figures, counted as things happen.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from ivr.core.figures._clock import LocalCalendar
from ivr.core.figures._counts import (
    DEFAULT_TARGET,
    CallOutcome,
    Counts,
    ServiceTarget,
    Tally,
    Target,
)

MIN_SCORE, MAX_SCORE = 1, 5


class Period(enum.Enum):
    HOUR = 3600
    DAY = 86_400


@dataclass(frozen=True, slots=True)
class SurveyScore:
    """A citizen's rating (1 worst .. 5 best) of a call in ``skill``, given at ``at``."""

    skill: str
    score: int
    at: float

    def __post_init__(self) -> None:
        if not self.skill:
            raise ValueError("skill must not be empty")
        if isinstance(self.score, bool) or not MIN_SCORE <= self.score <= MAX_SCORE:
            raise ValueError(f"score must be {MIN_SCORE}..{MAX_SCORE}, got {self.score!r}")
        if not math.isfinite(self.at):
            raise ValueError(f"at must be finite, got {self.at!r}")


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One skill in one period: calls, derived figures and satisfaction."""

    start: datetime  # local, zone-aware
    period: Period
    skill: str
    target: Target
    counts: Counts
    surveys: int
    score_total: int

    @property
    def satisfaction(self) -> float | None:
        """Average survey score 1..5, None without surveys."""
        return self.score_total / self.surveys if self.surveys else None


@dataclass(frozen=True, slots=True)
class Report:
    """Rows ordered by period start, then skill."""

    period: Period
    rows: tuple[ReportRow, ...]


def build_report(
    calls: Iterable[CallOutcome],
    surveys: Iterable[SurveyScore] = (),
    *,
    period: Period = Period.HOUR,
    targets: Mapping[str, ServiceTarget] | None = None,
    tz: tzinfo = UTC,
) -> Report:
    """Aggregate calls (by arrival) and surveys (by when given) per local ``period`` and skill.

    A period/skill pair appears when it has at least one call or one survey. ``targets``
    gives each skill's service-level threshold (80 % in 20 s without one).
    """
    known = {skill: Target.of(t) for skill, t in (targets or {}).items()}
    calendar = LocalCalendar(tz)
    seconds = period.value
    tallies: dict[tuple[int, str], Tally] = {}
    scores: dict[tuple[int, str], list[int]] = {}
    for call in calls:
        key = (calendar.index(call.arrived_at, seconds), call.skill)
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = Tally()
        call.add_to(tally, known.get(call.skill, DEFAULT_TARGET))
    for survey in surveys:
        key = (calendar.index(survey.at, seconds), survey.skill)
        pair = scores.setdefault(key, [0, 0])
        pair[0] += 1
        pair[1] += survey.score
    rows = []
    for index, skill in sorted(tallies.keys() | scores.keys()):
        tally = tallies.get((index, skill))
        count, total = scores.get((index, skill), (0, 0))
        rows.append(
            ReportRow(
                start=calendar.label(index, seconds),
                period=period,
                skill=skill,
                target=known.get(skill, DEFAULT_TARGET),
                counts=tally.freeze() if tally is not None else Counts(),
                surveys=count,
                score_total=total,
            )
        )
    return Report(period, tuple(rows))


CSV_HEADER = (
    "period_start",
    "skill",
    "offered",
    "answered",
    "answered_in_target",
    "abandoned",
    "service_level_percent",
    "target_percent",
    "target_seconds",
    "abandon_rate_percent",
    "average_speed_of_answer_seconds",
    "average_handle_time_seconds",
    "satisfaction",
    "surveys",
)


def _number(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def to_csv_rows(report: Report) -> list[list[str]]:
    """The header and one row per report row, as strings for ``csv.writer``.

    Times are local ISO 8601 with their offset; a figure that cannot be derived (no answered
    call, no survey) is an empty cell, not 0.
    """
    out = [list(CSV_HEADER)]
    for row in report.rows:
        c = row.counts
        out.append([
            row.start.isoformat(),
            row.skill,
            str(c.offered),
            str(c.answered),
            str(c.answered_in_target),
            str(c.abandoned),
            _number(c.service_level_percent),
            _number(row.target.percent, 0),
            _number(row.target.seconds, 0),
            _number(c.abandon_rate_percent),
            _number(c.average_speed_of_answer),
            _number(c.average_handle_time),
            _number(row.satisfaction, 2),
            str(row.surveys),
        ])
    return out
