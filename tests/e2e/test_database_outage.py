"""The database goes away for a while under real calls: calls are still routed and answered,
operators still get their screen pops, and every record is written when it comes back, even
when the application was killed meanwhile."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.app import Hotline
from ivr.calls.pending_writes import SPILL_FILE
from ivr.core.protocols.ami import AmiEvent
from ivr.core.records import CallRecord
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.edges.storage.store import open_store
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import (
    AwaitHangUp,
    CallResult,
    HangUp,
    OperatorPhone,
    Phones,
    Press,
    Step,
    Wait,
)
from tests.pgtools import Proxy

from .conftest import answered_by, wait_until_free
from .test_application_down import final_records, start_serving, stop_serving, wait_serving

pytestmark = pytest.mark.asterisk



async def written(app: Hotline) -> None:
    """Every kept write reached the database (at most 30 s after it is back)."""
    for _ in range(150):
        if app.writes.pending == 0 and not app.writes.down:
            break
        await asyncio.sleep(0.2)
    assert app.writes.pending == 0


async def one_record_each(database: str, state_dir: Path, callers: list[str]
                          ) -> list[CallRecord]:
    """Each caller's one call record, read straight from the database."""
    store = open_store(database, state_dir)
    await store.open()
    try:
        found = []
        for caller in callers:
            [record] = await store.calls.by_caller(caller)
            found.append(record)
        return found
    finally:
        await store.close()


async def test_calls_go_on_while_the_database_is_down_and_nothing_is_lost(
    cfg: Settings, sandbox: Sandbox, phones: Phones,
    operators: dict[str, OperatorPhone], ami: AmiClient, database: str, tmp_path: Path,
) -> None:
    proxy = Proxy(database)
    await proxy.start()
    app = Hotline(dataclasses.replace(cfg, database_url=proxy.url, state_dir=tmp_path))
    await app.start()
    callers = ["13855500001", "13855500002"]
    try:
        await app.ami.wait_connected(10)
        await proxy.begin()  # the database is unreachable from now on
        steps: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("2"), Wait(4.0), HangUp()]
        async with app.screen_pops.subscribe("op1002") as pops:
            for caller in callers:
                await wait_until_free(ami, "PJSIP/op1002")
                assert (await phones.call(steps, caller=caller)).ok
                assert answered_by(operators, caller) == ["op1002"]
                pop = await asyncio.wait_for(pops.get(), 5)
                assert pop.caller == caller  # the operator still sees who is calling
        assert app.writes.down
        assert app.writes.pending > 0
        await proxy.end()  # the database is back
        await written(app)
    finally:
        await app.stop()
        await proxy.close()
    for record in await one_record_each(database, tmp_path, callers):
        assert (record.outcome, record.queue, record.operator) == ("routed", "inquiry", "op1002")
        assert record.talk_seconds is not None


