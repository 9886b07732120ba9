"""Operator console over HTTP and WebSocket: who may open it, state, screen pops, transfer."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr.core.protocols.ami import AmiEvent
from ivr.core.screen_pops import ScreenPop
from ivr.web import console
from tests.web.conftest import ApiSession, WebHotline

Client = TestClient[web.Request, web.Application]

OP = "op1001"  # Wang Fang: skills report, suggestion


def pop(call_id: str = "call-1", **fields: Any) -> ScreenPop:
    values: dict[str, Any] = {
        "caller": "13800138000", "language": "zh", "queue": "report", "skill": "report",
        "transcript": "water leak", "intent": "water", "category": "water",
    }
    values.update(fields)
    return ScreenPop(call_id, OP, **values)


async def test_console_needs_a_login(anonymous: Client) -> None:
    """Anonymous: the page sends to /login, the JSON and the WebSocket answer 401."""
    page = await anonymous.get("/console", allow_redirects=False)
    assert page.status == 302
    assert page.headers["Location"].startswith("/login")
    state = await anonymous.get("/console/state")
    assert state.status == 401
    assert (await state.json())["error"] == "not_logged_in"
    ws = await anonymous.get("/console/ws")
    assert ws.status == 401


async def test_account_without_operator_is_told_so(api_as: Any) -> None:
    """A supervisor not linked to an operator sees why; the console's JSON refuses them."""
    sue: ApiSession = await api_as("supervisor")
    page = await sue.get("/console")
    assert page.status == 200
    assert "此账户未关联话务员" in await page.text()  # "not linked to an operator"
    state = await sue.get("/console/state")
    assert state.status == 403
    assert (await state.json())["error"] == "not_an_operator"


async def test_supervisor_linked_to_an_operator_may_use_the_console(api_as: Any) -> None:
    """A supervisor whose account has an operator id gets that operator's console."""
    sue: ApiSession = await api_as("supervisor", operator_id=OP)
    state = await sue.get("/console/state")
    assert state.status == 200
    assert (await state.json())["operator_id"] == OP


async def test_state_follows_login_pause_and_logout(api_as: Any) -> None:
    """Logged out, then available with the chosen skill, paused with a reason, wrap-up."""
    wang: ApiSession = await api_as("operator", operator_id=OP)

    async def state() -> dict[str, Any]:
        # fresh=1, as the page asks right after an action: no presence cached a moment ago
        response = await wang.get("/console/state", params={"fresh": "1"})
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body

    first = await state()
    assert (first["state"], first["skills"]) == ("logged_out", {"report": 5, "suggestion": 3})
    assert "Complaints Office" in first["departments"]
    assert first["skill_departments"]["report"] == "Complaints Office"
    api = f"/api/operators/{OP}"
    response = await wang.post(f"{api}/login", json={"skills": ["report"]})
    assert response.status == 200, await response.text()
    available = await state()
    assert (available["state"], available["queues"]) == ("available", ["report"])
    await wang.post(f"{api}/pause", json={"reason": "meal"})
    paused = await state()
    assert (paused["state"], paused["reason"]) == ("paused", "meal")
    await wang.post(f"{api}/pause", json={"reason": "wrap-up"})
    assert (await state())["state"] == "wrap_up"
    await wang.post(f"{api}/logout", json={})
    assert (await state())["state"] == "logged_out"


