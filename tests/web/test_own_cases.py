"""Operators see what is theirs: their own calls, and the cases they opened or that were
opened for a call they answered. Supervisors and admins see everything. An operator asking
for, or changing, a case that is not theirs gets 403 (API) or a 403 page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ivr.core.records import CallRecord


async def _case(session: Any, caller: str, **extra: str) -> str:
    resp = await session.post("/api/cases", json={"caller": caller, "category": "traffic",
                                                   **extra})
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["number"])


async def _answered_call(hotline: Any, call_id: str, operator: str) -> None:
    now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    await hotline.store.calls.save(CallRecord(call_id, f"PJSIP/{call_id}", "13900000000",
                                              "zh", now.isoformat()))
    await hotline.store.calls.set_answered(call_id, operator, now, 3.0)


async def test_operators_see_their_own_calls_and_cases(api_as: Any, hotline: Any) -> None:
    li = await api_as("operator", "op1001")
    wang = await api_as("operator", "op1002")
    boss = await api_as("supervisor")
    await _answered_call(hotline, "call-li", "op1001")
    await _answered_call(hotline, "call-wang", "op1002")
    mine = await _case(li, "13800000001")
    theirs = await _case(wang, "13800000002")
    # Filed by the supervisor for a call Li answered: it is Li's too.
    for_li = await _case(boss, "13800000003", call_id="call-li")

    calls = await (await li.get("/api/calls")).json()
    assert [c["call_id"] for c in calls] == ["call-li"]
    listed = {c["number"] for c in await (await li.get("/api/cases")).json()}
    assert listed == {mine, for_li}
    page = await (await li.get("/cases")).text()
    assert mine in page
    assert for_li in page
    assert theirs not in page
    assert theirs not in await (await li.get("/dispatch")).text()
    assert theirs not in {c["number"] for c in await (await li.get("/api/dispatch")).json()}

    everything = {c["number"] for c in await (await boss.get("/api/cases")).json()}
    assert {mine, theirs, for_li} <= everything
    assert {c["call_id"] for c in await (await boss.get("/api/calls")).json()} == {
        "call-li", "call-wang"}


async def test_an_operator_cannot_read_or_change_a_case_not_theirs(api_as: Any,
                                                                   hotline: Any) -> None:
    li = await api_as("operator", "op1001")
    wang = await api_as("operator", "op1002")
    admin = await api_as("admin")
    theirs = await _case(wang, "13800000002")

    resp = await li.patch(f"/api/cases/{theirs}", json={"description": "changed"})
    assert resp.status == 403
    assert (await resp.json())["error"] == "not_yours"
    assert (await li.get(f"/api/cases/{theirs}")).status == 403
    resp = await li.post(f"/api/cases/{theirs}/actions", json={"action": "close"})
    assert resp.status == 403
    page = await li.get(f"/cases/{theirs}")
    assert page.status == 403
    assert theirs in await page.text()
    form = await li.post(f"/cases/{theirs}", data={"action": "close", "csrf": li.csrf})
    assert form.status == 403
    case = await hotline.store.cases.get(theirs)
    assert case.description == ""
    assert case.status == "new"

    resp = await wang.patch(f"/api/cases/{theirs}", json={"description": "by its owner"})
    assert resp.status == 200
    resp = await admin.patch(f"/api/cases/{theirs}", json={"description": "by an admin"})
    assert resp.status == 200
    assert (await hotline.store.cases.get(theirs)).description == "by an admin"
