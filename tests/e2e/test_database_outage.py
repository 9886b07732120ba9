"""The database goes away for a while under real calls: calls are still routed and answered,
operators still get their screen pops, and every record is written when it comes back."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.app import Hotline
from ivr.core.protocols.ami import AmiEvent
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.edges.storage.store import open_store
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import HangUp, OperatorPhone, Phones, Press, Step, Wait
from tests.pgtools import Proxy, pg_database

from .conftest import answered_by, wait_until_free

pytestmark = pytest.mark.asterisk


@pytest.fixture
def database() -> Iterator[str]:
    with pg_database() as url:
        yield url


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
        for _ in range(150):
            if app.writes.pending == 0 and not app.writes.down:
                break
            await asyncio.sleep(0.2)
        assert app.writes.pending == 0
    finally:
        await app.stop()
        await proxy.close()
    store = open_store(database, tmp_path)
    await store.open()
    try:
        for caller in callers:
            [record] = await store.calls.by_caller(caller)
            assert record.outcome == "routed"
            assert record.queue == "inquiry"
            assert record.operator == "op1002"
            assert record.talk_seconds is not None
    finally:
        await store.close()


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
        for _ in range(150):
            if app.writes.pending == 0 and not app.writes.down:
                break
            await asyncio.sleep(0.2)
        assert app.writes.pending == 0
    finally:
        await app.stop()
        await proxy.close()
    store = open_store(database, tmp_path)
    await store.open()
    try:
        for caller in callers:
            [record] = await store.calls.by_caller(caller)
            assert record.outcome == "routed"
            assert record.queue == "inquiry"
            assert record.operator == "op1002"
    finally:
        await store.close()
