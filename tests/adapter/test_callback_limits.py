"""Callbacks are limited per citizen number and per queue, on a real SQLite store."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr import settings
from ivr.callbacks.desk import CallbackDesk
from ivr.core.settings import AmiSettings
from ivr.edges.ami import AmiClient
from ivr.edges.storage.store import Store, open_store
from ivr.errors import CallbackRefused


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(tmp_path / "callbacks.sqlite3")
    await s.open()
    yield s
    await s.close()


@pytest_asyncio.fixture
async def desk(store: Store) -> AsyncIterator[CallbackDesk]:
    base = settings.load()
    cfg = dataclasses.replace(base, callbacks=dataclasses.replace(
        base.callbacks, max_per_number=1, max_per_queue=3, retry_after=3600))
    # An AMI link never opened: each attempt fails and waits for its (distant) retry, so
    # every callback stays waiting, as stand-ins do in a busy queue.
    built = CallbackDesk(cfg, store.callbacks, AmiClient(AmiSettings(port=1)))
    yield built
    await built.stop()


async def ask(desk: CallbackDesk, number: str, skill: str = "inquiry") -> None:
    await desk.request(call_id=f"call-{number}", number=number, skill=skill, priority=5,
                       position=1, arrived_at="2026-12-02T10:00:00+08:00")


async def test_one_number_gets_one_waiting_callback(desk: CallbackDesk, store: Store) -> None:
    """A caller pressing 1 on every call cannot stack callbacks: the second is refused."""
    await ask(desk, "13800138000")
    with pytest.raises(CallbackRefused, match="already has 1"):
        await ask(desk, "13800138000")
    assert len(await store.callbacks.listing("waiting")) == 1


async def test_a_queue_holds_at_most_its_limit_of_stand_ins(
    desk: CallbackDesk, store: Store
) -> None:
    """Past max_per_queue waiting callbacks a queue refuses more; another queue still takes
    them."""
    for n in range(3):
        await ask(desk, f"1380013800{n}")
    with pytest.raises(CallbackRefused, match="inquiry already has 3"):
        await ask(desk, "13800138009")
    await ask(desk, "13800138009", skill="housing")
    waiting = await store.callbacks.listing("waiting")
    assert sorted(w.skill for w in waiting) == ["housing", "inquiry", "inquiry", "inquiry"]
