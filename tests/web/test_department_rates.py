"""The three rates per department in the web: page, CSV (UTF-8 with BOM) and API, with the
counts behind them; an unreachable citizen counts in neither rate; a returned case counts for
the department that took it."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl

from ivr.core.cases import Actor, CaseAction, Satisfaction
from tests.web.conftest import WebHotline

CENTRE = Actor("op")


async def worked_case(hotline: WebHotline, department: str, *, visit: str,
                      returned_by: str | None = None) -> str:
    """A case dispatched (after a return by ``returned_by``), accepted and resolved by
    ``department``; then its return visit: "satisfied", "dissatisfied" (not resolved) or
    "unreachable"."""
    settings = hotline.settings
    now = datetime.now(ZoneInfo(settings.timezone))
    cases = hotline.store.cases
    case = await cases.create(caller="13900000009", category="environment", now=now)
    kw = {"departments": settings.departments, "deadlines": settings.deadlines}
    if returned_by:
        await cases.act(case.number, CaseAction.DISPATCH, CENTRE, now, department=returned_by,
                        **kw)
        await cases.act(case.number, CaseAction.RETURN, Actor("r", returned_by), now,
                        text="not ours")
    await cases.act(case.number, CaseAction.DISPATCH, CENTRE, now, department=department, **kw)
    dept = Actor("d", department)
    await cases.act(case.number, CaseAction.ACCEPT, dept, now)
    await cases.act(case.number, CaseAction.RESOLVE, dept, now, text="done")
    claimed = await cases.claim_visits(now, timedelta(minutes=5), 3, 100)
    assert case.number in [c.number for c in claimed]
    if visit == "unreachable":
        await cases.visit_failed(case.number, why="no answer", now=now, max_attempts=1,
                                 retry_at=now)
    else:
        happy = visit == "satisfied"
        await cases.visit_answered(
            case.number, resolved=happy, now=now,
            satisfaction=Satisfaction.SATISFIED if happy else Satisfaction.DISSATISFIED)
    return case.number


async def test_rates_count_what_became_of_each_case(api_as, hotline):
    """Ecology: three cases, all answered in time; one citizen satisfied, one not resolved
    and dissatisfied, one unreachable: response 100 %, resolution and satisfaction 50 % (the
    unreachable one in neither). Urban took a case Ecology returned: it is Urban's."""
    await worked_case(hotline, "ecology", visit="satisfied")
    await worked_case(hotline, "ecology", visit="dissatisfied")
    await worked_case(hotline, "ecology", visit="unreachable")
    await worked_case(hotline, "urban", visit="satisfied", returned_by="ecology")
    supervisor = await api_as("supervisor")
    body = await (await supervisor.get("/api/reports/departments")).json()
    by_id = {d["department"]: d for d in body["department"]}
    ecology = by_id["ecology"]
    assert ecology["counts"] == {
        # The one not resolved for the citizen was reopened: resolved by the department twice.
        "dispatched": 3, "responded": 3, "responded_on_time": 3, "resolved": 2, "overdue": 0,
        "visited": 2, "unreachable": 1, "citizen_resolved": 1, "satisfied": 1,
        "basically_satisfied": 0, "dissatisfied": 1}
    assert (ecology["response_rate"], ecology["resolution_rate"],
            ecology["satisfaction_rate"]) == (100.0, 50.0, 50.0)
    urban = by_id["urban"]
    assert (urban["counts"]["dispatched"], urban["satisfaction_rate"]) == (1, 100.0)
    assert urban["rank"] == 1
    assert ecology["rank"] == 2
    assert {s["department"] for s in body["street"]} == {"ronghua", "boxing", "majuqiao"}
    assert all(s["response_rate"] is None for s in body["street"])

    resp = await supervisor.get("/reports/departments.csv")
    raw = await resp.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel on Chinese Windows reads UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "排名"  # the header in the language of the user (zh_CN by default)
    eco = next(r for r in rows if r[2].startswith("生态环境局"))
    assert (eco[3], eco[5], eco[9], eco[11], eco[15]) == ("3", "100.0", "1", "50.0", "50.0")

    page = await (await supervisor.get("/reports/departments")).text()
    assert "生态环境局" in page
    assert 'id="rates-street"' in page
    assert 'href="/reports/departments.xlsx?' in page


async def test_the_xlsx_export_is_the_csv_table_with_numbers_as_numbers(api_as, hotline):
    """The workbook opens (openpyxl reads it as Excel would), names in Chinese, rates and
    counts as numbers a spreadsheet can sum; a rate with no denominator stays "-"."""
    await worked_case(hotline, "ecology", visit="satisfied")
    await worked_case(hotline, "ecology", visit="unreachable")
    supervisor = await api_as("supervisor")
    resp = await supervisor.get("/reports/departments.xlsx")
    assert resp.status == 200
    assert resp.content_type.endswith("spreadsheetml.sheet")
    assert ".xlsx" in resp.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(await resp.read()))
    rows = list(book.active.values)
    csv_resp = await supervisor.get("/reports/departments.csv")
    csv_rows = list(csv.reader(io.StringIO((await csv_resp.read()).decode("utf-8-sig"))))
    assert rows[0] == tuple(csv_rows[0])
    assert len(rows) == len(csv_rows)
    eco = next(r for r in rows if str(r[2]).startswith("生态环境局"))
    assert (eco[0], eco[3], eco[5], eco[9], eco[15]) == (1, 2, 100.0, 1, 100.0)
    boxing = next(r for r in rows if str(r[2]).startswith("博兴街道"))
    assert boxing[5] == "-"
    assert (await supervisor.get("/reports/departments.xlsx?month=2026-13")).status == 400
    operator = await api_as("operator")
    assert (await operator.get("/reports/departments.xlsx")).status in (401, 403)


async def test_an_overdue_case_counts_against_its_department(api_as, hotline):
    settings = hotline.settings
    then = datetime.now(ZoneInfo(settings.timezone)) - timedelta(days=30)
    case = await hotline.store.cases.create(caller="1", category="environment", now=then)
    await hotline.store.cases.act(case.number, CaseAction.DISPATCH, CENTRE, then,
                                  department="boxing", departments=settings.departments,
                                  deadlines=settings.deadlines)
    supervisor = await api_as("supervisor")
    first = then.date().isoformat()
    body = await (await supervisor.get(f"/api/reports/departments?from={first}")).json()
    boxing = next(s for s in body["street"] if s["department"] == "boxing")
    assert boxing["counts"]["overdue"] == 1
    assert boxing["response_rate"] == 0.0
    resp = await supervisor.get("/api/reports/departments?month=2026-13")
    assert resp.status == 400
