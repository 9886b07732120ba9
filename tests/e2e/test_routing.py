"""Skill routing on the real Asterisk: paused operators, priorities, why a call went where,
and operator states rebuilt after the AMI link drops."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime

import aiohttp
import pytest

from ivr.app import Hotline
from ivr.core.routing import OperatorState
from ivr.edges.ami import AmiClient
from ivr.operators.desk import OperatorDesk
from ivr.testbed.sipp import AwaitHangUp, HangUp, OperatorPhone, Phones, Press, Step, Wait

from ..adapter.test_metrics import metric_names, samples, shipped_expressions
from .conftest import answered_by, finished_record, wait_until_free

pytestmark = pytest.mark.asterisk


# A caller with an open case first hears its status read back (number and state, 18 s) and
# then the hint, which a key interrupts: their first main-menu key comes during the hint.
CASE_STATUS_SECONDS = 21.0


def keys(*pressed: str, then: float = 4.0, open_case: bool = False) -> list[Step]:
    """Mandarin, then the keys, one per menu; stay on the line ``then`` seconds and hang up."""
    steps: list[Step] = [Wait(1.0), Press("1")]
    for n, key in enumerate(pressed):
        steps += [Wait(CASE_STATUS_SECONDS if open_case and n == 0 else 1.5), Press(key)]
    return [*steps, Wait(then), HangUp()]


async def test_paused_operator_gets_nothing_and_the_search_widens_after_30_s(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """With the level-4 traffic operator on a break, the level-3 one is rung, but only once
    the caller has waited 30 s and the search widened from level 4+ to level 2+."""
    desk = OperatorDesk(hotline.settings, ami)
    await desk.pause("op1005", "break")
    try:
        await wait_until_free(ami, "PJSIP/op1007")
        holds: list[str] = []
        hotline.ami.on_event(
            lambda e: holds.append(e.get("HoldTime"))
            if e.name == "AgentConnect" and e.get("CallerIDNum") == "13822220001" else None
        )
        assert (await phones.call(keys("1", "2", then=40.0), caller="13822220001")).ok
        assert answered_by(operators, "13822220001") == ["op1007"]
        assert operators["op1005"].calls("REACHED") == []
        assert holds, "no AgentConnect event for the call"
        assert 29 <= int(holds[0]) <= 36, holds
        record = await finished_record(hotline, "13822220001")
        assert any(r.startswith("widening: ") and "after 30 s" in r for r in record.route_reasons)
        # The call record says what app_queue did: the paused operator skipped, who answered.
        for _ in range(50):
            stored = await hotline.store.calls.get(record.call_id)
            if stored is not None and stored.queue_outcome:
                break
            await asyncio.sleep(0.1)
        assert stored is not None
        assert stored.queue_outcome[0].startswith("traffic (the traffic queue): skipped ")
        assert "op1005 (paused)" in stored.queue_outcome[0]
        assert stored.queue_outcome[-1].startswith("traffic: answered by op1007 after ")
        presence = await desk.presence()
        assert presence["op1005"].state == "paused (break)"
    finally:
        await desk.unpause("op1005")


async def test_repeat_caller_with_an_open_case_overtakes_and_the_reasons_say_why(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """Two callers wait for inquiry; the one calling again about an open case, who arrived
    second, is answered first; the stored reasons name the rule, the levels and the skill."""
    case = await hotline.store.cases.create(
        caller="13822220003", category="inquiry", now=datetime.now(UTC)
    )
    desk = OperatorDesk(hotline.settings, ami)
    await wait_until_free(ami, "PJSIP/op1002")
    await desk.pause("op1002", "meeting")
    # The repeat caller hears their case's status first: they call before the other caller
    # but reach the queue after them.
    second = asyncio.create_task(phones.call(keys("2", then=25.0, open_case=True),
                                             caller="13822220003"))
    await asyncio.sleep(12.0)
    first = asyncio.create_task(phones.call(keys("2", then=35.0), caller="13822220002"))
    await asyncio.sleep(24.0)  # both have heard their place and wait in the inquiry queue
    await desk.unpause("op1002")
    assert (await first).ok
    assert (await second).ok
    answered = operators["op1002"].calls()
    assert answered[:2] == ["13822220003", "13822220002"]
    normal = await finished_record(hotline, "13822220002")
    repeat = await finished_record(hotline, "13822220003")
    assert repeat.priority == (normal.priority or 0) + 1
    why = " | ".join(repeat.route_reasons)
    assert f"repeat caller with open case {case.number}" in why
    assert "op1002 level 5" in why
    assert "flow node route_inquiry" in why
    # Nobody could answer at once: each caller was told their place. The repeat caller found
    # the first one waiting but goes ahead of them, and was told so (first in line). With the
    # only inquiry operator away there is no honest wait estimate, and none is made up.
    assert normal.variables["queue_position"] == "1"
    assert repeat.variables["queue_position"] == "1"
    assert repeat.variables["expected_wait_minutes"] == "unknown"


async def test_ami_link_dropped_mid_traffic_is_restored_and_states_resynced(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """The application's AMI link drops; while it is down an operator pauses and loses a
    queue. After the reconnect the application knows the pause and restores the queue; calls
    kept flowing all along."""
    desk = OperatorDesk(hotline.settings, ami)
    reconnects = hotline.ami.reconnects
    await hotline.ami.reconnect()  # the link drops, as when a network blips
    await desk.pause("op1003", "training")
    await ami.action("QueueRemove", {"Queue": "suggestion", "Interface": "PJSIP/op1003"})
    await wait_until_free(ami, "PJSIP/op1002")
    assert (await phones.call(keys("2"), caller="13822220004")).ok  # during the outage
    assert answered_by(operators, "13822220004") == ["op1002"]
    await hotline.ami.wait_connected(15)
    for _ in range(50):
        if "suggestion" in (await desk.presence())["op1003"].queues:
            break
        await asyncio.sleep(0.1)
    try:
        assert hotline.ami.reconnects > reconnects
        assert "suggestion" in (await desk.presence())["op1003"].queues  # restored by resync
        states = hotline.figures.operator_states("case_status", time.time())
        assert states["PJSIP/op1003"] is OperatorState.PAUSED
    finally:
        await desk.unpause("op1003")


async def test_callback_keeps_its_place_and_rings_the_operator_then_the_citizen(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """A caller first in line presses 1 to be called back. Another caller is behind them.
    When the operator is free, the callback comes first: the operator's phone rings, then the
    citizen's; the caller behind is answered after. Every attempt is recorded."""
    desk = OperatorDesk(hotline.settings, ami)
    await wait_until_free(ami, "PJSIP/op1002")
    await desk.pause("op1002", "meeting")
    citizens = OperatorPhone(phones, "gateway", 5098, talk=1.0)  # citizens' phones, outside
    await citizens.start()
    try:
        first: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("2"), Wait(9.5), Press("1"),
                             AwaitHangUp(30)]
        a = asyncio.create_task(phones.call(first, caller="13822220005"))
        await asyncio.sleep(2.0)
        b = asyncio.create_task(phones.call(keys("2", then=40.0), caller="13822220006"))
        assert (await a).ok  # A heard the confirmation and was hung up on
        await asyncio.sleep(2.0)
        await desk.unpause("op1002")
        assert (await b).ok
        for _ in range(50):
            if citizens.calls():
                break
            await asyncio.sleep(0.2)
    finally:
        await citizens.stop()
    assert operators["op1002"].calls()[:2] == ["13822220005", "13822220006"]
    assert citizens.called() == ["13822220005"]
    [request] = [r for r in await hotline.store.callbacks.listing() if r.number == "13822220005"]
    for _ in range(50):
        [request] = [r for r in await hotline.store.callbacks.listing()
                     if r.number == "13822220005"]
        if request.status != "waiting":
            break
        await asyncio.sleep(0.2)
    assert request.status == "done"
    assert request.position == 1
    assert [a["result"] for a in request.attempts] == ["citizen: ANSWER"]
    record = await finished_record(hotline, "13822220005")
    assert record.outcome == "callback_requested"


