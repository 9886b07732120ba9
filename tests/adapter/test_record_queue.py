"""Writes kept while the database is away: a real PostgreSQL cut off by a TCP proxy, and a real
SQLite file locked by another connection. Nothing is lost or reordered when it comes back."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
import structlog

from ivr import settings
from ivr.calls.pending_writes import LIMIT, SPILL_FILE, PendingWrites
from ivr.core.protocols.ami import AmiEvent
from ivr.core.records import CallRecord
from ivr.edges.bus import LocalBus
from ivr.edges.storage.store import Store, open_store
from ivr.operators.queue_events import QueueEvents
from ivr.operators.screen_pops import ScreenPopHub, SharedScreenPops
from tests.pgtools import Proxy, pg_database

NOW = datetime(2026, 12, 18, 10, 30, tzinfo=UTC)
FIRST_TRY = 0.3
AT_ONCE = 0.1  # a write made while the database is known to be down returns within this
# SQLite waits 5 s (busy_timeout) for a lock before it fails: its outage must be longer.
SQLITE_OUTAGE = 6.5
PG_OUTAGE = 3.0


# -- simulated outages ----------------------------------------------------------------------


class SqliteLock:
    """Another connection holding the SQLite file's write lock: the store's writes fail."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._conn: sqlite3.Connection | None = None

    async def begin(self) -> None:
        def hold() -> sqlite3.Connection:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=5)
            conn.execute("BEGIN EXCLUSIVE")
            return conn
        self._conn = await asyncio.to_thread(hold)

    async def end(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            def release() -> None:
                conn.execute("ROLLBACK")
                conn.close()
            await asyncio.to_thread(release)

    async def close(self) -> None:
        await self.end()


Outage = Proxy | SqliteLock


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'calls.sqlite3'}"
    else:
        with pg_database() as url:
            yield url


@pytest_asyncio.fixture
async def outage(database_url: str, tmp_path: Path) -> AsyncIterator[Outage]:
    made: Outage
    if database_url.startswith("sqlite"):
        made = SqliteLock(tmp_path / "calls.sqlite3")
    else:
        made = Proxy(database_url)
        await made.start()
    try:
        yield made
    finally:
        await made.close()


