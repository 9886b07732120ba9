"""The case list and search page: by number, caller, category, department, status and
overdue; a case's page lists the caller's calls, the one that opened it marked."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ivr.core.cases import Actor, CaseAction
from ivr.core.records import CallRecord
from tests.web.conftest import WebHotline


async def filed(hotline: WebHotline, caller: str, category: str, *, department: str = "",
                ago: timedelta = timedelta(0), call_id: str | None = None) -> str:
    settings = hotline.settings
    then = datetime.now(ZoneInfo(settings.timezone)) - ago
    case = await hotline.store.cases.create(caller=caller, category=category, now=then,
                                            call_id=call_id)
    if department:
        await hotline.store.cases.act(case.number, CaseAction.DISPATCH, Actor("op"), then,
                                      department=department, departments=settings.departments,
                                      deadlines=settings.deadlines)
    return case.number


def listed(page: str) -> list[str]:
    return [line.split('"')[1] for line in page.splitlines() if "<tr data-case=" in line]


async def test_search_by_each_field_and_overdue(api_as, hotline):
    a = await filed(hotline, "13811110001", "environment", department="ecology")
    b = await filed(hotline, "13811110002", "traffic", department="transport",
                    ago=timedelta(days=30))
    c = await filed(hotline, "13922220003", "housing")
    operator = await api_as("supervisor")  # an operator would see only their own cases

    async def search(query: str) -> list[str]:
        resp = await operator.get(f"/cases?{query}")
        assert resp.status == 200, await resp.text()
        return listed(await resp.text())

    assert set(await search("")) == {a, b, c}
    assert await search("caller=13811") == [a, b]  # newest first
    assert await search(f"number={c}") == [c]
    assert await search("category=traffic") == [b]
    assert await search("department=ecology") == [a]
    assert await search("status=new") == [c]
    assert await search("overdue=1") == [b]
    page = await (await operator.get("/cases?overdue=1")).text()
    assert f'data-case="{b}" data-flag="overdue"' in page
    assert (await operator.get("/cases?status=bogus")).status == 400
    api = await (await operator.get("/api/cases?department=transport&overdue=1")).json()
    assert [x["number"] for x in api] == [b]
    ecology = await api_as("department", department="ecology")
    assert (await ecology.get("/cases", allow_redirects=False)).status == 403


async def test_a_cases_page_links_the_callers_calls(api_as, hotline):
    now = datetime.now(ZoneInfo("UTC")).isoformat(timespec="milliseconds")
    for call_id in ("call-1", "call-2"):
        await hotline.store.calls.save(CallRecord(
            call_id=call_id, channel="PJSIP/x", caller="13833334444", language="zh",
            arrived_at=now, outcome="routed", queue="environment", operator="op1001"))
    number = await filed(hotline, "13833334444", "environment", call_id="call-1")
    operator = await api_as("operator", "op1001")
    page = await (await operator.get(f"/cases/{number}")).text()
    assert 'data-call="call-1" class="opened-case"' in page
    assert 'data-call="call-2"' in page