async def test_metrics_and_health_show_the_live_state(
    hotline: Hotline, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """/metrics shows per-skill figures from Asterisk's events (a paused operator counted as
    paused in each of their skills); /healthz says the AMI link is up; Asterisk's own
    /metrics (res_prometheus) has every ``asterisk_*`` metric the shipped dashboard and alert
    rules use."""
    desk = OperatorDesk(hotline.settings, ami)
    await desk.pause("op1006", "training")
    paused = ("ivr_skill_operators", (("skill", "housing"), ("state", "paused")))
    try:
        base = f"http://127.0.0.1:{hotline.settings.web_port}"
        async with aiohttp.ClientSession() as session:
            for _ in range(30):
                async with session.get(f"{base}/metrics") as response:
                    assert response.status == 200
                    got = samples(await response.text())
                if got.get(paused) == 1:
                    break
                await asyncio.sleep(0.1)
            async with session.get(f"{base}/healthz") as response:
                health = await response.json()
            async with session.get("http://127.0.0.1:8088/metrics") as response:
                assert response.status == 200
                # The names as written (the parser would rename a counter to *_total).
                asterisk = {re.split(r"[{\s]", line, maxsplit=1)[0]
                            for line in (await response.text()).splitlines()
                            if line and not line.startswith("#")}
        assert got[paused] == 1
        assert got[("ivr_skill_operators", (("skill", "utilities"), ("state", "paused")))] == 1
        assert got[("ivr_skill_waiting_calls", (("skill", "inquiry"),))] == 0
        assert ("ivr_speech_pool_capacity", ()) in got
        assert got[("ivr_ami_connected", ())] == 1
        used = {name for _, expr in shipped_expressions() for name in metric_names(expr)
                if name.startswith("asterisk_")}
        assert used
        assert used <= asterisk, used - asterisk
        assert health["ami_connected"] is True
        assert health["flow"] == "12345"
    finally:
        await desk.unpause("op1006")
