"""The suggested department (智能派单) in the web: the console's proposal with its reasons, the
suggestion kept with the case, whether the operator kept it recorded at the first dispatch, and
the share kept on the rates page and in the API."""

from __future__ import annotations

from typing import Any

from tests.web.test_case_loop import step


async def filed(operator: Any, category: str, description: str) -> dict[str, Any]:
    resp = await operator.post("/api/cases", json={
        "caller": "13800002222", "category": category, "description": description})
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def test_the_console_is_proposed_a_department_with_its_reasons(api_as):
    operator = await api_as("operator", "op1001")
    resp = await operator.post("/api/suggestion", json={
        "category": "environment", "text": "荣华中路工地夜里施工噪音"})
    assert resp.status == 200
    body = await resp.json()
    assert body["department"] == "ronghua"
    assert body["name"] == "荣华街道"  # in the operator's language (zh_CN here)
    assert body["place"] == "ronghua"
    assert body["reasons"][0] == {"zh": "“环境噪音”类工单由荣华街道承办",
                                  "en": "Ronghua Subdistrict handles Environment and noise cases",
                                  "text": "“环境噪音”类工单由荣华街道承办"}
    assert body["reasons"][1]["zh"] == "来电提到“荣华中路”，属荣华街道辖区"
    nothing = await (await operator.post("/api/suggestion", json={
        "category": "", "text": "你好"})).json()
    assert nothing == {"department": "", "name": "", "reasons": [], "place": ""}
    bad = await operator.post("/api/suggestion", json={"category": 5})
    assert bad.status == 400


async def test_kept_or_changed_is_recorded_at_the_first_dispatch_and_reported(api_as):
    """Two cases suggested to Ecology: one dispatched there (kept), one sent elsewhere
    (changed); a later re-dispatch does not change what was recorded. The rates page and
    API report 1 of 2 kept (50 %)."""
    operator = await api_as("operator", "op1001")
    kept = await filed(operator, "environment", "化工厂排放废气")
    changed = await filed(operator, "environment", "饭店油烟扰民")
    assert (kept["suggested_department"], kept["place"]) == ("ecology", "")
    assert "来电提到“废气”" in kept["suggestion_reason"]
    page = await (await operator.get(f"/cases/{kept['number']}")).text()
    assert 'id="dispatch-suggestion"' in page
    assert "来电提到“废气”" in page  # the reasons in the user's language
    assert "the caller said" not in page
    assert '<option value="ecology" selected>' in page

    assert (await step(operator, kept["number"], "dispatch", department="ecology")).status == 200
    resp = await step(operator, changed["number"], "dispatch", department="market")
    assert (await resp.json())["suggestion_kept"] == 0
    resp = await step(operator, changed["number"], "dispatch", department="ecology")
    assert (await resp.json())["suggestion_kept"] == 0  # the first dispatch decides
    history = (await (await operator.get(f"/api/cases/{changed['number']}")).json())["history"]
    assert "suggested ecology, changed" in history[1]["note"]

    supervisor = await api_as("supervisor")
    body = await (await supervisor.get("/api/reports/departments")).json()
    assert body["suggestions"]["total"] == {"department": "", "suggested": 2, "kept": 1,
                                            "kept_rate": 50.0}
    assert body["suggestions"]["by_department"] == [
        {"department": "ecology", "suggested": 2, "kept": 1, "kept_rate": 50.0}]
    page = await (await supervisor.get("/reports/departments")).text()
    assert 'id="rates-suggestions"' in page
    assert "<td>2</td><td>1</td><td>50.0</td>" in page


async def test_a_returned_case_is_proposed_elsewhere(api_as):
    """The department that returned a case is never proposed for it again."""
    operator = await api_as("operator", "op1001")
    ecology = await api_as("department", department="ecology", username="eco9")
    case = await filed(operator, "environment", "化工厂排放废气")
    await step(operator, case["number"], "dispatch", department="ecology")
    await step(ecology, case["number"], "return", text="不属于本局 not ours")
    page = await (await operator.get(f"/cases/{case['number']}")).text()
    assert '<option value="ecology" selected>' not in page
    assert '<option value="ronghua" selected>' in page