async def test_killed_during_an_outage_under_load_every_call_has_one_final_record(
    cfg: Settings, sandbox: Sandbox, phones: Phones,
    operators: dict[str, OperatorPhone], database: str, tmp_path: Path,
) -> None:
    """A call a second; the database goes away; `ivr serve` is killed with SIGKILL while it
    keeps the calls' writes (they are on disk, nothing flushed them at a stop); calls go on
    arriving while it is dead (the dialplan's fallback queues them); the database comes back
    and the application is started again while calls still arrive. Every call then has
    exactly one record, final (none left in progress), with who answered and how long they
    talked; the spill file has been replayed and is gone."""
    proxy = Proxy(database)
    await proxy.start()
    via_proxy = dataclasses.replace(cfg, database_url=proxy.url)
    direct = dataclasses.replace(cfg, database_url=database)
    spill = tmp_path / SPILL_FILE
    callers = [f"138555011{n:02d}" for n in range(14)]
    since = datetime.now(UTC).isoformat(timespec="milliseconds")[:19]
    served = start_serving(via_proxy, state_dir=tmp_path)
    again: subprocess.Popen[bytes] | None = None
    try:
        await wait_serving(via_proxy, served)

        async def one(n: int, caller: str) -> CallResult:
            await asyncio.sleep(1.0 * n)
            # The caller asks for the inquiry queue (keys the fallback's queue ignores).
            steps: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("2"), AwaitHangUp(90)]
            return await phones.call(steps, caller=caller)

        calls = [asyncio.create_task(one(n, c)) for n, c in enumerate(callers)]
        await asyncio.sleep(2.5)  # three calls in
        await proxy.begin()  # the database is unreachable from now on
        await asyncio.sleep(4.0)  # four more, with the application and no database
        served.kill()
        await asyncio.to_thread(served.wait)
        kept = spill.read_text(encoding="utf-8").splitlines() if spill.exists() else []
        assert kept, "the writes kept during the outage are not on disk"
        await asyncio.sleep(4.0)  # four more with neither
        await proxy.end()
        again = start_serving(via_proxy, state_dir=tmp_path)  # the last three arrive after it
        # Not each scenario's exit code: a caller the fallback's operator hangs up on while
        # the caller's phone still "presses keys" ends its SIPp scenario in error. What the
        # caller got is in the records below (who answered, how long they talked).
        await asyncio.gather(*calls)
        found = await final_records(direct, callers, since, timeout=60)
        for _ in range(100):
            if not spill.exists():
                break
            await asyncio.sleep(0.2)
        assert not spill.exists()  # replayed, then deleted
    finally:
        if again is not None:
            await stop_serving(again)
        await stop_serving(served)
        await proxy.close()
    for caller, records in found.items():
        assert len(records) == 1, (caller, records)
        [record] = records
        assert record.outcome != "in_progress", record
        assert record.operator in cfg.operators, record
        assert record.talk_seconds is not None, record
        assert record.ended_at is not None, record
    store = open_store(database, tmp_path)
    await store.open()
    try:
        left = [r for r in await store.calls.recent(1000)
                if r.arrived_at >= since and r.outcome == "in_progress"]
    finally:
        await store.close()
    assert left == []  # nor any other record (a survey re-entry's orphan, say)


async def test_calls_are_answered_and_routed_while_the_database_stalls(
    cfg: Settings, sandbox: Sandbox, phones: Phones,
    operators: dict[str, OperatorPhone], ami: AmiClient, database: str, tmp_path: Path,
) -> None:
    """PostgreSQL stops answering but keeps accepting connections (not refused: every query
    would wait forever): the caller's history, the case lookups and the records each wait at
    most ``[agi] database_deadline``, so each caller hears the menu, is routed by their keys
    within the usual time and answered; the records land once the database answers again."""
    proxy = Proxy(database)
    await proxy.start()
    app = Hotline(dataclasses.replace(cfg, database_url=proxy.url, state_dir=tmp_path))
    await app.start()
    callers = ["13855500011", "13855500012"]
    joined: dict[str, float] = {}
    loop = asyncio.get_running_loop()

    def on_event(event: AmiEvent) -> None:
        if event.name == "QueueCallerJoin" and event.get("CallerIDNum") in callers:
            joined.setdefault(event.get("CallerIDNum"), loop.time())

    ami.on_event(on_event)
    try:
        await app.ami.wait_connected(10)
        await proxy.stall()  # from now on the database accepts connections and says nothing
        steps: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("2"), Wait(4.0), HangUp()]
        for caller in callers:
            await wait_until_free(ami, "PJSIP/op1002")
            started = loop.time()
            assert (await phones.call(steps, caller=caller)).ok
            assert answered_by(operators, caller) == ["op1002"]
            # Keys at 1 s and 2.5 s after the answer: in the queue well within 4.5 s of the
            # call's start, the database's deadlines included (a held caller never joins).
            assert caller in joined
            assert joined[caller] - started < 4.5
        assert app.writes.pending > 0  # the records wait for the database
        await proxy.resume()
        await written(app)
    finally:
        await app.stop()
        await proxy.close()
    for record in await one_record_each(database, tmp_path, callers):
        assert (record.outcome, record.queue, record.operator) == ("routed", "inquiry", "op1002")
