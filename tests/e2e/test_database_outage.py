"""The database goes away for a while under real calls: calls are still routed and answered,
operators still get their screen pops, and every record is written when it comes back."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.app import Hotline
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
