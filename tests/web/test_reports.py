"""Reports from call records in the real store (SQLite and PostgreSQL): per hour or day and
skill, cases by category and status, CSV export safe from formula injection."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr.core.records import CallRecord
from ivr.edges.storage.store import Store
from ivr.web.reports import safe_cell
from tests.web.conftest import ApiSession, WebHotline

Client = TestClient[web.Request, web.Application]
TZ = ZoneInfo("Asia/Shanghai")  # config/ivr.toml's service.timezone
DAY = "2026-03-10"


def local(day: str, hh_mm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hh_mm}:00").replace(tzinfo=TZ)


async def call(store: Store, call_id: str, arrived: datetime, skill: str | None, *,
               wait: float = 0.0, talk: float | None = None, abandoned: bool = False,
               survey: int | None = None) -> None:
    """One call as the application records it: arrival, then answered/completed or
    abandoned in the skill's queue, then the survey."""
    await store.calls.save(CallRecord(
        call_id, f"PJSIP/citizen-{call_id}", "13800138000", "zh",
        arrived.astimezone(UTC).isoformat(timespec="milliseconds"),
        queue=skill, skill=skill, outcome="routed" if skill else "caller_hung_up",
    ))
    if abandoned:
        await store.calls.set_abandoned(call_id, arrived + timedelta(seconds=wait), wait)
    elif talk is not None:
        answered = arrived + timedelta(seconds=wait)
        await store.calls.set_answered(call_id, "op1001", answered, wait)
        await store.calls.set_completed(call_id, answered + timedelta(seconds=talk), talk)
    if survey is not None:
        await store.calls.record_survey(call_id, survey)


async def calls_of_a_day(store: Store) -> None:
    await call(store, "a", local(DAY, "09:05"), "report", wait=10, talk=200, survey=5)
    await call(store, "b", local(DAY, "09:20"), "report", wait=30, talk=100, survey=3)
    await call(store, "c", local(DAY, "09:40"), "report", wait=50, abandoned=True)
    await call(store, "d", local(DAY, "10:10"), "report", wait=5, talk=300)
    await call(store, "e", local(DAY, "10:15"), "environment", wait=12, abandoned=True)
    await call(store, "ivr-only", local(DAY, "09:30"), None)
    await call(store, "day-before", local("2026-03-09", "23:50"), "report", wait=1, talk=60)
    await call(store, "day-after", local("2026-03-11", "00:30"), "report", wait=1, talk=60)


