"""Faults on the real test bed: a caller hanging up at every node of the flow, a caller giving
up in the queue, Asterisk restarted while a callback waits in line, bad peers on the
AudioSocket port, floods of idle web and half-open FastAGI connections."""

from __future__ import annotations

import asyncio
import os
import socket
import wave
from datetime import UTC, datetime

import aiohttp
import pytest

from ivr.app import Hotline
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.edges.limits import raise_open_files_limit
from ivr.operators.desk import OperatorDesk
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import AwaitHangUp, HangUp, OperatorPhone, Phones, Press, Say, Step, Wait

from .conftest import answered_by, finished_record, wait_until_free
from .test_application_down import final_records, start_serving, stop_serving, wait_serving
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


WEB_FLOOD = 2000  # idle browsers: twice the web listener's cap (max_connections = 1000)
AGI_FLOOD = 500  # half-open FastAGI peers: many times max_handshakes (64)
FLOODED_LIMIT = 1536  # `ivr serve`'s open files: fewer than the two floods together


async def hold_connections(port: int, count: int, first: bytes = b"") -> list[socket.socket]:
    """``count`` TCP connections to ``port`` kept open by this process, each having sent only
    ``first`` (nothing, or the start of an AGI header block)."""
    held: list[socket.socket] = []
    try:
        for n in range(count):
            sock = socket.socket()
            held.append(sock)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            if first and n % 2:  # every other one: half a header, then silence
                sock.send(first)
            if n % 100 == 99:
                await asyncio.sleep(0)  # the process under test accepts as they come
    except BaseException:
        for sock in held:  # a failed flood leaves no socket for the garbage collector
            sock.close()
        raise
    return held


async def test_idle_browsers_and_half_open_agi_peers_never_keep_callers_from_an_operator(
    cfg: Settings, sandbox: Sandbox, phones: Phones, operators: dict[str, OperatorPhone],
    ami: AmiClient,
) -> None:
    """`ivr serve` with 1,536 open files (a service manager's limit): 2,000 web connections
    that never send a byte and 500 FastAGI connections that never finish their header, held
    open by one local process, would use up more than that. The listeners' caps keep the
    application's files in bounds: each caller placed meanwhile goes through the IVR to the
    operator of the queue they chose (not the fallback's general queue), the call record says
    so, and /healthz still answers."""
    assert raise_open_files_limit() > 2 * (WEB_FLOOD + AGI_FLOOD)  # this process holds them
    served = start_serving(cfg, open_files=FLOODED_LIMIT)
    held: list[socket.socket] = []
    callers = ["13877770401", "13877770402"]
    try:
        await wait_serving(cfg, served)
        since = datetime.now(UTC).isoformat(timespec="milliseconds")[:19]
        for caller in callers:
            # A fresh flood for each caller: the half-open peers are dropped after their
            # 5 s handshake_timeout, the silent browsers after 10 s.
            held += await hold_connections(cfg.web_port, WEB_FLOOD)
            held += await hold_connections(cfg.agi.port, AGI_FLOOD, b"agi_network: yes\n")
            await wait_until_free(ami, "PJSIP/op1002")
            steps: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("2"), Wait(3.0),
                                 HangUp()]
            result = await phones.call(steps, caller=caller)
            assert result.ok, result.output
            assert answered_by(operators, caller) == ["op1002"]  # the inquiry queue's
            async with aiohttp.ClientSession() as session, session.get(
                    f"http://127.0.0.1:{cfg.web_port}/healthz",
                    timeout=aiohttp.ClientTimeout(total=5)) as response:
                health = await response.json()
            assert health["open_files_limit"] == FLOODED_LIMIT
            assert health["open_files"] < FLOODED_LIMIT - 200, health
            assert health["agi_pending_handshakes"] <= cfg.agi.max_handshakes
    finally:
        for sock in held:
            sock.close()
        await stop_serving(served)
    found = await final_records(cfg, callers, since)
    for caller in callers:
        [record] = found[caller]
        assert record.outcome == "routed", record  # through the IVR, not its fallback
        assert record.queue == "inquiry"
        assert record.operator == "op1002"
