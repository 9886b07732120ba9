"""The later stages of a caller's wait on the real Asterisk: any operator speaking the caller's
language, the general pool, the repeat caller's own operator first; autopause after an
unanswered ring; screen pops, answer times and transfers from what app_queue reports; an
emergency bulletin the flow plays until it is withdrawn.

The widening times are shortened (language after 6 s, general pool after 12 s, a repeat
caller's previous operator alone for 3 s) so each test
takes seconds; the times of the shipped policy are checked by the unit tests of plan_stages.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from ivr.app import Hotline
from ivr.core.records import CallRecord
from ivr.core.routing import RoutingPolicy, WideningStep
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.edges.storage.store import open_store
from ivr.operators.desk import OperatorDesk
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import HangUp, OperatorPhone, Phones, Press, Step, Wait

from .conftest import answered_by, finished_record, wait_until_free

pytestmark = pytest.mark.asterisk

FAST = RoutingPolicy(previous_operator_seconds=3, widening=(
    WideningStep(0, min_level=4),
    WideningStep(3, min_level=2),
    WideningStep(6, min_level=1, any_skill_with_language=True),
    WideningStep(12, min_level=1, any_skill_with_language=True, general_pool=True),
))


@pytest_asyncio.fixture
async def fast(cfg: Settings, sandbox: Sandbox) -> AsyncIterator[Hotline]:
    app = Hotline(dataclasses.replace(cfg, routing=FAST))
    await app.start()
    await app.ami.wait_connected(10)
    yield app
    await app.stop()


# A caller with an open case first hears its status read back (18 s), then the hint,
# which a key interrupts.
CASE_STATUS_SECONDS = 21.0


def call(language: str, key: str, then: float, *, open_case: bool = False) -> list[Step]:
    """Choose the language (1 Mandarin, 2 English), then one main-menu key; hang up later."""
    return [Wait(1.0), Press("1" if language == "zh" else "2"),
            Wait(CASE_STATUS_SECONDS if open_case else 1.5), Press(key), Wait(then), HangUp()]


@contextlib.asynccontextmanager
async def only_logged_in(desk: OperatorDesk, ami: AmiClient, *keep: str) -> AsyncIterator[None]:
    """Everyone else logged out for the test, logged back in (all skills) after it."""
    others = [op for op in desk.operator_ids() if op not in keep]
    for op in keep:
        await wait_until_free(ami, f"PJSIP/{op}")
    for op in others:
        await desk.logout(op)
    try:
        yield
    finally:
        for op in others:
            await desk.login(op)
            await desk.unpause(op)


def holds_of(hotline: Hotline, caller: str) -> list[tuple[str, int]]:
    """(queue, seconds waited in it) of each AgentConnect for the caller."""
    seen: list[tuple[str, int]] = []
    hotline.ami.on_event(
        lambda e: seen.append((e.get("Queue"), int(e.get("HoldTime") or 0)))
        if e.name == "AgentConnect" and e.get("CallerIDNum") == caller else None
    )
    return seen


async def test_nobody_with_the_skill_then_an_operator_speaking_the_language_answers(
    fast: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """Inquiry in Mandarin with the inquiry operator away: after the language step, an
    operator without the skill who speaks Mandarin answers, from the lang-zh queue."""
    desk = OperatorDesk(fast.settings, ami)
    holds = holds_of(fast, "13822230001")
    async with only_logged_in(desk, ami, "op1005"):
        # Nobody is free: the caller first hears their place (a few seconds), then waits.
        assert (await phones.call(call("zh", "2", then=22.0), caller="13822230001")).ok
    assert answered_by(operators, "13822230001") == ["op1005"]
    assert [queue for queue, _ in holds] == ["lang-zh"]
    record = await finished_record(fast, "13822230001")
    assert record.queue == "inquiry"
    why = " | ".join(record.route_reasons)
    assert "stage 2: any operator speaking zh from 6 s" in why
    answered = await _answered(fast, record.call_id)
    assert answered.operator == "op1005"
    assert (answered.wait_seconds or 0) >= 6
    # What app_queue did, from its events: nobody to ring in inquiry (the inquiry operator
    # is logged out), then op1005 rung and answering in the language stage.
    assert "lang-zh: rang op1005" in answered.queue_outcome
    assert any(line.startswith("lang-zh: answered by op1005 after ")
               and line.endswith("in line (any operator speaking zh)")
               for line in answered.queue_outcome), answered.queue_outcome


async def test_nobody_speaking_the_language_then_the_general_pool_answers(
    fast: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """Inquiry in English with only a Mandarin-only operator on duty: the general pool takes
    the call after 12 s (skill queue empty, nobody in lang-en)."""
    desk = OperatorDesk(fast.settings, ami)
    holds = holds_of(fast, "13822230002")
    async with only_logged_in(desk, ami, "op1005"):
        assert (await phones.call(call("en", "2", then=26.0), caller="13822230002")).ok
    assert answered_by(operators, "13822230002") == ["op1005"]
    assert [queue for queue, _ in holds] == [fast.settings.menu.general_queue]
    record = await finished_record(fast, "13822230002")
    assert record.language == "en"
    assert any("the general pool from 12 s" in r for r in record.route_reasons)


async def test_repeat_caller_reaches_the_operator_who_handled_the_open_case(
    fast: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """Suggestions normally ring the level-5 operator (op1003) first. A caller whose open case
    was handled by op1001 (level 3) is put through to op1001, who is free."""
    earlier = CallRecord(call_id="earlier-13822230003", channel="PJSIP/citizens-0",
                         caller="13822230003", language="zh",
                         arrived_at=datetime.now(UTC).isoformat())
    await fast.store.calls.save(earlier)
    await fast.store.calls.set_answered(earlier.call_id, "op1001", datetime.now(UTC), 5.0)
    case = await fast.store.cases.create(caller="13822230003", category="suggestion",
                                        now=datetime.now(UTC), call_id=earlier.call_id)
    for op in ("op1001", "op1003"):
        await wait_until_free(ami, f"PJSIP/{op}")
    assert (await phones.call(call("zh", "4", then=4.0, open_case=True),
                              caller="13822230003")).ok
    assert answered_by(operators, "13822230003") == ["op1001"]
    record = await finished_record(fast, "13822230003", earlier=(earlier.call_id,))
    assert any("op1001 handled the caller's open case" in r for r in record.route_reasons)
    assert any(case.number in r for r in record.route_reasons)
    # A caller without that history gets the level-5 operator.
    await wait_until_free(ami, "PJSIP/op1003")
    assert (await phones.call(call("zh", "4", then=4.0), caller="13822230004")).ok
    assert answered_by(operators, "13822230004") == ["op1003"]


async def test_an_operator_who_lets_a_call_ring_out_is_paused_automatically(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """op1002's phone rings past the queue's 15 s ring timeout: Asterisk pauses op1002 in
    every queue, the console and `ivr operators list` show it, and they get no more calls."""
    desk = OperatorDesk(hotline.settings, ami)
    await wait_until_free(ami, "PJSIP/op1002")
    await operators["op1002"].stop()
    slow = OperatorPhone(phones, "op1002", 5082, ring=25.0, talk=1.0)
    await slow.start()
    try:
        assert (await phones.call(call("zh", "2", then=18.0), caller="13822230005")).ok
        presence = (await desk.presence())["op1002"]
        assert presence.paused
        assert "auto" in presence.reason.lower(), presence.reason
        history = await hotline.store.operator_states.since(
            datetime.now(UTC) - timedelta(minutes=1), "op1002")
        assert any(h.state == "paused" for h in history), history
    finally:
        await slow.stop()
        await operators["op1002"].start()
        await desk.unpause("op1002")


async def test_screen_pop_then_answer_times_then_a_transfer_by_the_operator(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """The inquiry operator's console gets the pop when the phone rings (caller, reasons,
    previous cases); the record gets who answered; the operator transfers the citizen to a
    department number and the departments' gateway receives the citizen's call."""
    await hotline.store.cases.create(caller="13822230006", category="housing",
                                    now=datetime.now(UTC), description="earlier case")
    await wait_until_free(ami, "PJSIP/op1002")
    await operators["op1002"].stop()
    talker = OperatorPhone(phones, "op1002", 5082, ring=0.3, talk=12.0)
    gateway = OperatorPhone(phones, "gateway", 5099, talk=30.0)  # the citizen hangs up first
    await talker.start()
    await gateway.start()
    try:
        async with hotline.screen_pops.subscribe("op1002") as pops:
            task = asyncio.create_task(
                phones.call(call("zh", "2", then=16.0, open_case=True), caller="13822230006"))
            pop = await asyncio.wait_for(pops.get(), 45)  # after the case status (18 s)
            assert pop.caller == "13822230006"
            assert pop.operator_id == "op1002"
            assert [c["category"] for c in pop.previous_cases] == ["housing"]
            assert any("repeat caller with open case" in r for r in pop.route_reasons)
            for _ in range(50):
                if hotline.queue_events.caller_channel("op1002"):
                    break
                await asyncio.sleep(0.1)
            await hotline.transfers.transfer("op1002", "5550123")
            assert (await task).ok
        for _ in range(50):
            if gateway.calls():
                break
            await asyncio.sleep(0.2)
        assert gateway.called() == ["5550123"]
        assert gateway.calls() == ["13822230006"]
        record = await finished_record(hotline, "13822230006")
        answered = await _answered(hotline, record.call_id)
        assert answered.operator == "op1002"
    finally:
        await gateway.stop()
        await talker.stop()
        await operators["op1002"].start()


async def test_an_emergency_bulletin_is_played_until_withdrawn(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """A supervisor posts a bulletin in Mandarin: its audio is made, the next caller hears it
    (and nothing failed to play); once withdrawn, the next caller does not."""
    bulletin = await hotline.bulletins.post(
        {"zh": "今天下午三点前，朝阳区部分地区停水。"}, datetime.now(UTC) + timedelta(hours=1),
        "supervisor1",
    )
    audio = hotline.settings.asterisk_sounds / "zh" / "bulletins" / f"{bulletin.id}.wav"
    assert audio.stat().st_size > 8000  # at least half a second of 8 kHz audio
    try:
        await wait_until_free(ami, "PJSIP/op1002")
        # The bulletin cannot be skipped: the menu key comes after it.
        listen: list[Step] = [Wait(1.0), Press("1"), Wait(14.0), Press("2"), Wait(4.0), HangUp()]
        assert (await phones.call(listen, caller="13822230007")).ok
        heard = await finished_record(hotline, "13822230007")
        assert heard.queue == "inquiry"
        assert heard.variables.get("bulletin_heard") == str(bulletin.id)
        assert "prompts_failed" not in heard.variables
    finally:
        await hotline.bulletins.withdraw(bulletin.id, "supervisor1")
    await asyncio.sleep(1.1)  # the active bulletin is cached for a second
    await wait_until_free(ami, "PJSIP/op1002")
    assert (await phones.call(call("zh", "2", then=4.0), caller="13822230008")).ok
    after = await finished_record(hotline, "13822230008")
    assert "bulletin_heard" not in after.variables
    [entry] = [a for a in await hotline.store.audit.latest() if a.action == "bulletin.post"
               and a.target == f"bulletin {bulletin.id}"]
    assert entry.actor == "supervisor1"


async def _answered(hotline: Hotline, call_id: str, timeout: float = 5.0) -> CallRecord:
    for _ in range(int(timeout * 10)):
        record = await hotline.store.calls.get(call_id)
        if record is not None and record.operator:
            return record
        await asyncio.sleep(0.1)
    raise AssertionError(f"no operator recorded for {call_id}")


async def test_a_callback_lost_in_a_restart_is_attempted_again(
    cfg: Settings, sandbox: Sandbox, phones: Phones,
    operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """The application had sent a callback's stand-in when it died and Asterisk restarted
    (the stand-in is gone). The next start finds the waiting request, records the lost
    attempt and tries again: the operator is rung, then the citizen."""
    store = open_store(cfg.database_url, cfg.state_dir)
    await store.open()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    request = await store.callbacks.add(
        call_id="lost-13822230009", number="13822230009", skill="inquiry", priority=0,
        position=1, arrived_at=now, requested_at=now,
    )
    request.attempts.append({"n": "1", "at": now, "result": "queued"})
    await store.callbacks.update(request)
    await store.close()
    await wait_until_free(ami, "PJSIP/op1002")
    citizens = OperatorPhone(phones, "gateway", 5098, talk=1.0)
    await citizens.start()
    app = Hotline(cfg)
    await app.start()
    try:
        await app.ami.wait_connected(10)
        for _ in range(150):
            [request] = [r for r in await app.store.callbacks.listing() if r.id == request.id]
            if request.status != "waiting":
                break
            await asyncio.sleep(0.2)
    finally:
        await app.stop()
        await citizens.stop()
    assert request.status == "done"
    assert [a["result"] for a in request.attempts] == [
        "lost: application or Asterisk restarted", "citizen: ANSWER"]
    assert citizens.called() == ["13822230009"]
    assert "13822230009" in operators["op1002"].calls()
