"""Merging duplicates in the web: the centre sees the likely duplicates of a case, merges one
into the other (both histories say who and when), the duplicate follows the main case when it
is resolved and its citizen gets their own return visit; the rates count the problem once
and each citizen's evaluation; the case's calls are linked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ivr.core.cases import Satisfaction
from ivr.core.records import CallRecord
from tests.web.conftest import WebHotline
from tests.web.test_case_loop import step


async def filed(operator: Any, caller: str, description: str, call_id: str = "") -> str:
    body = {"caller": caller, "category": "environment", "description": description}
    if call_id:
        body["call_id"] = call_id
    resp = await operator.post("/api/cases", json=body)
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["number"])


async def test_merge_then_resolve_calls_back_each_citizen(api_as, hotline: WebHotline):
    settings = hotline.settings
    now = datetime.now(ZoneInfo(settings.timezone))
    await hotline.store.calls.save(CallRecord("call-dup-1", "PJSIP/x-1", "13800000011", "zh",
                                              now.isoformat(), outcome="answered"))
    operator = await api_as("operator", "op1001")
    main = await filed(operator, "13800000011", "荣华中路工地夜里施工噪音很大", "call-dup-1")
    dup = await filed(operator, "13800000022", "荣华中路那个工地半夜施工，噪音太大")
    await filed(operator, "13800000033", "博兴路工厂排放废气")  # another place: not alike

    found = await (await operator.get(f"/api/cases/{main}/duplicates")).json()
    assert [c["number"] for c in found["likely"]] == [dup]
    assert 0.3 <= found["likely"][0]["similarity"] < 1
    page = await (await operator.get(f"/cases/{main}")).text()
    assert 'id="likely"' in page
    assert f'<tr data-case="{dup}">' in page

    # From the main case's page: merge the duplicate into it (the form, as a browser sends).
    resp = await operator.post(f"/cases/{main}", data={
        "csrf": operator.csrf, "action": "merge", "duplicate": dup, "into": main},
        allow_redirects=False)
    assert resp.status == 303, await resp.text()
    merged = await (await operator.get(f"/api/cases/{dup}")).json()
    assert (merged["status"], merged["merged_into"]) == ("merged", main)
    assert merged["history"][-1]["action"] == "merge"
    assert merged["history"][-1]["actor"] == operator.username
    main_json = await (await operator.get(f"/api/cases/{main}")).json()
    assert main_json["history"][-1]["note"] == (
        f"case {dup} (caller 13800000022) merged into this one")
    again = await operator.post(f"/api/cases/{main}/merge", json={"into": dup})
    assert again.status == 409  # the duplicate is merged already: not a main case
    page = await (await operator.get(f"/cases/{main}")).text()
    assert 'id="merged"' in page
    assert 'href="/calls/call-dup-1"' in page
    call_page = await (await operator.get("/calls/call-dup-1")).text()
    assert "未由话务员接听：没有录音。" in call_page
    assert f'href="/cases/{main}"' in call_page
    dup_page = await (await operator.get(f"/cases/{dup}")).text()
    assert f'<a href="/cases/{main}">{main}</a>' in dup_page

    ronghua = await api_as("department", department="ronghua", username="rh1")
    assert (await step(operator, main, "dispatch", department="ronghua")).status == 200
    assert (await step(ronghua, main, "accept")).status == 200
    assert (await step(ronghua, main, "resolve", text="已责令夜间停工")).status == 200
    followed = await (await operator.get(f"/api/cases/{dup}")).json()
    assert (followed["status"], followed["department"], followed["reply"],
            followed["visit_status"]) == ("resolved", "ronghua", "已责令夜间停工", "pending")
    assert followed["history"][-1]["note"] == f"resolved with case {main}: 已责令夜间停工"

    cases = hotline.store.cases
    claimed = await cases.claim_visits(now, timedelta(minutes=5), 3, 100)
    assert {c.number for c in claimed} == {main, dup}  # each citizen is called back
    await cases.visit_answered(main, resolved=True, satisfaction=Satisfaction.SATISFIED,
                               now=now)
    await cases.visit_answered(dup, resolved=True, satisfaction=Satisfaction.DISSATISFIED,
                               now=now)
    supervisor = await api_as("supervisor")
    body = await (await supervisor.get("/api/reports/departments")).json()
    counts = next(s for s in body["street"] if s["department"] == "ronghua")["counts"]
    # The problem was dispatched, answered and resolved once; two citizens evaluated it.
    assert (counts["dispatched"], counts["responded_on_time"], counts["resolved"]) == (1, 1, 1)
    assert (counts["visited"], counts["satisfied"], counts["dissatisfied"]) == (2, 1, 1)


async def test_merges_refused_say_why(api_as):
    operator = await api_as("operator", "op1001")
    a = await filed(operator, "13800000044", "噪音")
    resp = await operator.post(f"/api/cases/{a}/merge", json={"into": a})
    assert resp.status == 409
    assert (await resp.json())["message"] == "工单不能合并到自身"  # the user's language
    resp = await operator.post(f"/api/cases/{a}/merge", json={"into": a},
                               headers={"Accept-Language": "en"})
    assert (await resp.json())["message"] == "a case cannot be merged into itself"
    resp = await operator.post(f"/api/cases/{a}/merge", json={"into": "6000000000"})
    assert resp.status == 404
    assert (await operator.post(f"/api/cases/{a}/merge", json={})).status == 400
    ecology = await api_as("department", department="ecology", username="eco5")
    assert (await ecology.post(f"/api/cases/{a}/merge", json={"into": a})).status == 403