async def test_consoles_polling_share_one_presence_query_a_second(
    api_as: Any, hotline: WebHotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many consoles polling at once cost Asterisk one QueueStatus, not one each."""
    queries = 0
    desk_presence = hotline.operators.presence

    async def counted() -> dict[str, Any]:
        nonlocal queries
        queries += 1
        return await desk_presence()

    monkeypatch.setattr(hotline.operators, "presence", counted)
    wang: ApiSession = await api_as("operator", operator_id=OP)
    li: ApiSession = await api_as("operator", operator_id="op1002")
    answers = await asyncio.gather(*(
        session.get("/console/state") for session in (wang, li) * 5))
    assert [a.status for a in answers] == [200] * 10
    assert queries == 1
    await asyncio.sleep(console.PRESENCE_TTL_SECONDS + 0.05)
    assert (await wang.get("/console/state")).status == 200
    assert queries == 2


async def test_presence_comes_from_the_live_figures_once_they_hold_asterisks_snapshot(
    api_as: Any, hotline: WebHotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the live figures have loaded Asterisk's QueueStatus snapshot, the console's state
    follows the AMI events they apply (a pause, a call) without asking Asterisk again: at
    Beijing's size a whole QueueStatus per second lists every queue and member."""
    asked = 0

    async def counted() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {}

    monkeypatch.setattr(hotline.operators, "presence", counted)
    interface = hotline.settings.operators[OP].interface
    member = {"Queue": "report", "Location": interface, "StateInterface": interface,
              "Name": "Wang Fang", "Status": "1", "Paused": "0", "InCall": "0",
              "Penalty": "0"}
    at = hotline.clock.time()
    hotline.figures.load_snapshot(
        [AmiEvent("QueueParams", {"Queue": "report"}), AmiEvent("QueueMember", member),
         AmiEvent("QueueMember", {**member, "Queue": "suggestion"})], at)
    wang: ApiSession = await api_as("operator", operator_id=OP)

    async def state() -> dict[str, Any]:
        response = await wang.get("/console/state", params={"fresh": "1"})
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body

    first = await state()
    assert (first["state"], first["queues"]) == ("available", ["report", "suggestion"])
    hotline.figures.apply(AmiEvent("QueueMemberPause", {
        **member, "Paused": "1", "PausedReason": "meal"}), at + 1)
    console.forget_presence(wang.client.app)
    paused = await state()
    assert (paused["state"], paused["reason"]) == ("paused", "meal")
    hotline.figures.apply(AmiEvent("QueueMemberRemoved", member), at + 2)
    hotline.figures.apply(AmiEvent("QueueMemberRemoved", {**member, "Queue": "suggestion"}),
                          at + 2)
    console.forget_presence(wang.client.app)
    assert (await state())["state"] == "logged_out"
    assert asked == 0


async def test_websocket_sends_current_pop_then_new_ones(
    api_as: Any, hotline: WebHotline
) -> None:
    """A console gets the call in progress on connect and each new pop as it is published."""
    wang: ApiSession = await api_as("operator", operator_id=OP)
    async with wang.client.ws_connect("/console/ws") as ws:
        hello = await ws.receive_json(timeout=2)
        assert hello == {"type": "hello", "operator_id": OP, "pop": None}
        assert hotline.screen_pops.publish(pop(transcript="<b>water</b> leak")) == 1
        message = await ws.receive_json(timeout=2)
        assert message["type"] == "pop"
        assert message["pop"]["transcript"] == "<b>water</b> leak"
        await ws.send_str("ping")
        assert await ws.receive_json(timeout=2) == {"type": "pong"}
    async with wang.client.ws_connect("/console/ws") as again:
        hello = await again.receive_json(timeout=2)
        assert hello["pop"]["call_id"] == "call-1"
    hotline.screen_pops.clear(OP)
    async with wang.client.ws_connect("/console/ws") as after:
        assert (await after.receive_json(timeout=2))["pop"] is None


async def test_websocket_from_another_site_is_refused(api_as: Any) -> None:
    """A page on another origin cannot open the console's socket with the operator's cookie."""
    wang: ApiSession = await api_as("operator", operator_id=OP)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await wang.client.ws_connect("/console/ws", origin="http://evil.example")
    assert refused.value.status == 403


async def test_transfer_needs_a_call_a_number_and_the_csrf_token(
    api_as: Any, hotline: WebHotline
) -> None:
    """Errors are clear JSON; with a call in progress the caller is transferred."""
    wang: ApiSession = await api_as("operator", operator_id=OP)
    no_token = await wang.client.post("/console/transfer", json={"target": "88001"})
    assert no_token.status == 403
    bad = await wang.post("/console/transfer", json={"target": "88a"})
    assert bad.status == 400
    assert "部门号码" in (await bad.json())["message"]  # "a department number"
    no_call = await wang.post("/console/transfer", json={"target": "88001"})
    assert no_call.status == 409
    assert "no call" in (await no_call.json())["message"]
    await hotline.operators.login(OP)
    hotline.operators.state[OP] = dataclasses.replace(hotline.operators.state[OP], in_call=True)
    done = await wang.post("/console/transfer", json={"target": "88001"})
    assert done.status == 200
    assert hotline.transfers == [(OP, "88001")]


async def test_socket_closes_when_the_session_ends(
    api_as: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After logging out, an open console stops receiving callers' data."""
    monkeypatch.setattr(console, "SESSION_RECHECK_SECONDS", 0.05)
    wang: ApiSession = await api_as("operator", operator_id=OP)
    async with wang.client.ws_connect("/console/ws") as ws:
        await ws.receive_json(timeout=2)
        await asyncio.sleep(0.2)  # several checks pass while the session lives
        assert not ws.closed
        logout = await wang.post("/logout", allow_redirects=False)
        assert logout.status == 303
        message = await ws.receive(timeout=2)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == console.SESSION_ENDED_CLOSE


async def test_a_transfer_is_audited(api_as: Any, hotline: WebHotline) -> None:
    """Who sent which operator's caller where, in the audit log."""
    wang: ApiSession = await api_as("operator", operator_id=OP)
    await hotline.operators.login(OP)
    hotline.operators.state[OP] = dataclasses.replace(hotline.operators.state[OP], in_call=True)
    assert (await wang.post("/console/transfer", json={"target": "88001"})).status == 200
    entry = (await hotline.store.audit.latest())[0]
    assert (entry.actor, entry.action, entry.target) == (wang.username, "call.transfer", OP)
    assert entry.detail == {"to": "88001"}
