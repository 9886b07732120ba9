"""Reports for supervisors: ``/reports`` (page) and ``/reports.csv`` (download).

A report covers whole local days ``from``..``to`` (the hotline's time zone), per hour or per
day and per skill: offered, answered, abandoned, service level against the skill's target,
average speed of answer, average handle time and satisfaction (survey scores), aggregated by
``ivr.core.figures.build_report`` from the call records of the period.
A call counts in the period it arrived in. Below it, the quality review per operator
(``ivr.web.quality``: answered calls, reviewed calls, average score, passed, the most missed
checklist item) and cases by category and status.

``/reports.csv?from=...&to=...&period=hour|day`` has the same rows (``kind=cases`` gives the
case counts instead, ``kind=quality`` the quality per operator of the days). Cells a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return) are prefixed with ``'``.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from ivr.core.cases import CaseStatus
from ivr.core.figures import (
    MAX_SCORE,
    MIN_SCORE,
    CallOutcome,
    Outcome,
    Period,
    Report,
    SurveyScore,
    build_report,
    to_csv_rows,
)
from ivr.core.quality import OperatorQuality
from ivr.core.records import CallRecord, Role
from ivr.web.auth import require
from ivr.web.casework import STATUS_LABELS
from ivr.web.i18n import gettext as _
from ivr.web.i18n import name_in_language
from ivr.web.keys import SERVICES
from ivr.web.quality import bounds, operator_figures
from ivr.web.services import WebServices

ROLE = Role.SUPERVISOR
# Records are aggregated in memory; a longer range belongs in the data warehouse.
MAX_DAYS = 31
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PERIODS = {"hour": Period.HOUR, "day": Period.DAY}


class BadQuery(ValueError):
    """The report's query string cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class ReportQuery:
    first: date
    last: date
    period: Period

    @property
    def period_name(self) -> str:
        return "hour" if self.period is Period.HOUR else "day"

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """From local midnight of ``first`` to local midnight after ``last``."""
        start = datetime.combine(self.first, time(), tzinfo=tz)
        end = datetime.combine(self.last + timedelta(days=1), time(), tzinfo=tz)
        return start, end


def parse_query(query: dict[str, str] | Any, today: date) -> ReportQuery:
    """``from``/``to`` (YYYY-MM-DD, default today) and ``period`` (hour, default, or day)."""
    try:
        first = date.fromisoformat(query.get("from") or today.isoformat())
        last = date.fromisoformat(query.get("to") or first.isoformat())
    except ValueError:
        raise BadQuery("dates must be written YYYY-MM-DD") from None
    if last < first:
        raise BadQuery("the end date is before the start date")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadQuery(f"at most {MAX_DAYS} days per report")
    name = query.get("period") or "hour"
    if name not in PERIODS:
        raise BadQuery("period must be hour or day")
    return ReportQuery(first, last, PERIODS[name])


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def outcomes(records: Iterable[CallRecord]) -> tuple[list[CallOutcome], list[SurveyScore]]:
    """Call records that reached a skill's queue, as report inputs; a call still waiting or
    sent elsewhere counts as offered only. Surveys count in the period the call arrived in."""
    calls, surveys = [], []
    for r in records:
        skill = r.skill or r.queue
        if not skill:
            continue  # handled in the IVR alone (self-service, hung up in a menu)
        arrived = _epoch(r.arrived_at)
        wait = max(0.0, r.wait_seconds or 0.0)
        if r.answered_at is not None:
            outcome = Outcome.ANSWERED
        elif r.outcome == "abandoned":
            outcome = Outcome.ABANDONED
        else:
            outcome = Outcome.LEFT
        answered = outcome is Outcome.ANSWERED
        calls.append(CallOutcome(
            skill=skill, arrived_at=arrived, outcome=outcome, wait_seconds=wait,
            talk_seconds=max(0.0, r.talk_seconds or 0.0) if answered else 0.0,
            # Talk time is stored when the operator hangs up (set_call_completed).
            completed=r.talk_seconds is not None or not answered,
            uniqueid=r.call_id, operator=r.operator or "",
        ))
        if r.survey_score is not None and MIN_SCORE <= r.survey_score <= MAX_SCORE:
            surveys.append(SurveyScore(skill, r.survey_score, arrived))
    return calls, surveys


