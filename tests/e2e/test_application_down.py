"""The application as its own process: bad peers, and dying mid-call, never drop a citizen."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.edges.storage.store import open_store
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import AwaitHangUp, HangUp, OperatorPhone, Phones, Press, Wait

from .conftest import answered_by, wait_until_free

pytestmark = pytest.mark.asterisk
GENERAL_QUEUE_FIRST = "op1004"  # penalty 1 in the general queue; the others have 4


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def agi_port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest_asyncio.fixture
async def served(
    cfg: Settings, sandbox: Sandbox
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """`ivr serve` in its own process, as in production."""
    env = {**os.environ, "IVR_DATABASE_URL": cfg.database_url}
    proc = subprocess.Popen(  # noqa: ASYNC220 - a plain child we kill -9, not a pipe we await
        [sys.executable, "-m", "ivr", "serve"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if agi_port_open(cfg.agi.port):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # AMI login and queue sync
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        for _ in range(100):  # waited for without holding the loop
            if proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        else:
            proc.kill()
            await asyncio.to_thread(proc.wait)


async def test_half_a_header_does_not_slow_the_next_call(
    served: subprocess.Popen[bytes], phones: Phones, operators: dict[str, OperatorPhone],
    cfg: Settings, ami: AmiClient,
) -> None:
    """A peer that sends half an AGI header and closes costs nothing; the next call is normal."""
    _, writer = await asyncio.open_connection("127.0.0.1", cfg.agi.port)
    writer.write(b"agi_network: yes\nagi_channel: PJSIP/x-1\nagi_calle")
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.3)
    before = cpu_seconds(served.pid)
    await asyncio.sleep(2.0)
    idle_cpu = cpu_seconds(served.pid) - before
    assert idle_cpu < 0.2, f"application used {idle_cpu:.2f} s CPU in 2 s after a bad peer"

    await wait_until_free(ami, "PJSIP/op1002")
    started = time.monotonic()
    steps = [Wait(1.0), Press("1"), Wait(1.5), Press("2"), Wait(3.0), HangUp()]
    result = await phones.call(steps, caller="13800990001")
    assert result.ok, result.output
    assert answered_by(operators, "13800990001") == ["op1002"]
    assert time.monotonic() - started < 10


async def test_application_killed_mid_menu_call_reaches_general_queue(
    served: subprocess.Popen[bytes], phones: Phones, operators: dict[str, OperatorPhone],
    ami: AmiClient, cfg: Settings,
) -> None:
    """Kill -9 the application while a caller is in the menu: the caller still gets an operator."""
    caller = "13800990002"
    await wait_until_free(ami, f"PJSIP/{GENERAL_QUEUE_FIRST}")
    call = asyncio.create_task(phones.call([AwaitHangUp(40)], caller=caller))
    await asyncio.sleep(1.5)  # the caller is listening to the main menu
    served.kill()
    served.wait()
    result = await call
    assert result.ok, result.output
    # Asterisk sees the FastAGI socket close at once, ends the AGI and the dialplan's
    # fallback queues the caller in the general queue, whose first operator answers.
    assert answered_by(operators, caller) == [GENERAL_QUEUE_FIRST]
    # The record the killed application left "in progress" is reconciled at its next start.
    store = open_store(cfg.database_url, cfg.state_dir)
    await store.open()
    try:
        [left] = await store.calls.by_caller(caller)
        assert left.outcome == "in_progress"
        env = {**os.environ, "IVR_DATABASE_URL": cfg.database_url}
        again = subprocess.Popen(  # noqa: ASYNC220 - stopped below without a pipe
            [sys.executable, "-m", "ivr", "serve"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                [left] = await store.calls.by_caller(caller)
                if left.outcome != "in_progress":
                    break
                await asyncio.sleep(0.1)
        finally:
            again.send_signal(signal.SIGTERM)
            for _ in range(100):
                if again.poll() is not None:
                    break
                await asyncio.sleep(0.1)
    finally:
        await store.close()
    assert left.outcome == "interrupted"  # the caller was answered and has gone since
    assert left.ended_at is not None


async def test_application_down_calls_reach_general_queue(
    sandbox: Sandbox, phones: Phones, operators: dict[str, OperatorPhone], cfg: Settings,
    ami: AmiClient,
) -> None:
    """With no application listening at all, 12345 still answers and queues the caller."""
    assert not agi_port_open(cfg.agi.port)
    await wait_until_free(ami, f"PJSIP/{GENERAL_QUEUE_FIRST}")
    result = await phones.call([Wait(0.5), AwaitHangUp(30)], caller="13800990003")
    assert result.ok, result.output
    assert answered_by(operators, "13800990003") == [GENERAL_QUEUE_FIRST]
