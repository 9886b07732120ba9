"""The three rates per department and per street/town (接诉即办 考核): ``/reports/departments``
(page), ``/reports/departments.csv`` (UTF-8 with a byte-order mark, so Excel on a Chinese
Windows opens it as UTF-8), ``/reports/departments.xlsx`` (an Excel workbook, numbers as
numbers: ``ivr.edges.xlsx``) and ``GET /api/reports/departments`` (JSON), for supervisors.

The period is a month (``month=YYYY-MM``, the current month by default) or any range of whole
local days (``from=YYYY-MM-DD&to=YYYY-MM-DD``, at most a year); a case counts in the period it
was dispatched in. What each rate means and how the ranking is made: ``ivr.core.rates``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from ivr.core.rates import DepartmentCounts, RankedDepartment, ranking
from ivr.core.records import Role
from ivr.core.settings import DEPARTMENT_KINDS, Settings
from ivr.core.suggest import SuggestionTally, total
from ivr.edges import xlsx
from ivr.web.auth import require
from ivr.web.errors import json_error
from ivr.web.i18n import N_, config_language
from ivr.web.i18n import gettext as _
from ivr.web.keys import SERVICES
from ivr.web.reports import csv_text
from ivr.web.services import WebServices

ROLE = Role.SUPERVISOR
MAX_DAYS: Final = 366
BOM: Final = "\ufeff"
KIND_LABELS: Final = {"department": N_("Departments"), "street": N_("Streets and towns")}
HEADER: Final = (
    N_("Rank"), N_("Kind"), N_("Department"), N_("Dispatched"), N_("Responded on time"),
    N_("Response rate %"), N_("Resolved"), N_("Overdue"), N_("Visits answered"),
    N_("Unreachable"), N_("Citizen: resolved"), N_("Resolution rate %"),
    N_("Satisfied"), N_("Basically satisfied"), N_("Dissatisfied"),
    N_("Satisfaction rate %"),
)


class BadPeriod(ValueError):
    """The period cannot be used; the message says why."""


def period(query: Any, today: date) -> tuple[date, date]:
    """First and last local day of the asked period (see the module docstring)."""
    try:
        if query.get("from") or query.get("to"):
            first = date.fromisoformat(query.get("from") or query.get("to"))
            last = date.fromisoformat(query.get("to") or query.get("from"))
        else:
            month = query.get("month") or today.strftime("%Y-%m")
            first = date.fromisoformat(f"{month}-01")
            following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            last = following - timedelta(days=1)
    except ValueError:
        raise BadPeriod("write a month as YYYY-MM and days as YYYY-MM-DD") from None
    if last < first:
        raise BadPeriod("the end date is before the start date")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadPeriod(f"at most {MAX_DAYS} days")
    return first, last


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def ranked_by_kind(
    settings: Settings, rows: list[DepartmentCounts],
) -> dict[str, list[RankedDepartment]]:
    """Departments and streets ranked apart; a configured one without cases is listed too."""
    by_id = {r.department: r for r in rows}
    out: dict[str, list[RankedDepartment]] = {}
    for kind in DEPARTMENT_KINDS:
        ids = [d.id for d in settings.departments.values() if d.kind == kind]
        if kind == "department":  # dispatched to a department no longer configured
            ids += [d for d in by_id if d not in settings.departments]
        out[kind] = ranking(by_id.get(i, DepartmentCounts(i)) for i in ids)
    return out


def _name(settings: Settings, department: str) -> str:
    known = settings.departments.get(department)
    return known.name(config_language()) if known else department


def table_rows(settings: Settings, ranked: dict[str, list[RankedDepartment]]) -> list[list[str]]:
    rows = []
    for kind, entries in ranked.items():
        for entry in entries:
            c = entry.counts
            rows.append([
                str(entry.rank), kind, _name(settings, c.department), str(c.dispatched),
                str(c.responded_on_time), _rate(c.response_rate), str(c.resolved),
                str(c.overdue), str(c.visited), str(c.unreachable), str(c.citizen_resolved),
                _rate(c.resolution_rate), str(c.satisfied), str(c.basically_satisfied),
                str(c.dissatisfied), _rate(c.satisfaction_rate),
            ])
    return rows


async def _ranked(services: WebServices, first: date, last: date,
                  ) -> dict[str, list[RankedDepartment]]:
    settings = services.settings
    tz = ZoneInfo(settings.timezone)
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    rows = await services.store.cases.department_counts(start, end, services.clock.now(tz))
    return ranked_by_kind(settings, rows)


async def _suggestions(services: WebServices, first: date, last: date,
                       ) -> list[SuggestionTally]:
    """How often the suggested department was kept, per suggested department, for the cases
    first dispatched in the period; the total first (``department`` "")."""
    tz = ZoneInfo(services.settings.timezone)
    rows = await services.store.cases.suggestion_tallies(
        datetime.combine(first, time(), tz), datetime.combine(last + timedelta(days=1), time(), tz))
    order = list(services.settings.departments)
    rows.sort(key=lambda t: (order.index(t.department) if t.department in order else len(order),
                             t.department))
    return [total(rows), *rows]


def _today(services: WebServices) -> date:
    return services.clock.now(ZoneInfo(services.settings.timezone)).date()


async def rates_page(request: web.Request) -> web.StreamResponse:
    await require(request, ROLE)
    services = request.app[SERVICES]
    today = _today(services)
    context: dict[str, Any] = {"header": [_(h) for h in HEADER],
                               "kinds": {k: _(v) for k, v in KIND_LABELS.items()}, "error": "",
                               "sections": {}, "query": "", "month": today.strftime("%Y-%m"),
                               "first": "", "last": "", "suggestions": []}
    try:
        first, last = period(request.query, today)
    except BadPeriod as exc:
        context["error"] = str(exc)
        return aiohttp_jinja2.render_template("rates.html", request, context, status=400)
    ranked = await _ranked(services, first, last)
    context.update(
        suggestions=[(_name(services.settings, t.department) if t.department else
                      _("All"), t.suggested, t.kept, _rate(t.kept_rate))
                     for t in await _suggestions(services, first, last)],
        first=first.isoformat(), last=last.isoformat(),
        query=f"from={first.isoformat()}&to={last.isoformat()}",
        sections={kind: table_rows(services.settings, {kind: entries})
                  for kind, entries in ranked.items()},
    )
    return aiohttp_jinja2.render_template("rates.html", request, context)


async def _download_rows(request: web.Request) -> tuple[str, list[list[str]]]:
    """The file name's stem and the table (header first) of a download's period."""
    await require(request, ROLE)
    services = request.app[SERVICES]
    try:
        first, last = period(request.query, _today(services))
    except BadPeriod as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    ranked = await _ranked(services, first, last)
    stem = f"department-rates-{first.isoformat()}-{last.isoformat()}"
    return stem, [[_(h) for h in HEADER], *table_rows(services.settings, ranked)]


async def rates_csv(request: web.Request) -> web.StreamResponse:
    stem, rows = await _download_rows(request)
    text = BOM + csv_text(rows)
    return web.Response(
        body=text.encode("utf-8"), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
    )


XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def rates_xlsx(request: web.Request) -> web.StreamResponse:
    """The same table as the CSV, as an Excel workbook (rates and counts as numbers)."""
    stem, rows = await _download_rows(request)
    body = await asyncio.to_thread(xlsx.workbook, _("Rates"), rows[0], rows[1:])
    return web.Response(
        body=body, content_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'},
    )


async def rates_api(request: web.Request) -> web.Response:
    await require(request, ROLE)
    services = request.app[SERVICES]
    try:
        first, last = period(request.query, _today(services))
    except BadPeriod as exc:
        raise json_error(web.HTTPBadRequest, "bad_query", str(exc)) from None
    ranked = await _ranked(services, first, last)
    settings = services.settings

    def entry(r: RankedDepartment) -> dict[str, Any]:
        c = r.counts
        known = settings.departments.get(c.department)
        return {
            "rank": r.rank, "department": c.department,
            "name": known.name("zh") if known else c.department,
            "response_rate": c.response_rate, "resolution_rate": c.resolution_rate,
            "satisfaction_rate": c.satisfaction_rate,
            "counts": {k: getattr(c, k) for k in (
                "dispatched", "responded", "responded_on_time", "resolved", "overdue",
                "visited", "unreachable", "citizen_resolved", "satisfied",
                "basically_satisfied", "dissatisfied")},
        }
    suggestions = [{"department": t.department, "suggested": t.suggested, "kept": t.kept,
                    "kept_rate": t.kept_rate} for t in await _suggestions(services, first, last)]
    return web.json_response(
        {"from": first.isoformat(), "to": last.isoformat(),
         "suggestions": {"total": suggestions[0], "by_department": suggestions[1:]},
         **{kind: [entry(r) for r in entries] for kind, entries in ranked.items()}},
        dumps=lambda v: json.dumps(v, ensure_ascii=False))


def setup(app: web.Application) -> None:
    app.router.add_get("/reports/departments", rates_page)
    app.router.add_get("/reports/departments.csv", rates_csv)
    app.router.add_get("/reports/departments.xlsx", rates_xlsx)
    app.router.add_get("/api/reports/departments", rates_api)
