"""Faults on the real test bed: a caller hanging up at every node of the flow, a caller giving
up in the queue, Asterisk restarted while a callback waits in line, bad peers on the
AudioSocket port."""

from __future__ import annotations

import asyncio
import os
import wave
from datetime import UTC, datetime

import pytest

from ivr.app import Hotline
from ivr.edges.ami import AmiClient
from ivr.operators.desk import OperatorDesk
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import AwaitHangUp, HangUp, OperatorPhone, Phones, Press, Say, Step, Wait

from .conftest import answered_by, finished_record, wait_until_free
from .test_speech import CONFIRM_AFTER, PROMPT_SECONDS, korean_cfg, korean_line, spoken

pytestmark = pytest.mark.asterisk
__all__ = ["korean_cfg", "korean_line"]  # fixtures, used by name below


def greeting_seconds(hotline: Hotline) -> float:
    path = hotline.settings.prompts_dir / "audio" / "zh" / "ivr" / "greeting.wav"
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()


CASES: dict[str, list[Step]] = {
    "greeting": [Wait(0.5), HangUp()],
    "main_menu": [Wait(1.0), Press("1"), Wait(1.5), HangUp()],
    "report_menu": [Wait(1.0), Press("1"), Wait(1.5), Press("1"), Wait(1.5), HangUp()],
    "case_number": [Wait(1.0), Press("1"), Wait(1.5), Press("3"), Wait(1.5), HangUp()],
    # A caller with an open case hears it read back, recognised by their number.
    "caller_case_status": [Wait(1.0), Press("1"), Wait(0.8), HangUp()],
}


@pytest.mark.parametrize("node", [*CASES, "choose_language"])
async def test_a_hang_up_at_any_node_is_recorded_there_and_the_line_goes_on(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], node: str,
) -> None:
    caller = f"1387777{sum(map(ord, node)) % 10000:04d}"
    if node == "caller_case_status":
        await hotline.store.cases.create(caller=caller, category="housing",
                                        now=datetime.now(UTC))
    steps = CASES.get(node) or [Wait(greeting_seconds(hotline) + 1.0), HangUp()]
    assert (await phones.call(steps, caller=caller)).ok
    record = await finished_record(hotline, caller)
    assert record.outcome == "caller_hung_up"
    assert record.hangup_node == node, record.path
    assert record.queue is None
    assert answered_by(operators, caller) == []
    for _ in range(30):
        if hotline.agi.active_sessions == 0:
            break
        await asyncio.sleep(0.1)
    assert hotline.agi.active_sessions == 0  # nothing left hanging in the application


async def test_a_caller_giving_up_in_the_queue_is_recorded_as_abandoned(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    desk = OperatorDesk(hotline.settings, ami)
    await desk.pause("op1002", "meeting")
    try:
        # Nobody is free: the caller first hears their place (about 5 s), then waits in the
        # queue and gives up there.
        # About 8 s of the 10 after the key go to hearing the place in line; 14 s leave the
        # caller 5-6 s in the queue before they give up.
        steps: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("2"), Wait(14.0), HangUp()]
        assert (await phones.call(steps, caller="13877770100")).ok
    finally:
        await desk.unpause("op1002")
    record = await finished_record(hotline, "13877770100")
    for _ in range(50):
        stored = await hotline.store.calls.get(record.call_id)
        if stored is not None and stored.outcome == "abandoned":
            break
        await asyncio.sleep(0.1)
    assert stored is not None
    assert stored.outcome == "abandoned"
    assert 3 <= (stored.wait_seconds or 0) <= 8


async def test_asterisk_restarted_while_a_callback_waits_is_called_back_once(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
    sandbox: Sandbox,
) -> None:
    """A citizen asked for a callback; its stand-in waits in line when Asterisk restarts. The
    application reconnects, finds the stand-in gone, tries again once; when the operator is
    free the citizen is called back exactly once, and operators are still logged in."""
    desk = OperatorDesk(hotline.settings, ami)
    await wait_until_free(ami, "PJSIP/op1002")
    await desk.pause("op1002", "meeting")
    citizens = OperatorPhone(phones, "gateway", 5098, talk=1.0)
    await citizens.start()
    try:
        # The key for a callback once the caller is in line (after hearing their place).
        steps: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("2"), Wait(14.0),
                             Press("1"), AwaitHangUp(30)]
        assert (await phones.call(steps, caller="13877770200")).ok
        [request] = [r for r in await hotline.store.callbacks.listing()
                     if r.number == "13877770200"]
        assert request.status == "waiting"
        reconnects = hotline.ami.reconnects
        await asyncio.to_thread(sandbox.asterisk_cli, "core restart now")
        for _ in range(300):
            if hotline.ami.reconnects > reconnects and hotline.ami.connected:
                break
            await asyncio.sleep(0.1)
        assert hotline.ami.connected
        presence = await hotline.operators.presence()
        assert presence["op1002"].paused  # persistent members: still logged in, still paused
        assert "inquiry" in presence["op1002"].queues
        await asyncio.sleep(1.0)  # the resync re-arms the callback
        await hotline.operators.unpause("op1002")
        for _ in range(150):
            [request] = [r for r in await hotline.store.callbacks.listing()
                         if r.number == "13877770200"]
            if request.status != "waiting":
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # a duplicate would ring the citizen again by now
    finally:
        await citizens.stop()
        await desk.unpause("op1002")
    assert request.status == "done", request.attempts
    results = [a["result"] for a in request.attempts]
    assert results[-1] == "citizen: ANSWER"
    assert len(results) == 2, results  # the lost stand-in, then the callback
    assert citizens.called() == ["13877770200"]


async def test_bad_audiosocket_peers_cost_nothing_and_callers_are_still_heard(
    korean_line: Hotline, phones: Phones, operators: dict[str, OperatorPhone],
) -> None:
    """A truncated frame, random bytes, and a peer that connects and says nothing, on the
    AudioSocket port: the next caller's words are heard and routed as usual."""
    port = korean_line.settings.speech.audiosocket_port
    _, truncated = await asyncio.open_connection("127.0.0.1", port)
    truncated.write(b"\x01\x00")  # a frame header cut short
    await truncated.drain()
    truncated.close()
    _, garbage = await asyncio.open_connection("127.0.0.1", port)
    garbage.write(os.urandom(512))
    await garbage.drain()
    garbage.close()
    _, silent = await asyncio.open_connection("127.0.0.1", port)
    try:
        await wait_until_free(korean_line.ami, "PJSIP/op1005")
        wav, seconds = spoken(phones, "환경")
        # The Korean line confirms what it heard (never routes silently): the caller says yes.
        steps: list[Step] = [Wait(PROMPT_SECONDS + 0.5), Say(wav, seconds),
                             Wait(CONFIRM_AFTER), Press("1"), AwaitHangUp(30)]
        assert (await phones.call(steps, caller="13877770300")).ok
        record = await finished_record(korean_line, "13877770300")
        assert record.variables["transcript"] == "환경"
        assert record.queue == "environment"
        assert answered_by(operators, "13877770300") == ["op1005"]
    finally:
        silent.close()
