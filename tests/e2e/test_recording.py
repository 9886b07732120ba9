"""Every answered call is recorded, on the real test bed: a citizen's call answered by an
operator leaves a private recording (0600, in a 0700 directory) named in its record; a
supervisor plays it in real Chromium and the playback is audited; the operator who took the
call may play it too, another operator gets 403."""

from __future__ import annotations

import asyncio
import stat
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, async_playwright

from ivr.accounts.service import create_account
from ivr.app import Hotline
from ivr.core.records import CallRecord
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.operators.desk import OperatorDesk
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import AwaitHangUp, OperatorPhone, Phones, Press, Say, Step, Wait
from ivr.testbed.testcall import operator_phones
from tests.web.conftest import CHROMIUM_ARGS

from .conftest import answered_by, finished_record, wait_until_free

pytestmark = pytest.mark.asterisk
TALK = 4.0  # seconds each operator talks before hanging up


@pytest_asyncio.fixture
async def talking_operators(
    phones: Phones, cfg: Settings, ami: AmiClient
) -> AsyncIterator[dict[str, OperatorPhone]]:
    """Every operator's phone, talking TALK s; every operator logged in and not paused."""
    started = operator_phones(cfg, phones, talk=TALK)
    await asyncio.gather(*(p.start() for p in started))
    desk = OperatorDesk(cfg, ami)
    for op_id in cfg.operators:
        await desk.login(op_id)
        await desk.unpause(op_id)
    yield {p.operator: p for p in started}
    await asyncio.gather(*(p.stop() for p in started))


def tone(phones: Phones) -> tuple[str, float]:
    """A 3 s tone as 8 kHz mu-law WAV inside the sandbox: the citizen's voice."""
    target = phones.workdir / "speech" / "tone-440.ulaw.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["sox", "-q", "-n", "-r", "8000", "-c", "1", "-e", "u-law", "-t", "wav",
                    str(target), "synth", "3", "sine", "440", "vol", "0.5"], check=True)
    return "/" + str(target.relative_to(phones.root)), 3.0


async def recorded(hotline: Hotline, call_id: str, timeout: float = 10.0) -> CallRecord:
    """The call's record once its recording's state is settled (the call has ended)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        record = await hotline.store.calls.get(call_id)
        if record is not None and record.recording_status in {"ok", "failed"}:
            return record
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"recording state never settled: {record}")
        await asyncio.sleep(0.2)


async def log_in(page: Page, base: str, username: str, password: str) -> None:
    await page.context.clear_cookies()
    await page.goto(f"{base}/login?next=/account")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/account")


async def test_answered_call_is_recorded_played_by_a_supervisor_and_refused_to_others(
    hotline: Hotline, phones: Phones, talking_operators: dict[str, OperatorPhone],
    sandbox: Sandbox, cfg: Settings, tmp_path: Path,
) -> None:
    await wait_until_free(hotline.ami, "PJSIP/op1003")
    caller = "13800177001"
    wav, seconds = tone(phones)
    # 1 Mandarin, 4 suggestion (op1003 answers), the citizen speaks while the operator talks,
    # then, once the operator has hung up, rates the call 5 in the survey.
    steps: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("4"), Wait(1.0),
                         Say(wav, seconds), Wait(4.5), Press("5"), AwaitHangUp(40)]
    result = await phones.call(steps, caller=caller)
    assert result.ok, result.output
    assert answered_by(talking_operators, caller) == ["op1003"]
    call = await finished_record(hotline, caller, timeout=15)
    record = await recorded(hotline, call.call_id)

    # The record names the file; it is there, holds audio, and is the service user's alone.
    assert record.recording_status == "ok", record
    assert record.recording == f"{call.call_id}.wav"
    path = sandbox.recordings_dir / record.recording
    info = path.stat()
    assert info.st_size > 8000, info.st_size  # more than a header: ~1 s of 8 kHz audio at least
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE(sandbox.recordings_dir.stat().st_mode) == 0o700
    assert path.read_bytes()[:4] == b"RIFF"

    stamp = f"{datetime.now(UTC):%H%M%S%f}"
    sup, sup_pw = await create_account(hotline.store.users, f"sup-{stamp}", "supervisor")
    took, took_pw = await create_account(hotline.store.users, f"op3-{stamp}", "operator",
                                         operator_id="op1003")
    other, other_pw = await create_account(hotline.store.users, f"op1-{stamp}", "operator",
                                           operator_id="op1001")
    base = f"http://{cfg.web_host}:{cfg.web_port}"
    page_url = f"{base}/calls/{call.call_id}"
    audio_url = f"{page_url}/recording"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path="/usr/bin/chromium",
            args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"],
            headless=False,
        )
        try:
            page = browser.pages[0] if browser.pages else await browser.new_page()
            page.set_default_timeout(20_000)

            # The supervisor: the call's page has a player, and the browser plays it.
            await log_in(page, base, sup.username, sup_pw)
            await page.goto(page_url)
            assert await page.get_attribute("#call-recording", "data-state") == "play"
            await page.evaluate("document.getElementById('call-audio').play()")
            # Played: its time moves on (polled; the pages' CSP forbids wait_for_function's
            # eval).
            position = 0.0
            for _ in range(100):
                position = await page.evaluate(
                    "document.getElementById('call-audio').currentTime")
                if position > 0.2:
                    break
                await asyncio.sleep(0.1)
            assert position > 0.2, position
            duration = await page.evaluate("document.getElementById('call-audio').duration")
            assert 1.0 < duration < 30.0, duration
            fetched = await page.request.get(audio_url)
            assert fetched.status == 200
            assert fetched.headers["content-type"] == "audio/wav"
            assert (await fetched.body())[:4] == b"RIFF"
            audit = await hotline.store.audit.latest(50)
            assert any(e.actor == sup.username and e.action == "recording_played"
                       and e.target == call.call_id for e in audit), audit

            # Another operator: refused, and told so on the page.
            await log_in(page, base, other.username, other_pw)
            refused = await page.request.get(audio_url)
            assert refused.status == 403
            await page.goto(page_url)
            assert await page.get_attribute("#call-recording", "data-state") == "forbidden"
            assert await page.locator("#call-audio").count() == 0

            # The operator who took the call may play it.
            await log_in(page, base, took.username, took_pw)
            assert (await page.request.get(audio_url)).status == 200

            # The recordings' disk, measured off the loop, on /healthz and /metrics.
            await hotline.recordings.measure()
            health = await (await page.request.get(f"{base}/healthz")).json()
            assert health["recordings_files"] >= 1
            assert health["recordings_bytes"] >= info.st_size
            assert health["recordings_disk_full"] is False
            metrics = await (await page.request.get(f"{base}/metrics")).text()
            assert "ivr_recordings_bytes " in metrics
            assert "ivr_recordings_disk_used_percent " in metrics
        finally:
            await browser.close()
    audit = await hotline.store.audit.latest(50)
    assert not any(e.actor == other.username and e.action == "recording_played"
                   for e in audit)
    assert any(e.actor == took.username and e.action == "recording_played" for e in audit)
