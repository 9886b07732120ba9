"""Place-in-line updates while waiting ([routing] position_every): app_queue tells a waiting
caller their place when they join and again every so often, in Mandarin from the catalog's
words and Mandarin number files built from them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from ivr.app import Hotline
from ivr.core.settings import Settings
from ivr.operators.desk import OperatorDesk
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import HangUp, OperatorPhone, Phones, Press, Wait

from .conftest import finished_record
from .test_menu import played

pytestmark = pytest.mark.asterisk
EVERY = 15  # seconds: app_queue's shortest spacing


@pytest_asyncio.fixture
async def updating(cfg: Settings, sandbox: Sandbox) -> AsyncIterator[Hotline]:
    """Asterisk's queues and the application with place updates every 15 s; put back as
    the rest of the suite has them afterwards."""
    every = dataclasses.replace(cfg, routing=dataclasses.replace(cfg.routing,
                                                                 position_every=EVERY))
    await asyncio.to_thread(Sandbox(every).up)  # renders queues.conf, reloads app_queue
    app = Hotline(dataclasses.replace(every, asterisk_sounds=sandbox.sounds_dir()))
    try:
        await app.start()
        await app.ami.wait_connected(10)
        yield app
    finally:
        await app.stop()
        await asyncio.to_thread(Sandbox(cfg).up)


@pytest.mark.timeout(150)
async def test_a_waiting_caller_is_told_their_place_again_while_waiting(
    updating: Hotline, phones: Phones, operators: dict[str, OperatorPhone], sandbox: Sandbox,
) -> None:
    """Nobody staffs the inquiry line: the second of two Mandarin callers hears their place
    (第二位) as they join and again at least 15 s later, with Asterisk reading the number
    from the Mandarin digits, and the thanks after it."""
    desk = OperatorDesk(updating.settings, updating.ami)
    for op in desk.operator_ids():
        await desk.logout(op)
    try:
        first = asyncio.create_task(phones.call(
            [Wait(1.0), Press("1"), Wait(1.5), Press("2"), Wait(45.0), HangUp()],
            caller="13822260001"))
        await asyncio.sleep(6.0)  # the first has joined the queue
        second = await phones.call(
            [Wait(1.0), Press("1"), Wait(1.5), Press("2"), Wait(36.0), HangUp()],
            caller="13822260002")
        assert second.ok, second.output
        await first
    finally:
        for op in desk.operator_ids():
            await desk.login(op)
            await desk.unpause(op)
    record = await finished_record(updating, "13822260002", timeout=10)
    heard = played(sandbox, record.channel, "13822260002")
    places = [i for i, sound in enumerate(heard) if sound == "ivr/queue-place"]
    assert len(places) >= 2, heard
    for i in places[:2]:
        assert heard[i:i + 4] == ["ivr/queue-place", "digits/2", "ivr/queue-place-end",
                                  "ivr/queue-thanks"], heard
    # The application's own announcement before joining says the wait only, not the place.
    assert "ivr/queue-ahead" not in heard
