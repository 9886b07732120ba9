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
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.core.call_facts import INTERRUPTED, WITHOUT_APPLICATION
from ivr.core.records import CallRecord
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


def start_serving(
    cfg: Settings, *, open_files: int | None = None, state_dir: Path | None = None,
) -> subprocess.Popen[bytes]:
    """`ivr serve` in its own process, on ``cfg``'s database (and ``state_dir``, if given);
    with ``open_files``, the process starts with that hard (and soft) open-files limit, as a
    service manager's ``LimitNOFILE`` would give it."""
    env = {**os.environ, "IVR_DATABASE_URL": cfg.database_url}
    if state_dir is not None:  # with the test bed's secrets (its dialplan and manager.conf)
        env.update(IVR_STATE_DIR=str(state_dir), IVR_AMI_SECRET=cfg.ami.secret,
                   IVR_AGI_SECRET=cfg.agi.secret)
    limit = [] if open_files is None else ["prlimit", f"--nofile={open_files}:{open_files}"]
    # Its log goes to the state directory given (to read when a test fails), else nowhere.
    out = (open(state_dir / "serve.log", "ab") if state_dir is not None  # noqa: SIM115
           else subprocess.DEVNULL)
    try:
        return subprocess.Popen(
            [*limit, sys.executable, "-m", "ivr", "serve"], env=env,
            stdout=out, stderr=out,
        )
    finally:
        if state_dir is not None:
            out.close()  # type: ignore[union-attr]


async def wait_serving(cfg: Settings, proc: subprocess.Popen[bytes]) -> None:
    """Until the new process listens for FastAGI and on the web (the last part it starts)
    and has had time for its AMI login."""
    for _ in range(300):
        if (agi_port_open(cfg.agi.port) and agi_port_open(cfg.web_port)) or (
                proc.poll() is not None):
            break
        await asyncio.sleep(0.1)
    assert proc.poll() is None, f"ivr serve exited with {proc.returncode}"
    assert agi_port_open(cfg.agi.port)
    assert agi_port_open(cfg.web_port)
    await asyncio.sleep(0.5)  # AMI login and queue sync


async def stop_serving(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        for _ in range(100):  # waited for without holding the loop
            if proc.poll() is not None:
                return
            await asyncio.sleep(0.1)
        proc.kill()
    await asyncio.to_thread(proc.wait)


async def final_records(
    cfg: Settings, callers: list[str], since: str, timeout: float = 20.0
) -> dict[str, list[CallRecord]]:
    """Each caller's records of calls since ``since``, once every caller has one that is
    final (not in progress) and says who answered and how long they talked."""
    store = open_store(cfg.database_url, cfg.state_dir)
    await store.open()
    try:
        deadline = time.monotonic() + timeout
        while True:
            found = {c: [r for r in await store.calls.by_caller(c) if r.arrived_at >= since]
                     for c in callers}
            if all(any(r.outcome != "in_progress" and r.talk_seconds is not None for r in rs)
                   for rs in found.values()) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.2)
    finally:
        await store.close()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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
    # The record the killed application left "in progress" is reconciled at its next start,
    # from Asterisk's queue_log: who answered, how long the caller waited and talked.
    store = open_store(cfg.database_url, cfg.state_dir)
    await store.open()
    try:
        [left] = await store.calls.by_caller(caller)
        assert left.outcome == "in_progress"
    finally:
        await store.close()
    again = start_serving(cfg)
    try:
        found = await final_records(cfg, [caller], left.arrived_at)
    finally:
        await stop_serving(again)
    [done] = found[caller]
    assert done.call_id == left.call_id
    assert done.outcome == INTERRUPTED  # the caller was answered and has gone since
    assert done.operator == GENERAL_QUEUE_FIRST
    assert done.talk_seconds is not None
    assert done.talk_seconds >= 0.5  # the operator's phone talks 1 s
    assert done.wait_seconds is not None
    assert done.ended_at is not None


async def test_application_down_calls_reach_general_queue_and_are_recorded(
    served: subprocess.Popen[bytes], phones: Phones, operators: dict[str, OperatorPhone],
    cfg: Settings, ami: AmiClient,
) -> None:
    """With no application listening at all, 12345 still answers and queues the caller; the
    next start records the call from Asterisk's queue_log, with who answered."""
    served.kill()
    served.wait()
    assert not agi_port_open(cfg.agi.port)
    await wait_until_free(ami, f"PJSIP/{GENERAL_QUEUE_FIRST}")
    since = utc_now()
    result = await phones.call([Wait(0.5), AwaitHangUp(30)], caller="13800990003")
    assert result.ok, result.output
    assert answered_by(operators, "13800990003") == [GENERAL_QUEUE_FIRST]
    again = start_serving(cfg)
    try:
        found = await final_records(cfg, ["13800990003"], since[:19])
    finally:
        await stop_serving(again)
    [record] = found["13800990003"]
    assert record.outcome == WITHOUT_APPLICATION
    assert record.queue == cfg.menu.general_queue
    assert record.operator == GENERAL_QUEUE_FIRST
    assert record.talk_seconds is not None
    assert record.talk_seconds >= 0.5


async def test_killed_during_a_burst_every_call_has_one_final_record(
    served: subprocess.Popen[bytes], phones: Phones, operators: dict[str, OperatorPhone],
    cfg: Settings,
) -> None:
    """kill -9 while 10 calls arrive (some in the menu, some arriving while it is down), then
    a restart: every call has exactly one record, final, with who answered; none is left
    in progress."""
    callers = [f"138009901{n:02d}" for n in range(10)]
    since = utc_now()[:19]

    async def one(n: int, caller: str) -> bool:
        await asyncio.sleep(0.4 * n)
        return (await phones.call([AwaitHangUp(60)], caller=caller)).ok

    calls = [asyncio.create_task(one(n, c)) for n, c in enumerate(callers)]
    await asyncio.sleep(2.0)  # the first calls are in the menu, the rest still to come
    served.kill()
    served.wait()
    assert all(await asyncio.gather(*calls))
    again = start_serving(cfg)
    try:
        found = await final_records(cfg, callers, since, timeout=30)
    finally:
        await stop_serving(again)
    for caller, records in found.items():
        assert len(records) == 1, (caller, records)
        [record] = records
        assert record.outcome in {INTERRUPTED, WITHOUT_APPLICATION}, record
        assert record.operator in cfg.operators, record
        assert record.talk_seconds is not None, record
    assert {r.outcome for rs in found.values() for r in rs} == {INTERRUPTED,
                                                               WITHOUT_APPLICATION}
