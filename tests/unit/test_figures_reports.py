"""Reports per hour and day per skill, and their CSV rows."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ivr.core.figures import (
    CSV_HEADER,
    CallOutcome,
    Outcome,
    Period,
    SurveyScore,
    Target,
    build_report,
    to_csv_rows,
)

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
BEIJING = ZoneInfo("Asia/Shanghai")
TARGETS = {"report": Target(80, 20), "inquiry": Target(90, 30)}


def answered(skill: str, at: float, wait: float, talk: float = 100, wrap: float = 20
             ) -> CallOutcome:
    return CallOutcome(skill, at, Outcome.ANSWERED, wait, talk, wrap)


def abandoned(skill: str, at: float, wait: float) -> CallOutcome:
    return CallOutcome(skill, at, Outcome.ABANDONED, wait)


CALLS = [
    answered("report", T0 + 10, 5),
    answered("report", T0 + 20, 25, talk=200, wrap=40),
    abandoned("report", T0 + 30, 60),
    CallOutcome("report", T0 + 40, Outcome.LEFT, 300),
    answered("inquiry", T0 + 50, 25),
    answered("report", T0 + 3600, 1),
]
SURVEYS = [
    SurveyScore("report", 5, T0 + 200),
    SurveyScore("report", 4, T0 + 300),
    SurveyScore("suggestion", 2, T0 + 400),
]


def test_hourly_report_per_skill() -> None:
    """Each hour and skill gets offered, answered, abandoned, SL, ASA, AHT and satisfaction."""
    report = build_report(CALLS, SURVEYS, period=Period.HOUR, targets=TARGETS)
    rows = {(r.start.timestamp() - T0, r.skill): r for r in report.rows}
    assert list(rows) == [(0, "inquiry"), (0, "report"), (0, "suggestion"), (3600, "report")]
    first = rows[(0, "report")]
    c = first.counts
    assert (c.offered, c.answered, c.abandoned, c.answered_in_target) == (4, 2, 1, 1)
    assert c.service_level_percent == pytest.approx(100 / 3)
    assert c.average_speed_of_answer == 15.0
    assert c.average_handle_time == 180.0
    assert first.satisfaction == 4.5
    assert rows[(0, "inquiry")].counts.service_level_percent == 100.0  # 25 s within 30 s
    assert rows[(0, "suggestion")].counts.offered == 0
    assert rows[(0, "suggestion")].satisfaction == 2.0
    assert rows[(3600, "report")].satisfaction is None


def test_daily_report_in_local_days() -> None:
    """Days are the hotline's local days: 15:59 and 16:00 UTC are different days in Beijing."""
    calls = [answered("report", T0 + 16 * 3600 - 1, 5), answered("report", T0 + 16 * 3600, 5)]
    report = build_report(calls, period=Period.DAY, targets=TARGETS, tz=BEIJING)
    assert [(r.start, r.counts.offered) for r in report.rows] == [
        (datetime(2026, 1, 1, tzinfo=BEIJING), 1),
        (datetime(2026, 1, 2, tzinfo=BEIJING), 1),
    ]


def test_unanswered_call_in_progress_counts_as_answered_not_handled() -> None:
    """A call answered but not yet completed counts for SL and ASA, not for AHT."""
    live = CallOutcome("report", T0, Outcome.ANSWERED, 10, completed=False)
    c = build_report([live], targets=TARGETS).rows[0].counts
    assert (c.answered, c.completed, c.average_handle_time) == (1, 0, None)


def test_csv_rows_header_and_values() -> None:
    """CSV rows start with the header; derivable figures are formatted, others left empty."""
    rows = to_csv_rows(build_report(CALLS, SURVEYS, targets=TARGETS, tz=BEIJING))
    assert rows[0] == list(CSV_HEADER)
    by_skill = {(row[0], row[1]): dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    report = by_skill[("2026-01-01T08:00:00+08:00", "report")]
    assert report == {
        "period_start": "2026-01-01T08:00:00+08:00", "skill": "report", "offered": "4",
        "answered": "2", "answered_in_target": "1", "abandoned": "1",
        "service_level_percent": "33.3", "target_percent": "80", "target_seconds": "20",
        "abandon_rate_percent": "33.3", "average_speed_of_answer_seconds": "15.0",
        "average_handle_time_seconds": "180.0", "satisfaction": "4.50", "surveys": "2",
    }
    quiet = by_skill[("2026-01-01T08:00:00+08:00", "suggestion")]
    assert (quiet["service_level_percent"], quiet["average_handle_time_seconds"]) == ("", "")


def test_csv_rows_round_trip_through_csv_module() -> None:
    """The rows write and read back unchanged with the csv module."""
    rows = to_csv_rows(build_report(CALLS, SURVEYS, targets=TARGETS))
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == rows


def test_empty_report_is_just_the_header() -> None:
    """No calls and no surveys: a header and nothing else."""
    assert to_csv_rows(build_report([])) == [list(CSV_HEADER)]


@pytest.mark.parametrize("score", [0, 6, True])
def test_survey_score_outside_scale_refused(score: int) -> None:
    """Scores are 1..5; anything else is refused when the record is made."""
    with pytest.raises(ValueError, match="score"):
        SurveyScore("report", score, T0)


@pytest.mark.parametrize(
    "fields",
    [{"wait_seconds": -1.0}, {"arrived_at": float("nan")}, {"skill": ""}],
)
def test_call_outcome_validated(fields: dict[str, object]) -> None:
    """A call record with an empty skill, a negative wait or a NaN time is refused."""
    base: dict[str, object] = {
        "skill": "report", "arrived_at": T0, "outcome": Outcome.ANSWERED, "wait_seconds": 1.0,
    }
    with pytest.raises(ValueError, match="must"):
        CallOutcome(**{**base, **fields})  # type: ignore[arg-type]
