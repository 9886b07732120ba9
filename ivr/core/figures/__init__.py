"""Live figures, Erlang C staffing and reports for the hotline's skills: pure, no I/O.

No asyncio, no clock: the shell passes the time in (epoch seconds when an AMI event was
received) and feeds AMI events as ``ivr.core.protocols.ami.AmiEvent``. The public surface:

* live: ``LiveFigures`` (``apply(event, at)``, ``load_snapshot(QueueStatus messages, at)``
  after every AMI reconnect, ``figures(skill, now)``, ``history(skill, now)``),
  ``SkillFigures``, ``OperatorCounts``, ``IntervalFigures``, ``SnapshotLoaded``;
* counts: ``Counts`` (service level, abandon rate, ASA, AHT), ``Target``, ``CallOutcome``,
  ``Outcome``;
* staffing: ``erlang_b``, ``erlang_c``, ``service_level``, ``average_speed_of_answer``,
  ``agents_needed``, ``staffing_hint_for``, ``StaffingHint``;
* ``/metrics``: ``skill_families(all_figures, ignored)``, ``Family``;
* reports: ``build_report``, ``Report``, ``ReportRow``, ``Period``, ``SurveyScore``,
  ``to_csv_rows``.
"""

from ivr.core.figures._counts import (
    DEFAULT_TARGET,
    CallOutcome,
    Counts,
    Outcome,
    ServiceTarget,
    Target,
)
from ivr.core.figures._erlang import (
    StaffingHint,
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    service_level,
    staffing_hint_for,
)
from ivr.core.figures._live import (
    WRAP_UP_PAUSE_REASONS,
    IntervalFigures,
    LiveFigures,
    MemberState,
    OperatorCounts,
    SkillFigures,
    SnapshotLoaded,
)
from ivr.core.figures._metrics import Family, Kind, skill_families
from ivr.core.figures._reports import (
    CSV_HEADER,
    MAX_SCORE,
    MIN_SCORE,
    Period,
    Report,
    ReportRow,
    SurveyScore,
    build_report,
    to_csv_rows,
)

__all__ = [
    "CSV_HEADER",
    "DEFAULT_TARGET",
    "MAX_SCORE",
    "MIN_SCORE",
    "WRAP_UP_PAUSE_REASONS",
    "CallOutcome",
    "Counts",
    "Family",
    "IntervalFigures",
    "Kind",
    "LiveFigures",
    "MemberState",
    "OperatorCounts",
    "Outcome",
    "Period",
    "Report",
    "ReportRow",
    "ServiceTarget",
    "SkillFigures",
    "SnapshotLoaded",
    "StaffingHint",
    "SurveyScore",
    "Target",
    "agents_needed",
    "average_speed_of_answer",
    "build_report",
    "erlang_b",
    "erlang_c",
    "service_level",
    "skill_families",
    "staffing_hint_for",
    "to_csv_rows",
]
