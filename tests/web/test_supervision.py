"""Live supervision over HTTP: the per-operator board (state, since when, caller, calls today,
average handle time) and listen / whisper / barge in, refused below the supervisor role and
audited; the console's warm transfer (consult, then complete or return), audited."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from ivr.core.protocols.ami import AmiEvent
from ivr.operators.queue_events import OperatorCall
from tests.web.conftest import ApiSession, WebHotline

OP, DESK = "op1002", "op1004"  # Li Wei on a call; the supervisor's desk phone


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'web.sqlite3'}"


def on_call(hotline: WebHotline, caller: str = "13900001111") -> None:
    hotline.calls[OP] = OperatorCall("1700000000.42", caller, f"PJSIP/{OP}-0000002a",
                                     time.time() - 30)


def completed_calls(hotline: WebHotline, talks: list[float]) -> None:
    """Li Wei completed calls today with these talk times (real LiveFigures events)."""
    now = time.time()
    for n, talk in enumerate(talks):
        fields = {"Queue": "inquiry", "Uniqueid": f"u{n}", "Interface": f"PJSIP/{OP}",
                  "HoldTime": "2", "TalkTime": str(talk)}
        hotline.figures.apply(AmiEvent("AgentConnect", fields), now - talk)
        hotline.figures.apply(AmiEvent("AgentComplete", fields), now)


async def test_an_operator_may_not_see_the_board_nor_listen(
    api_as: Any, hotline: WebHotline
) -> None:
    wang: ApiSession = await api_as("operator", operator_id="op1001")
    on_call(hotline)
    page = await wang.get("/supervision", allow_redirects=False)
    assert page.status == 403
    data = await wang.get("/supervision/data")
    assert data.status == 403
    for mode in ("listen", "whisper", "barge"):
        refused = await wang.post("/supervision/spy",
                                  json={"operator": OP, "mode": mode, "phone": "op1001"})
        assert refused.status == 403
        assert (await refused.json())["error"] == "forbidden"
    assert hotline.spies == []
    assert not [e for e in await hotline.store.audit.latest() if e.action.startswith("call.spy")]


async def test_the_board_shows_each_operator_live(api_as: Any, hotline: WebHotline) -> None:
    boss: ApiSession = await api_as("supervisor", operator_id=DESK)
    await hotline.operators.login(OP)
    hotline.operators.state[OP] = dataclasses.replace(hotline.operators.state[OP], in_call=True)
    on_call(hotline, "13900002222")
    completed_calls(hotline, [60.0, 120.0])
    page = await boss.get("/supervision")
    assert page.status == 200
    assert "实时监控" in await page.text()  # "Live supervision", zh-CN first
    body = await (await boss.get("/supervision/data")).json()
    rows = {row["operator_id"]: row for row in body["operators"]}
    assert set(rows) == set(hotline.settings.operators)
    li = rows[OP]
    assert li["state"] == "on_call"
    assert li["caller"] == "13900002222"
    assert 25 <= body["at"] - li["since"] <= 60
    assert li["calls_today"] == 2
    assert li["aht_seconds"] == pytest.approx(90.0 + 3.0)  # talk plus the queues' wrap-up
    assert rows["op1001"]["caller"] is None
    assert rows["op1001"]["state"] == "logged_out"
    assert rows["op1001"]["calls_today"] == 0


async def test_a_supervisor_listens_on_their_own_phone_and_it_is_audited(
    api_as: Any, hotline: WebHotline
) -> None:
    boss: ApiSession = await api_as("supervisor", operator_id=DESK)
    no_call = await boss.post("/supervision/spy", json={"operator": OP, "mode": "listen"})
    assert no_call.status == 409
    on_call(hotline)
    for mode in ("listen", "whisper", "barge"):
        done = await boss.post("/supervision/spy", json={"operator": OP, "mode": mode})
        assert done.status == 200, await done.text()
        assert (await done.json())["ringing"] == DESK
    assert hotline.spies == [(OP, "listen", DESK), (OP, "whisper", DESK), (OP, "barge", DESK)]
    entries = [e for e in await hotline.store.audit.latest() if e.action.startswith("call.spy")]
    assert [(e.actor, e.action, e.target) for e in reversed(entries)] == [
        (boss.username, "call.spy.listen", OP), (boss.username, "call.spy.whisper", OP),
        (boss.username, "call.spy.barge", OP)]
    assert entries[0].detail == {"phone": DESK, "call": "1700000000.42"}


async def test_spying_needs_a_known_operator_mode_and_phone(
    api_as: Any, hotline: WebHotline
) -> None:
    on_call(hotline)
    unlinked: ApiSession = await api_as("admin")
    no_phone = await unlinked.post("/supervision/spy", json={"operator": OP, "mode": "listen"})
    assert no_phone.status == 400
    assert (await no_phone.json())["error"] == "no_phone"
    for body, error in (
        ({"operator": "op9999", "mode": "listen", "phone": DESK}, "bad_operator"),
        ({"operator": OP, "mode": "record", "phone": DESK}, "bad_mode"),
        ({"operator": OP, "mode": "listen", "phone": "PJSIP/evil,qB"}, "no_phone"),
        ({"operator": "PJSIP/op1002-1,B", "mode": "listen", "phone": DESK}, "bad_operator"),
    ):
        refused = await unlinked.post("/supervision/spy", json=body)
        assert refused.status == 400, body
        assert (await refused.json())["error"] == error
    no_token = await unlinked.client.post(
        "/supervision/spy", json={"operator": OP, "mode": "listen", "phone": DESK})
    assert no_token.status == 403
    assert hotline.spies == []
    chosen = await unlinked.post("/supervision/spy",
                                 json={"operator": OP, "mode": "listen", "phone": DESK})
    assert chosen.status == 200
    assert hotline.spies == [(OP, "listen", DESK)]


async def test_a_warm_transfer_consults_then_completes_or_returns(
    api_as: Any, hotline: WebHotline
) -> None:
    li: ApiSession = await api_as("operator", operator_id=OP)
    no_call = await li.post("/console/consult", json={"target": "88001"})
    assert no_call.status == 409
    assert (await li.post("/console/consult", json={"target": "88a"})).status == 400
    await hotline.operators.login(OP)
    hotline.operators.state[OP] = dataclasses.replace(hotline.operators.state[OP], in_call=True)
    nothing_held = await li.post("/console/consult/complete")
    assert nothing_held.status == 409
    assert (await li.post("/console/consult", json={"target": "88001"})).status == 200
    back = await li.post("/console/consult/return")
    assert (await back.json()) == {"returned": True, "target": "88001"}
    assert hotline.transfers == []
    assert (await li.post("/console/consult", json={"target": "88002"})).status == 200
    done = await li.post("/console/consult/complete")
    assert (await done.json()) == {"transferred": True, "target": "88002"}
    assert hotline.transfers == [(OP, "88002")]
    entries = [(e.action, e.detail["to"]) for e in await hotline.store.audit.latest()
               if e.action.startswith("call.")]
    assert list(reversed(entries)) == [
        ("call.consult", "88001"), ("call.consult.return", "88001"),
        ("call.consult", "88002"), ("call.transfer.warm", "88002")]
