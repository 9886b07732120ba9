"""The loop behind the phone in the web: the centre dispatches, departments work their own
queue (accept, ask, resolve, return), returned cases are dispatched again, every step in the
history with who and when; a department's account sees nothing of another's, nor of the
centre's."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr.casework.visits import _reason as visit_reason
from tests.web.conftest import audited
from tests.web.test_api_roles import ROUTES, concrete


async def new_case(operator: Any, category: str = "environment") -> str:
    resp = await operator.post("/api/cases", json={
        "caller": "13800001111", "category": category, "description": "工地夜间施工噪音"})
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["number"])


async def step(session: Any, number: str, action: str, **body: str) -> Any:
    return await session.post(f"/api/cases/{number}/actions", json={"action": action, **body})


async def test_a_returned_case_is_dispatched_again_and_resolved_by_the_right_department(
        api_as):
    """Ecology returns a misdirected case with a reason; the centre sees it with the reason,
    dispatches it to Urban Management, which accepts and resolves it; the history names each
    step, who took it and when."""
    operator = await api_as("operator", "op1001")
    ecology = await api_as("department", department="ecology", username="eco1")
    urban = await api_as("department", department="urban", username="urb1")
    number = await new_case(operator)
    resp = await step(operator, number, "dispatch", department="ecology")
    assert resp.status == 200, await resp.text()

    queue = await (await ecology.get("/api/department/cases")).json()
    assert [c["number"] for c in queue] == [number]
    resp = await step(ecology, number, "return", text="燃气问题，不属于本局 gas: not ours")
    assert (await resp.json())["status"] == "returned"
    assert await (await ecology.get("/api/department/cases")).json() == []

    waiting = await (await operator.get("/api/dispatch")).json()
    returned = next(c for c in waiting if c["number"] == number)
    assert (returned["returned_from"], returned["return_reason"]) == (
        "ecology", "燃气问题，不属于本局 gas: not ours")
    page = await (await operator.get("/dispatch")).text()
    assert "燃气问题，不属于本局" in page

    resp = await step(operator, number, "dispatch", department="urban")
    assert (await resp.json())["department"] == "urban"
    assert (await step(urban, number, "accept")).status == 200
    resp = await step(urban, number, "resolve", text="已协调燃气公司检修 Gas company fixed it")
    resolved = await resp.json()
    assert (resolved["status"], resolved["reply"]) == ("resolved",
                                                       "已协调燃气公司检修 Gas company fixed it")

    history = (await (await operator.get(f"/api/cases/{number}")).json())["history"]
    steps = [(h["action"], h["actor"], h["status"]) for h in history]
    assert steps == [
        ("create", operator.username, "new"),
        ("dispatch", operator.username, "dispatched"),
        ("return", "eco1", "returned"),
        ("dispatch", operator.username, "dispatched"),
        ("accept", "urb1", "in_progress"),
        ("resolve", "urb1", "resolved"),
    ]
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$", h["at"]) for h in history)
    assert "returned by ecology" in history[2]["note"]


async def test_a_department_cannot_see_or_act_on_another_departments_case(api_as, hotline):
    """Not in its queue, 404 on the case and on every step, 404 on the case's page; the case
    is untouched."""
    operator = await api_as("operator", "op1001")
    urban = await api_as("department", department="urban")
    number = await new_case(operator)
    await step(operator, number, "dispatch", department="ecology")
    assert await (await urban.get("/api/department/cases")).json() == []
    assert (await urban.get(f"/api/cases/{number}")).status == 404
    for action in ("accept", "ask", "resolve", "return"):
        resp = await step(urban, number, action, text="mine now")
        assert resp.status == 404, action
    assert (await urban.get(f"/department/cases/{number}")).status == 404
    resp = await urban.post(f"/department/cases/{number}",
                            data={"csrf": urban.csrf, "action": "accept"})
    assert resp.status == 404
    case = await hotline.store.cases.get(number)
    assert case is not None
    assert (case.status, case.department) == ("dispatched", "ecology")


CENTRE_ROUTES = [r for r in ROUTES if r[2] != "any" and "department" not in r[2]]


@pytest.mark.parametrize(("method", "path", "role"), CENTRE_ROUTES)
async def test_a_department_session_gets_403_on_every_centre_route(
        api_as, hotline, method, path, role):
    """A department's account is not an operator: calls, cases, figures, admin are closed."""
    ecology = await api_as("department", department="ecology")
    resp = await ecology.request(method, concrete(path), json={})
    assert resp.status == 403, await resp.text()
    assert await audited(hotline) == []


async def test_department_pages_and_centre_pages_keep_apart(api_as):
    """Department: its queue page, not the console or the dispatch desk; an operator does not
    get the department queue."""
    ecology = await api_as("department", department="ecology")
    operator = await api_as("operator", "op1001")
    for page in ("/console", "/dispatch", "/wallboard", "/admin/users"):
        assert (await ecology.get(page, allow_redirects=False)).status == 403, page
    assert (await operator.get("/department", allow_redirects=False)).status == 403
    home = await ecology.get("/", allow_redirects=False)
    assert home.headers["Location"] == "/department"
    text = await (await ecology.get("/department")).text()
    assert 'lang="zh-CN"' in text
    assert "生态环境局" in text
    assert 'href="/console"' not in text


