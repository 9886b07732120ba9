"""Live supervision and the warm transfer on the real Asterisk: a supervisor, from the web,
has their own SIPp phone called into a live call (ChanSpy on the operator's channel), and the
action is in the audit log; an operator is refused. An operator consults a department (the
citizen on hold), then completes the transfer: the citizen talks to the department."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from ivr.accounts.service import create_account
from ivr.app import Hotline
from ivr.edges.ami import AmiClient
from ivr.operators.desk import OperatorDesk
from ivr.testbed.sipp import OperatorPhone, Phones

from .conftest import finished_record
from .test_routing_stages import call, only_logged_in

pytestmark = pytest.mark.asterisk
OP, DESK = "op1002", "op1004"  # Li Wei (inquiry) takes the call; Chen Jing's desk phone


@contextlib.asynccontextmanager
async def web_session(hotline: Hotline, role: str,
                      operator_id: str) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """A logged-in HTTP session on the hotline's own web server, and its CSRF token."""
    name = f"{role}-{datetime.now(UTC):%H%M%S%f}"
    _, password = await create_account(hotline.store.users, name, role, operator_id=operator_id)
    base = f"http://{hotline.settings.web_host}:{hotline.settings.web_port}"
    # unsafe: the cookie jar keeps cookies of an IP address (127.0.0.1) too.
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        login = await session.post("/login", json={"username": name, "password": password})
        assert login.status == 200, await login.text()
        yield session, str((await login.json())["csrf"])


async def channels(ami: AmiClient) -> list[dict[str, str]]:
    messages = await ami.action("CoreShowChannels", as_list=True)
    return [m for m in messages if m.get("Event") == "CoreShowChannel"]


async def hang_up_left(ami: AmiClient, caller: str) -> None:
    """A failed test leaves no channel of its own behind (SIPp stopped sends no BYE)."""
    for c in await channels(ami):
        if c.get("CallerIDNum") == caller or c["Channel"].startswith(
                (f"PJSIP/{OP}-", f"PJSIP/{DESK}-", "PJSIP/departments-", "Local/")):
            with contextlib.suppress(Exception):
                await ami.action("Hangup", {"Channel": c["Channel"]})


async def eventually(what: str, check: object, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


async def test_a_supervisor_listens_to_a_live_call_and_an_operator_may_not(
    hotline: Hotline, phones: Phones, ami: AmiClient,
) -> None:
    desk = OperatorDesk(hotline.settings, ami)
    talker = OperatorPhone(phones, OP, 5082, ring=0.3, talk=14.0)
    supervisor_phone = OperatorPhone(phones, DESK, 5084, ring=0.3, talk=6.0)
    await talker.start()
    await supervisor_phone.start()
    await desk.login(OP)
    await desk.unpause(OP)
    try:
        async with only_logged_in(desk, ami, OP), \
                web_session(hotline, "supervisor", DESK) as (boss, boss_csrf), \
                web_session(hotline, "operator", "op1001") as (wang, wang_csrf):
            caller = "13822230101"
            task = asyncio.create_task(phones.call(call("zh", "2", then=16.0), caller=caller))

            async def answered() -> bool:
                return hotline.queue_events.live_call(OP) is not None
            await eventually("the operator answers", answered, 30)

            board = await (await boss.get("/supervision/data")).json()
            assert "operators" in board, board
            row = next(r for r in board["operators"] if r["operator_id"] == OP)
            assert row["caller"] == caller
            assert row["state"] == "on_call"

            body = {"operator": OP, "mode": "listen", "phone": "op1001"}
            refused = await wang.post("/supervision/spy", json=body,
                                      headers={"X-CSRF-Token": wang_csrf})
            assert refused.status == 403
            done = await boss.post("/supervision/spy", json={"operator": OP, "mode": "listen"},
                                   headers={"X-CSRF-Token": boss_csrf})
            assert done.status == 200, await done.text()

            spies: list[dict[str, str]] = []

            async def spying() -> bool:
                spies[:] = [c for c in await channels(ami) if c.get("Application") == "ChanSpy"]
                return bool(spies)
            await eventually("a ChanSpy channel on the operator's call", spying)
            assert spies[0]["Channel"].startswith(f"PJSIP/{DESK}-")
            assert spies[0]["ApplicationData"].startswith(f"PJSIP/{OP}-")
            assert (await task).ok
        # The supervisor's phone answered the spy call (from the operator's id).
        assert supervisor_phone.calls() == [OP]
        entries = await hotline.store.audit.latest()
        spied = [e for e in entries if e.action.startswith("call.spy")]
        assert [(e.action, e.target, e.detail["phone"]) for e in spied] == [
            ("call.spy.listen", OP, DESK)]
        assert spied[0].actor.startswith("supervisor-")
    finally:
        await supervisor_phone.stop()
        await talker.stop()
        await hang_up_left(ami, "13822230101")


async def test_a_warm_transfer_consults_the_department_then_completes(
    hotline: Hotline, phones: Phones, ami: AmiClient,
) -> None:
    desk = OperatorDesk(hotline.settings, ami)
    talker = OperatorPhone(phones, OP, 5082, ring=0.3, talk=30.0)
    gateway = OperatorPhone(phones, "gateway", 5099, talk=40.0)  # the citizen hangs up first
    await talker.start()
    await gateway.start()
    await desk.login(OP)
    await desk.unpause(OP)
    try:
        async with only_logged_in(desk, ami, OP), \
                web_session(hotline, "operator", OP) as (li, csrf):
            caller = "13822230102"
            task = asyncio.create_task(phones.call(call("zh", "2", then=26.0), caller=caller))

            async def answered() -> bool:
                return hotline.queue_events.live_call(OP) is not None
            await eventually("the operator answers", answered, 30)
            consult = await li.post("/console/consult", json={"target": "5550125"},
                                    headers={"X-CSRF-Token": csrf})
            assert consult.status == 200, await consult.text()

            async def consulted() -> bool:
                return bool(gateway.calls())
            await eventually("the department answers the consultation", consulted)
            assert gateway.called() == ["5550125"]
            done = await li.post("/console/consult/complete", headers={"X-CSRF-Token": csrf})
            assert done.status == 200, await done.text()

            async def joined() -> bool:
                # The operator has left; the citizen and the department's leg are still up
                # (joined through the consultation's Local channel).
                now = await channels(ami)
                return (not [c for c in now if c["Channel"].startswith(f"PJSIP/{OP}-")]
                        and any(c.get("CallerIDNum") == caller and c.get("BridgeId")
                                for c in now)
                        and any(c["Channel"].startswith("PJSIP/departments-")
                                and c.get("BridgeId") for c in now))
            await eventually("the citizen talks to the department", joined)
            assert (await task).ok
        record = await finished_record(hotline, caller, timeout=15)
        lines = "\n".join(record.queue_outcome)
        assert f"warm transfer by {OP}: consulted department number 5550125" in lines
        assert "completed: citizen connected to department number 5550125" in lines
        actions = [e.action for e in await hotline.store.audit.latest()
                   if e.target == OP and e.action.startswith("call.")][:2]
        assert actions == ["call.transfer.warm", "call.consult"]
    finally:
        await gateway.stop()
        await talker.stop()
        await hang_up_left(ami, "13822230102")
