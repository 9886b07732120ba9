"""A prompt Asterisk never finishes within the AGI command timeout is the IVR's failure, not
the caller hanging up: the call's record says so, and the dialplan's fallback takes the call."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest_asyncio

from ivr import settings
from ivr.bulletins.desk import BulletinDesk
from ivr.calls.agi_driver import CallHandler
from ivr.calls.pending_writes import PendingWrites
from ivr.core.figures import LiveFigures
from ivr.edges.fastagi import FastAgiServer
from ivr.edges.storage.store import Store, open_store
from ivr.flows.library import FlowLibrary

SECRET = "long-prompt-secret-1"


@pytest_asyncio.fixture
async def wired(tmp_path: Path) -> AsyncIterator[tuple[FastAgiServer, Store, PendingWrites]]:
    base = settings.load()
    cfg = dataclasses.replace(
        base, state_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'calls.sqlite3'}",
        agi=dataclasses.replace(base.agi, port=0, secret=SECRET, command_timeout=0.5))
    store = open_store(cfg.database_url, cfg.state_dir)
    await store.open()
    writes = PendingWrites(store, cfg.state_dir)
    flows = FlowLibrary(cfg, store.flow_versions)
    await flows.load()
    figures = LiveFigures({s.id: s.service_level for s in cfg.skills.values()},
                          tz=ZoneInfo(cfg.timezone))
    bulletins = BulletinDesk(cfg, store.bulletins, store.audit, cfg.asterisk_sounds)
    handler = CallHandler(cfg, store.calls, store.cases, flows, writes, speech=None,
                          figures=figures, bulletins=bulletins)
    server = FastAgiServer(cfg.agi, handler)
    await server.start()
    yield server, store, writes
    await server.stop()
    await writes.close()
    await store.close()


async def test_a_prompt_outlasting_the_command_timeout_is_not_a_hang_up(
    wired: tuple[FastAgiServer, Store, PendingWrites],
) -> None:
    """Asterisk answers every command but the greeting's STREAM FILE (still playing past the
    timeout): the session ends, and the record is `ivr_failed` with why, not `caller_hung_up`."""
    server, store, _ = wired
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        f"agi_network: yes\nagi_request: agi://127.0.0.1/ivr?secret={SECRET}\n"
        "agi_channel: PJSIP/citizens-0000long\nagi_uniqueid: 1764600000.77\n"
        "agi_callerid: 13800138077\nagi_calleridname: unknown\nagi_language: zh\n"
        "agi_context: citizens\nagi_extension: 12345\n\n".encode())
    while True:
        line = await asyncio.wait_for(reader.readline(), 5)
        if not line:
            break
        if not line.startswith(b"STREAM FILE"):
            writer.write(b"200 result=1\n")  # everything else succeeds at once
    writer.close()
    for _ in range(50):
        record = await store.calls.get("1764600000.77")
        if record is not None and record.outcome != "in_progress":
            break
        await asyncio.sleep(0.1)
    assert record is not None
    assert record.outcome == "ivr_failed"
    assert "no answer to STREAM FILE within 0.5 s" in record.variables["ivr_failure"]