async def test_a_department_works_a_case_with_the_page_forms(api_as, hotline):
    """Accept, ask (the centre answers), resolve through the HTML forms; a step that is not
    allowed shows why, in the page."""
    operator = await api_as("operator", "op1001")
    ecology = await api_as("department", department="ecology", username="eco9")
    number = await new_case(operator)
    resp = await operator.post(f"/cases/{number}", data={
        "csrf": operator.csrf, "action": "dispatch", "department": "ecology"},
        allow_redirects=False)
    assert resp.status == 303
    page = await (await ecology.get("/department")).text()
    assert number in page

    def form(action: str, text: str = "") -> dict[str, str]:
        return {"csrf": ecology.csrf, "action": action, "text": text}

    resp = await ecology.post(f"/department/cases/{number}", data=form("accept"),
                              allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, f"/department/cases/{number}")
    await ecology.post(f"/department/cases/{number}", data=form("ask", "哪一栋楼？"))
    desk = await (await operator.get("/dispatch")).text()
    assert "哪一栋楼？" in desk
    await operator.post(f"/cases/{number}", data={
        "csrf": operator.csrf, "action": "answer", "text": "3号楼"})
    resp = await ecology.post(f"/department/cases/{number}", data=form("accept"))
    assert resp.status == 409
    # Said in the department's language (Chinese here), the step and statuses included.
    refused = await resp.text()
    assert "当前为“处理中”：“签收”只能在以下状态进行：已派单" in refused
    assert "is taken from" not in refused
    resp = await ecology.post(f"/department/cases/{number}", data=form("resolve", "已停工"))
    page = await resp.text()
    assert 'data-status="resolved"' in page
    assert "已停工" in page
    case = await hotline.store.cases.get(number)
    assert case is not None
    assert (case.status, case.reply, case.question) == ("resolved", "已停工", "")
    actions = [e.action for e in await hotline.store.cases.history(number)]
    assert actions == ["create", "dispatch", "accept", "ask", "answer", "resolve"]
    audit = {e.action for e in await hotline.store.audit.latest()}
    assert {"case.dispatch", "case.accept", "case.ask", "case.answer",
            "case.resolve"} <= audit


async def test_department_accounts_name_a_configured_department(api_as):
    """The admin creates department accounts for departments of departments.yaml only."""
    admin = await api_as("admin")
    resp = await admin.post("/api/users", json={"username": "d1", "role": "department",
                                                "department": "boxing"})
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["department"] == "boxing"
    for body in ({"username": "d2", "role": "department"},
                 {"username": "d3", "role": "department", "department": "atlantis"},
                 {"username": "d4", "role": "operator", "department": "boxing"}):
        assert (await admin.post("/api/users", json=body)).status == 400, body
    resp = await admin.patch("/api/users/d1", json={"role": "operator"})
    assert resp.status == 409


@pytest.mark.parametrize(("language", "words"), [
    ("zh_CN", ["派单至 生态环境局", "已签收", "已超期（未在 ", "前办结）：已上报班长",
               "第 1 次回访失败（无人接听）；下次回访时间"]),
    ("en", ["dispatched to Ecology and Environment Bureau", "accepted", "overdue (not resolved by ",
            "): escalated to the supervisors",
            "return visit attempt 1 failed (no answer); next at"]),
])
async def test_a_departments_case_history_is_in_its_language(
    api_as, hotline, language: str, words: list[str],
) -> None:
    """What the hotline wrote in a case's history (the dispatch, the department's step, an
    escalation, a failed return visit) reads in the department's language, departments by
    name; the API gives the English text."""
    operator = await api_as("operator", "op1001")
    ecology = await api_as("department", department="ecology", username="eco7")
    await hotline.store.users.update("eco7", language=language)
    number = await new_case(operator)
    await step(operator, number, "dispatch", department="ecology")
    await step(ecology, number, "accept")
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    assert await hotline.store.cases.escalate(now, now + timedelta(days=365)) == [number]
    await step(ecology, number, "resolve", text="已处理")
    assert [c.number for c in await hotline.store.cases.claim_visits(
        now + timedelta(days=1), timedelta(minutes=5), 3, 10)] == [number]
    await hotline.store.cases.visit_failed(number, why=visit_reason("1"), now=now,
                                           max_attempts=3, retry_at=now + timedelta(hours=1))
    page = await (await ecology.get(f"/department/cases/{number}")).text()
    for said in words:
        assert said in page
    assert "已处理" in page  # the department's own words, as written
    history = (await (await operator.get(f"/api/cases/{number}")).json())["history"]
    assert history[-1]["note"].startswith("return visit attempt 1 failed (no answer); next at")