@pytest_asyncio.fixture
async def store(outage: Outage, tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(outage.url, tmp_path)
    await s.open()
    yield s
    await s.close()


def buffer(store: Store, state_dir: Path, **options: float) -> PendingWrites:
    return PendingWrites(store, state_dir, first_try=FIRST_TRY, min_backoff=0.1,
                         max_backoff=1.0, **options)  # type: ignore[arg-type]


def call(call_id: str, **fields: object) -> CallRecord:
    return CallRecord(call_id, f"PJSIP/{call_id}", "13800138000", "zh",
                      NOW.isoformat(timespec="milliseconds"), **fields)  # type: ignore[arg-type]


@dataclass
class Timed:
    """How long each write took the caller."""

    durations: list[float]

    async def __call__(self, write: object) -> None:
        started = time.monotonic()
        await write  # type: ignore[misc]
        self.durations.append(time.monotonic() - started)


async def a_day_of_calls(writes: PendingWrites, calls: int, time_it: Timed) -> None:
    """Each call: a first and a final record, then answered+completed or abandoned; an
    operator state change after each call (all at the same moment: only their order tells)."""
    for i in range(calls):
        cid = f"c{i:04d}"
        await time_it(writes.save(call(cid)))
        await time_it(writes.save(call(cid, outcome="routed", queue="water",
                                       path=["menu", "water"], ivr_ms=1000 + i)))
        if i % 3 == 2:
            await time_it(writes.set_call_abandoned(cid, NOW + timedelta(minutes=1), 7.0))
        else:
            await time_it(writes.set_call_answered(cid, f"op{i % 5}", NOW, 3.0 + i))
            await time_it(writes.set_call_completed(cid, NOW + timedelta(minutes=2), 60.0 + i))
        await time_it(writes.record_operator_state("op1", "available", f"r{i}", NOW))
        await asyncio.sleep(0)  # calls come one after another: the retrying task runs between


async def assert_day_landed(store: Store, calls: int) -> None:
    """Every call's latest record and its queue facts are there; states in the order made."""
    rows = {r.call_id: r for r in await store.calls.between(NOW, NOW + timedelta(seconds=1))
            if r.call_id.startswith("c")}
    assert sorted(rows) == [f"c{i:04d}" for i in range(calls)]
    for i in range(calls):
        r = rows[f"c{i:04d}"]
        assert (r.queue, r.path, r.ivr_ms) == ("water", ["menu", "water"], 1000 + i)
        if i % 3 == 2:
            assert (r.outcome, r.wait_seconds, r.operator) == ("abandoned", 7.0, None)
        else:
            assert (r.outcome, r.operator, r.wait_seconds, r.talk_seconds) == (
                "routed", f"op{i % 5}", 3.0 + i, 60.0 + i)
            assert (r.ended_at or "").startswith("2026-12-18T10:32:00")
    states = await store.operator_states.since(NOW - timedelta(seconds=1), "op1")
    assert [s.reason for s in states] == [f"r{i}" for i in range(calls)]


def outage_seconds(outage: Outage) -> float:
    return SQLITE_OUTAGE if outage.kind == "sqlite" else PG_OUTAGE


# -- the tests ------------------------------------------------------------------------------


async def test_healthy_database_takes_writes_at_once(store: Store, tmp_path: Path) -> None:
    """With the database up nothing is kept: each write is in the database when it returns."""
    writes = buffer(store, tmp_path)
    await writes.save(call("ok"))
    await writes.set_call_answered("ok", "op1", NOW, 4.0)
    assert (await store.calls.get("ok")).operator == "op1"  # type: ignore[union-attr]
    assert (writes.pending, writes.flushed, writes.down) == (0, 0, False)
    await writes.close()
    assert not (tmp_path / SPILL_FILE).exists()


async def test_outage_writes_return_at_once_and_all_land_in_order(
    store: Store, outage: Outage, tmp_path: Path
) -> None:
    """During the outage every write returns at once; when the database is back every record
    (its latest version), answered/completed/abandoned fact and operator state is there, in
    the order made; the outage and the return are logged with the number of writes flushed."""
    calls = 150 if outage.kind == "postgresql" else 60
    writes = buffer(store, tmp_path)
    await writes.save(call("before"))
    time_it = Timed([])
    with structlog.testing.capture_logs() as logs:
        await outage.begin()
        down_at = time.monotonic()
        await a_day_of_calls(writes, calls, time_it)
        await writes.set_call_answered("before", "op9", NOW, 1.5)
        # The latest version of a record still waiting is what is kept.
        assert writes.pending_record("c0000").outcome == "routed"  # type: ignore[union-attr]
        kept = writes.pending
        assert kept >= calls * 3
        await asyncio.sleep(max(0.0, outage_seconds(outage) - (time.monotonic() - down_at)))
        assert writes.pending == kept
        assert writes.retried >= 1
        await outage.end()
        back_at = time.monotonic()
        assert await writes.wait_flushed(15)
        flush_seconds = time.monotonic() - back_at
    first, rest = time_it.durations[0], time_it.durations[1:]
    assert first < FIRST_TRY + 0.25
    assert max(rest) < AT_ONCE, f"slowest write during the outage: {max(rest):.3f} s"
    await assert_day_landed(store, calls)
    assert (await store.calls.get("before")).operator == "op9"  # type: ignore[union-attr]
    assert (writes.flushed, writes.dropped, writes.down) == (kept, 0, False)
    events = {e["event"]: e for e in logs}
    assert "store_down" in events
    assert events["store_back"]["flushed"] == kept
    print(f"\n{outage.kind}: outage {back_at - down_at:.1f} s, {kept} writes kept, "
          f"flushed in {flush_seconds:.2f} s, {writes.retried} retries")
    await writes.close()
    assert not (tmp_path / SPILL_FILE).exists()


async def test_bound_reached_spills_to_file_applied_first(
    store: Store, outage: Outage, tmp_path: Path
) -> None:
    """Past the bound, pending writes go to the spill file (0600); when the database is back
    the file's writes land before the newer ones kept in memory, and the file is deleted."""
    writes = buffer(store, tmp_path, limit=20)
    await outage.begin()
    time_it = Timed([])
    await a_day_of_calls(writes, 30, time_it)  # 30 * ~4.7 writes, past the bound 20 many times
    await writes.wait_durable()  # the last batch (the store is down: every write goes to disk)
    spill = tmp_path / SPILL_FILE
    assert spill.exists()
    assert stat.S_IMODE(spill.stat().st_mode) == 0o600
    lines = (await asyncio.to_thread(spill.read_text)).splitlines()
    assert writes.spilled == len(lines) >= 80  # of ~110 writes, bound 20
    assert max(time_it.durations[1:]) < 0.5  # a spill is a file write, off the event loop
    # Long enough for the write in hand (the oldest) to fail and be retried after the spill.
    await asyncio.sleep(outage_seconds(outage))
    await outage.end()
    assert await writes.wait_flushed(15)
    await assert_day_landed(store, 30)
    assert writes.replayed == writes.spilled
    assert writes.dropped == 0
    assert not spill.exists()
    await writes.close()


async def test_close_during_outage_spills_and_next_start_replays(
    store: Store, outage: Outage, tmp_path: Path
) -> None:
    """Stopping during the outage puts every pending write in the spill file; the next start
    (a new store, a new buffer) replays them in order, then deletes the file."""
    writes = buffer(store, tmp_path)
    await outage.begin()
    await a_day_of_calls(writes, 12, Timed([]))
    pending = writes.pending
    await writes.close()
    spill = tmp_path / SPILL_FILE
    lines = (await asyncio.to_thread(spill.read_text)).splitlines()
    assert len(lines) == pending == writes.spilled
    assert stat.S_IMODE(spill.stat().st_mode) == 0o600
    # A call ending after the shut-down began is not lost either.
    await writes.record_operator_state("op2", "paused", "late", NOW)
    assert len((await asyncio.to_thread(spill.read_text)).splitlines()) == pending + 1
    await outage.end()
    await store.close()  # the process stops (a write still running in the store finishes)

    again = open_store(outage.url, tmp_path)
    await again.open()
    try:
        next_run = buffer(again, tmp_path)
        assert await next_run.replay() == pending + 1
        await next_run.save(call("new"))  # a new write waits behind the replayed ones
        assert await next_run.wait_flushed(15)
        await assert_day_landed(again, 12)
        late = await again.operator_states.since(NOW - timedelta(seconds=1), "op2")
        assert [s.reason for s in late] == ["late"]
        assert await again.calls.get("new") is not None
        assert next_run.replayed == pending + 1
        assert not spill.exists()
        await next_run.close()
    finally:
        await again.close()


async def test_a_write_the_database_refuses_is_dropped_not_blocking(
    store: Store, outage: Outage, tmp_path: Path
) -> None:
    """A kept write the answering database refuses (a call it does not know) is logged and
    dropped; the writes behind it still land."""
    writes = buffer(store, tmp_path)
    await outage.begin()
    await writes.set_call_answered("nobody", "op1", NOW, 1.0)
    await writes.save(call("somebody"))
    await outage.end()
    with structlog.testing.capture_logs() as logs:
        assert await writes.wait_flushed(15)
    assert await store.calls.get("somebody") is not None
    assert writes.dropped == 1
    assert any(e["event"] == "pending_write_refused" and e["key"] == "nobody" for e in logs)
    await writes.close()


async def test_queue_events_during_an_outage_land_when_it_is_back(
    store: Store, outage: Outage, tmp_path: Path
) -> None:
    """app_queue's events during the outage (answered, completed, abandoned, paused) are not
    lost: they are kept and written after the records of their calls."""
    cfg = await asyncio.to_thread(settings.load)
    ops = list(cfg.operators.values())[:3]
    bus = LocalBus()
    await bus.start()
    writes = buffer(store, tmp_path)
    events = QueueEvents(cfg, store.calls, store.cases, SharedScreenPops(ScreenPopHub(), bus),
                         writes)
    await writes.save(call("q1"))  # in the database before the outage
    await outage.begin()
    started = time.monotonic()
    await writes.save(call("q2", ivr_ms=2000))  # only in the buffer
    await writes.save(call("q3"))
    for name, fields in (
        ("AgentConnect", {"Interface": ops[0].interface, "Uniqueid": "q1", "HoldTime": "12",
                          "Channel": "PJSIP/citizen-1"}),
        ("AgentConnect", {"Interface": ops[1].interface, "Uniqueid": "q2", "HoldTime": "4",
                          "Channel": "PJSIP/citizen-2"}),
        ("AgentComplete", {"Interface": ops[0].interface, "Uniqueid": "q1", "TalkTime": "30"}),
        ("QueueCallerAbandon", {"Uniqueid": "q3", "HoldTime": "9"}),
        ("QueueMemberPause", {"Interface": ops[2].interface, "Paused": "1",
                              "PausedReason": "lunch"}),
    ):
        events.handle(AmiEvent(name, fields))
    # (On SQLite the store's one thread is held by a write waiting out the lock: the read of
    # q1's record waits behind it. The AMI handler itself never waits.)
    await events.drain()
    assert writes.pending >= 7
    await asyncio.sleep(max(0.0, outage_seconds(outage) - (time.monotonic() - started)))
    await outage.end()
    assert await writes.wait_flushed(15)
    q1, q2, q3 = [await store.calls.get(c) for c in ("q1", "q2", "q3")]
    assert q1 is not None
    assert (q1.operator, q1.talk_seconds) == (ops[0].id, 30.0)
    assert q1.wait_seconds is not None
    assert q1.wait_seconds >= 12.0
    assert q2 is not None
    assert (q2.operator, q2.ivr_ms) == (ops[1].id, 2000)
    assert q3 is not None
    assert q3.outcome == "abandoned"
    since = datetime.now(UTC) - timedelta(minutes=5)
    states = {
        op.id: [(s.state, s.reason) for s in await store.operator_states.since(since, op.id)]
        for op in ops
    }
    assert states == {ops[0].id: [("on_call", ""), ("wrap_up", "")],
                      ops[1].id: [("on_call", "")], ops[2].id: [("paused", "lunch")]}
    assert writes.dropped == 0
    await writes.close()
    await bus.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_database() as url:
        yield url


async def test_a_long_outage_at_the_default_bound_keeps_the_loop_free(
    pg_url: str, tmp_path: Path
) -> None:
    """100,000 writes kept (the default bound) go to the spill file without holding the event
    loop; stopping keeps every one of them, and the next start finds them all."""
    proxy = Proxy(pg_url)
    await proxy.start()
    store = open_store(proxy.url, tmp_path)
    await store.open()
    try:
        writes = PendingWrites(store, tmp_path, min_backoff=0.1)
        await proxy.begin()
        total = LIMIT + 500
        started = time.monotonic()
        for i in range(total):
            await writes.record_operator_state(f"op{i % 40}", "available", f"r{i}", NOW)
            if i % 2000 == 0:
                await asyncio.sleep(0)
        await writes.wait_durable()  # the last batch reaches the file
        spilled_at = time.monotonic() - started
        assert writes.pending == total
        assert writes.spilled >= LIMIT - 1
        await writes.close()
        spill = tmp_path / SPILL_FILE
        lines = (await asyncio.to_thread(spill.read_text)).splitlines()
        assert len(lines) == total
        assert json.loads(lines[-1])["args"]["reason"] == f"r{total - 1}"
        next_run = PendingWrites(store, tmp_path, min_backoff=0.1)
        assert await next_run.replay() == total
        await next_run.close()  # still down: the file is left as it was
        assert len((await asyncio.to_thread(spill.read_text)).splitlines()) == total
        print(f"\n{total} writes kept in {spilled_at:.1f} s, spill file "
              f"{spill.stat().st_size / 1e6:.1f} MB")
    finally:
        await store.close()
        await proxy.close()


async def test_spill_file_that_cannot_be_written_keeps_writes_in_memory(
    store: Store, outage: Outage, tmp_path: Path
) -> None:
    """When the spill file cannot be written (here a directory is in its way), writes stay in
    memory past the bound, in order, and land when the database is back."""
    (tmp_path / SPILL_FILE).mkdir()
    writes = buffer(store, tmp_path, limit=10)
    await outage.begin()
    with structlog.testing.capture_logs() as logs:
        await a_day_of_calls(writes, 12, Timed([]))
    assert any(e["event"] == "pending_writes_not_spilled" for e in logs)
    assert writes.spilled == 0
    assert writes.pending > 10
    await outage.end()
    assert await writes.wait_flushed(15)
    await assert_day_landed(store, 12)
    await writes.close()


async def test_writes_are_on_disk_as_soon_as_the_store_is_unreachable(
    store: Store, outage: Outage, tmp_path: Path
) -> None:
    """A kill -9 during an outage loses nothing: once the store is found unreachable every
    pending write (the one being retried included) is in the spill file, fsynced, without a
    clean stop and far below the bound; a new process replays that file in order, and a
    replay repeated (a crash after applying, before the file was trimmed) records nothing
    twice."""
    writes = buffer(store, tmp_path)  # the default bound: memory alone would have kept them
    await outage.begin()
    await a_day_of_calls(writes, 12, Timed([]))
    await asyncio.sleep(outage_seconds(outage))  # SQLite: the first try fails after 5 s
    await writes.wait_durable()
    spill = tmp_path / SPILL_FILE
    left = await asyncio.to_thread(spill.read_text)  # what a kill -9 now leaves behind
    assert len(left.splitlines()) == writes.pending >= 12 * 3
    assert stat.S_IMODE(spill.stat().st_mode) == 0o600
    assert writes.pending_record("c0003").outcome == "routed"  # type: ignore[union-attr]

    after = tmp_path / "after"
    after.mkdir()
    fresh = open_store(f"sqlite:///{after / 'calls.sqlite3'}", after)
    await fresh.open()
    try:
        for _ in range(2):
            await asyncio.to_thread((after / SPILL_FILE).write_text, left)
            next_run = buffer(fresh, after)
            assert await next_run.replay() == len(left.splitlines())
            assert await next_run.wait_flushed(15)
            assert next_run.dropped == 0
            await next_run.close()
            await assert_day_landed(fresh, 12)  # every state change once, in order
    finally:
        await fresh.close()
    await writes.close()