def rows_of(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # the BOM: Excel on Chinese Windows reads it as UTF-8
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


async def test_reports_are_for_supervisors(anonymous: Client, api_as: Any) -> None:
    """Anonymous users go to /login; operators are refused the page and the CSV."""
    assert (await anonymous.get("/reports", allow_redirects=False)).status == 302
    assert (await anonymous.get("/reports.csv", allow_redirects=False)).status == 302
    wang: ApiSession = await api_as("operator", operator_id="op1001")
    assert (await wang.get("/reports", allow_redirects=False)).status == 403
    assert (await wang.get("/reports.csv", allow_redirects=False)).status == 403


async def test_hourly_csv_has_one_row_per_hour_and_skill(
    api_as: Any, hotline: WebHotline
) -> None:
    """Calls of the day only, counted in the local hour they arrived; service level against
    each skill's target, ASA, AHT and satisfaction from the surveys."""
    await calls_of_a_day(hotline.store)
    sue: ApiSession = await api_as("supervisor")
    response = await sue.get("/reports.csv", params={"from": DAY, "to": DAY, "period": "hour"})
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = rows_of(await response.text())
    assert [(r["period_start"], r["skill"]) for r in rows] == [
        ("2026-03-10T09:00:00+08:00", "report"),
        ("2026-03-10T10:00:00+08:00", "environment"),
        ("2026-03-10T10:00:00+08:00", "report"),
    ]
    nine = rows[0]
    assert (nine["offered"], nine["answered"], nine["abandoned"]) == ("3", "2", "1")
    assert nine["answered_in_target"] == "1"
    assert nine["service_level_percent"] == "33.3"
    assert (nine["target_percent"], nine["target_seconds"]) == ("80", "20")
    assert nine["average_speed_of_answer_seconds"] == "20.0"
    assert nine["average_handle_time_seconds"] == "150.0"
    assert (nine["satisfaction"], nine["surveys"]) == ("4.00", "2")
    environment = rows[1]
    assert (environment["offered"], environment["abandoned"]) == ("1", "1")
    assert environment["service_level_percent"] == "0.0"
    assert environment["average_speed_of_answer_seconds"] == ""
    assert rows[2]["service_level_percent"] == "100.0"


async def test_daily_report_over_two_days(api_as: Any, hotline: WebHotline) -> None:
    """Per day: the next day's call is its own row; the day before stays out."""
    await calls_of_a_day(hotline.store)
    sue: ApiSession = await api_as("supervisor")
    response = await sue.get(
        "/reports.csv", params={"from": DAY, "to": "2026-03-11", "period": "day"})
    rows = rows_of(await response.text())
    assert [(r["period_start"], r["skill"], r["offered"]) for r in rows] == [
        ("2026-03-10T00:00:00+08:00", "environment", "1"),
        ("2026-03-10T00:00:00+08:00", "report", "4"),
        ("2026-03-11T00:00:00+08:00", "report", "1"),
    ]


async def test_report_page_shows_rows_cases_and_a_csv_link(
    api_as: Any, hotline: WebHotline
) -> None:
    """The page lists the hourly rows, links the same query's CSV and counts cases by
    category and status."""
    await calls_of_a_day(hotline.store)
    now = local(DAY, "11:00")
    water = await hotline.store.cases.create(caller="1", category="water", now=now)
    await hotline.store.cases.create(caller="2", category="water", now=now)
    await hotline.store.cases.create(caller="3", category="noise", now=now)
    await hotline.store.cases.update(water.number, actor="sue", now=now, status="dispatched")
    sue: ApiSession = await api_as("supervisor")
    response = await sue.get("/reports", params={"from": DAY, "to": DAY, "period": "hour"})
    assert response.status == 200
    html = await response.text()
    assert "2026-03-10 09:00" in html
    assert "33.3 %" in html
    assert f'href="/reports.csv?from={DAY}&amp;to={DAY}&amp;period=hour"' in html
    cases = rows_of(await (await sue.get("/reports.csv", params={"kind": "cases"})).text())
    assert [(c["category"], c["new"], c["dispatched"], c["total"]) for c in cases] == [
        ("noise", "1", "0", "1"), ("water", "1", "1", "2"),
    ]


async def test_bad_ranges_are_refused_with_a_reason(api_as: Any) -> None:
    """An end before the start, a malformed date or more than 31 days: 400 and why."""
    sue: ApiSession = await api_as("supervisor")
    cases = [
        ({"from": DAY, "to": "2026-03-01"}, "before the start"),
        ({"from": "10/03/2026"}, "YYYY-MM-DD"),
        ({"from": "2026-01-01", "to": "2026-03-01"}, "at most 31 days"),
        ({"from": DAY, "period": "week"}, "hour or day"),
    ]
    for params, reason in cases:
        page = await sue.get("/reports", params=params)
        assert page.status == 400
        assert reason in await page.text()
        download = await sue.get("/reports.csv", params=params)
        assert download.status == 400
        assert reason in await download.text()


async def test_csv_cells_never_run_as_formulas(api_as: Any, hotline: WebHotline) -> None:
    """A queue or case category starting with = + - @ is exported as text (leading ')."""
    await call(hotline.store, "f", local(DAY, "09:00"), "=HYPERLINK(1)", wait=1, talk=10)
    await hotline.store.cases.create(caller="1", category="@SUM(A1)", now=local(DAY, "09:00"))
    await hotline.store.cases.create(caller="1", category="-2+3", now=local(DAY, "09:00"))
    sue: ApiSession = await api_as("supervisor")
    rows = rows_of(await (await sue.get("/reports.csv", params={"from": DAY})).text())
    assert [r["skill"] for r in rows] == ["'=HYPERLINK(1)"]
    cases = rows_of(await (await sue.get("/reports.csv", params={"kind": "cases"})).text())
    assert sorted(c["category"] for c in cases) == ["'-2+3", "'@SUM(A1)"]


def test_safe_cell_table() -> None:
    """Each formula starter is neutralised; ordinary text and numbers are left alone."""
    assert [safe_cell(v) for v in ("=1", "+1", "-1", "@a", "\t=1", "\r1", "report", "12.5",
                                   "")] == [
        "'=1", "'+1", "'-1", "'@a", "'\t=1", "'\r1", "report", "12.5", ""]