def safe_cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_text(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def case_rows(counts: dict[tuple[str, str], int]) -> tuple[list[str], list[list[str]]]:
    """A pivot of case counts: header (category, statuses..., total) and one row a category."""
    known = [status.value for status in CaseStatus]
    statuses = known + sorted({s for _c, s in counts} - set(known))
    header = ["category", *statuses, "total"]
    rows = []
    for category in sorted({c for c, _s in counts}):
        values = [counts.get((category, s), 0) for s in statuses]
        rows.append([category, *(str(v) for v in values), str(sum(values))])
    return header, rows


def _tz(services: WebServices) -> tzinfo:
    return ZoneInfo(services.settings.timezone)


async def build(services: WebServices, query: ReportQuery) -> Report:
    """The report for ``query`` from the store's call records (aggregated off the loop)."""
    tz = _tz(services)
    start, end = query.bounds(tz)
    records = await services.store.calls.between(start, end)
    targets = {sid: s.service_level for sid, s in services.settings.skills.items()}

    def aggregate() -> Report:
        calls, surveys = outcomes(records)
        return build_report(calls, surveys, period=query.period, targets=targets, tz=tz)

    return await asyncio.to_thread(aggregate)


def _fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "–" if value is None else f"{value:.{digits}f}{unit}"


def _display(report: Report) -> list[dict[str, str]]:
    out = []
    for row in report.rows:
        c = row.counts
        label = row.start.strftime("%Y-%m-%d %H:%M" if row.period is Period.HOUR else "%Y-%m-%d")
        out.append({
            "start": label,
            "skill": row.skill,
            "offered": str(c.offered),
            "answered": str(c.answered),
            "abandoned": str(c.abandoned),
            "service_level": _fmt(c.service_level_percent, 1, " %"),
            "target": _("%(percent)s %% in %(seconds)s s", percent=format(row.target.percent, "g"),
                        seconds=format(row.target.seconds, "g")),
            "asa": _fmt(c.average_speed_of_answer, 1, " s"),
            "aht": _fmt(c.average_handle_time, 0, " s"),
            "satisfaction": _fmt(row.satisfaction, 2),
            "surveys": str(row.surveys),
        })
    return out


async def quality_rows(services: WebServices, query: ReportQuery) -> list[OperatorQuality]:
    """The quality review per operator for the report's days (calls that arrived in them)."""
    start, end = bounds(query.first, query.last, ZoneInfo(services.settings.timezone))
    answered = await services.store.reviews.answered_per_operator(start, end)
    return await operator_figures(services, start, end, answered)


def quality_csv_rows(rows: Iterable[OperatorQuality], item_ids: Sequence[str]) -> list[list[str]]:
    """Header and one row an operator: counts, average score, miss rate per item (%)."""
    out = [["operator", "answered", "reviewed", "average_score_percent", "passed",
            *(f"missed_{i}_percent" for i in item_ids)]]
    out.extend([r.operator, str(r.answered), str(r.reviewed),
                "" if r.average_percent is None else f"{r.average_percent:.1f}", str(r.passed),
                *(f"{100 * r.miss_rates[i]:.1f}" if i in r.miss_rates else ""
                  for i in item_ids)] for r in rows)
    return out


def _quality_display(services: WebServices, rows: list[OperatorQuality]) -> list[dict[str, str]]:
    checklist = services.settings.quality
    out = []
    for r in rows:
        # The items missed most often (all of them on a tie), in the checklist's order.
        rate = max(r.miss_rates.values(), default=0.0)
        worst = [i for i in checklist.items if rate > 0 and r.miss_rates.get(i.id) == rate]
        operator = services.settings.operators.get(r.operator)
        out.append({
            "operator": r.operator, "name": operator.name if operator else "",
            "answered": str(r.answered), "reviewed": str(r.reviewed),
            "average": _fmt(r.average_percent, 1, " %"), "passed": str(r.passed),
            "most_missed": (", ".join(name_in_language(i.names, i.id) for i in worst)
                            + f" ({100 * rate:.0f} %)") if worst else "–",
        })
    return out


def _today(services: WebServices) -> date:
    return services.clock.now(_tz(services)).date()


async def reports_page(request: web.Request) -> web.StreamResponse:
    await require(request, ROLE)
    services = request.app[SERVICES]
    today = _today(services)
    context: dict[str, Any] = {
        "first": request.query.get("from") or today.isoformat(),
        "last": request.query.get("to") or request.query.get("from") or today.isoformat(),
        "period": request.query.get("period") or "hour",
        "error": "", "rows": [], "query_string": "", "case_header": [], "case_rows": [],
        "quality": [],
    }
    status = 200
    try:
        query = parse_query(request.query, today)
    except BadQuery as exc:
        context["error"], status = str(exc), 400
    else:
        report = await build(services, query)
        context["rows"] = _display(report)
        context["quality"] = _quality_display(services, await quality_rows(services, query))
        context["query_string"] = (
            f"from={query.first.isoformat()}&to={query.last.isoformat()}"
            f"&period={query.period_name}"
        )
    header, rows = case_rows(await services.store.cases.counts())
    settings = services.settings
    # Shown in the user's language: statuses by their names, categories by the skills'.
    context["case_header"] = [_("Category"), *(_(STATUS_LABELS.get(s, s)) for s in header[1:-1]),
                              _("Total")]
    context["case_rows"] = [[name_in_language(settings.skills[r[0]].names, r[0])
                             if r[0] in settings.skills else r[0], *r[1:]] for r in rows]
    return aiohttp_jinja2.render_template("reports.html", request, context, status=status)


async def reports_csv(request: web.Request) -> web.StreamResponse:
    await require(request, ROLE)
    services = request.app[SERVICES]
    if request.query.get("kind") == "cases":
        header, rows = case_rows(await services.store.cases.counts())
        return _csv_response(csv_text([header, *rows]), "cases.csv")
    try:
        query = parse_query(request.query, _today(services))
    except BadQuery as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if request.query.get("kind") == "quality":
        ids = [i.id for i in services.settings.quality.items]
        rows = quality_csv_rows(await quality_rows(services, query), ids)
        return _csv_response(csv_text(rows), f"quality-{query.first.isoformat()}-"
                                             f"{query.last.isoformat()}.csv")
    report = await build(services, query)
    name = f"report-{query.first.isoformat()}-{query.last.isoformat()}-{query.period_name}.csv"
    return _csv_response(csv_text(to_csv_rows(report)), name)


def _csv_response(text: str, filename: str) -> web.Response:
    return web.Response(
        # The BOM: Excel on Chinese Windows then reads the file as UTF-8.
        text="\ufeff" + text, content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports.csv", reports_csv)
