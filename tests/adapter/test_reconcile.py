"""Every call's one final record from Asterisk's queue_log and channel list (ivr.calls.reconcile),
on a real store, a real queue_log file (garbage lines included) and a stand-in AMI."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest_asyncio

from ivr import settings
from ivr.calls.pending_writes import PendingWrites
from ivr.calls.reconcile import MAX_CATCH_UP, Reconciler
from ivr.core.call_facts import INTERRUPTED, WITHOUT_APPLICATION
from ivr.core.records import CallRecord
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.edges.clock import FakeClock
from ivr.edges.storage.store import Store, open_store

T0 = 1796298000.0  # 2026-12-03T11:40:00Z


def set_to(clock: FakeClock, at: float) -> None:
    clock.advance(at - clock.time())


class Channels:
    """AMI as the reconciler uses it: the live channels."""

    def __init__(self) -> None:
        self.live: list[tuple[str, str]] = []
        self.asked = 0

    async def action(self, name: str, *args: object, **kwargs: object) -> list[dict[str, str]]:
        assert name == "CoreShowChannels"
        self.asked += 1
        return [{"Event": "CoreShowChannel", "Channel": c, "Uniqueid": u} for c, u in self.live]


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'calls.sqlite3'}", tmp_path)
    await s.open()
    yield s
    await s.close()


def cfg(tmp_path: Path) -> Settings:
    return dataclasses.replace(settings.load(), state_dir=tmp_path)


def answered(uid: str, caller: str, at: float, member: str = "PJSIP/op1004") -> list[str]:
    return [f"{at:.0f}|{uid}|hotline|NONE|ENTERQUEUE||{caller}|1",
            f"{at + 2:.0f}|{uid}|hotline|{member}|CONNECT|2|{uid}9|1",
            f"{at + 12:.0f}|{uid}|hotline|{member}|COMPLETEAGENT|2|10|1"]


def append(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def reconciler(store: Store, tmp_path: Path, ami: Channels, clock: FakeClock,
               node: str = "n1") -> tuple[Reconciler, PendingWrites]:
    writes = PendingWrites(store, tmp_path)
    return Reconciler(cast(AmiClient, ami), store.calls, writes, node, clock,
                      settings=cfg(tmp_path), cursors=store.log_cursors,
                      queue_log=tmp_path / "queue_log", grace=5.0), writes


async def test_calls_while_the_application_was_down_get_one_record_each(
    store: Store, tmp_path: Path
) -> None:
    log = tmp_path / "queue_log"
    append(log, [f"{T0:.0f}|NONE|NONE|NONE|QUEUESTART|", *answered("old.1", "13800000001", T0)])
    clock, ami = FakeClock(T0 + 100), Channels()
    first, writes = reconciler(store, tmp_path, ami, clock)
    await first.catch_up()
    # The first start ever begins at the end: history before it is not read.
    assert await store.calls.get("old.1") is None
    await first.close()
    await writes.close()

    # Down: three calls, one cut short by garbage around it, one still in the queue.
    append(log, [*answered("d.1", "13800000002", T0 + 200), "garbage|||",
                 "\x00\xff not a line", "9" * 5000,
                 *answered("d.2", "13800000003", T0 + 210, member="Chen Jing"),
                 f"{T0 + 220:.0f}|d.3|hotline|NONE|ENTERQUEUE||13800000004|1"])
    set_to(clock, T0 + 300)
    again, writes = reconciler(store, tmp_path, ami, clock)
    await again.catch_up()
    await writes.wait_flushed(5)
    one = await store.calls.get("d.1")
    assert one is not None
    assert (one.outcome, one.caller, one.operator, one.wait_seconds, one.talk_seconds) == (
        WITHOUT_APPLICATION, "13800000002", "op1004", 2.0, 10.0)
    two = await store.calls.get("d.2")
    assert two is not None
    assert two.operator == "op1004"  # logged by member name, known to the configuration
    assert await store.calls.get("d.3") is None  # still waiting: not final yet
    assert again.skipped_lines == 3
    # The offset kept is d.3's first line: a restart reads that call again.
    kept = await store.log_cursors.get("queue_log@n1")
    assert kept is not None
    assert kept[0] < log.stat().st_size

    # Continuous: d.3 is answered; applied once the grace has passed, and only once.
    append(log, answered("d.3", "13800000004", T0 + 220)[1:])
    set_to(clock, T0 + 234)
    await again.step()
    assert await store.calls.get("d.3") is None  # within the grace: the live path first
    set_to(clock, T0 + 240)
    await again.step()
    await writes.wait_flushed(5)
    three = await store.calls.get("d.3")
    assert three is not None
    assert three.operator == "op1004"
    written = again.reconciled
    await again.close()
    await writes.close()

    # A restart reads d.3's lines again: nothing is doubled, nothing rewritten.
    third, writes = reconciler(store, tmp_path, ami, clock)
    await third.catch_up()
    assert third.reconciled == 0
    assert written == 3
    rows = await store.calls.recent(50)
    assert sorted(r.call_id for r in rows) == ["d.1", "d.2", "d.3"]
    await third.close()
    await writes.close()


async def test_a_call_cut_off_mid_menu_says_who_answered_and_nothing_stays_in_progress(
    store: Store, tmp_path: Path
) -> None:
    log = tmp_path / "queue_log"
    log.write_text("")
    clock, ami = FakeClock(T0), Channels()
    first, writes = reconciler(store, tmp_path, ami, clock)
    await first.catch_up()
    await first.close()
    # Left by a node killed mid-menu, and by another node (still on the line at first).
    stamp = "2026-12-03T11:40:00.000+00:00"
    await store.calls.save(CallRecord("k.1", "PJSIP/c-1", "13800000005", "zh", stamp,
                                      path=["greeting"], variables={"node": "n1"}))
    await store.calls.save(CallRecord("o.1", "PJSIP/c-2", "13800000006", "zh", stamp,
                                      variables={"node": "n2"}))
    append(log, answered("k.1", "13800000005", T0 + 5))
    ami.live = [("PJSIP/c-2", "o.1")]
    set_to(clock, T0 + 60)
    again, writes = reconciler(store, tmp_path, ami, clock)
    await again.catch_up()
    await writes.wait_flushed(5)
    cut = await store.calls.get("k.1")
    assert cut is not None
    assert (cut.outcome, cut.operator, cut.talk_seconds, cut.path) == (
        INTERRUPTED, "op1004", 10.0, ["greeting"])
    other = await store.calls.get("o.1")
    assert other is not None
    assert other.outcome == "in_progress"  # its node still has it on the line
    # The other node dies; its caller hangs up: gone at two checks in a row, then ended.
    ami.live = []
    clock.advance(20)
    await again.step()
    assert (await store.calls.get("o.1")).outcome == "in_progress"  # type: ignore[union-attr]
    clock.advance(20)
    await again.step()
    await writes.wait_flushed(5)
    ended = await store.calls.get("o.1")
    assert ended is not None
    assert (ended.outcome, ended.ended_at is not None) == (INTERRUPTED, True)
    await again.close()
    await writes.close()


async def test_reading_stays_bounded_and_off_the_loop(store: Store, tmp_path: Path) -> None:
    """Far behind the end (a node away for long), at most MAX_CATCH_UP is read back."""
    log = tmp_path / "queue_log"
    log.write_text("")
    clock, ami = FakeClock(T0), Channels()
    first, writes = reconciler(store, tmp_path, ami, clock)
    await first.catch_up()
    await first.close()
    filler = f"{T0:.0f}|NONE|hotline|PJSIP/op1|PAUSE|lunch\n" * (MAX_CATCH_UP // 30)
    await asyncio.to_thread(log.write_text, filler)
    append(log, answered("late.1", "13800000007", T0 + 10))
    set_to(clock, T0 + 100)
    again, writes = reconciler(store, tmp_path, ami, clock)
    await again.catch_up()
    await writes.wait_flushed(5)
    assert await store.calls.get("late.1") is not None
    await again.close()
    await writes.close()


async def test_a_new_database_starts_at_the_end_whatever_another_one_read(
    store: Store, tmp_path: Path
) -> None:
    """The place read is kept with the records: a fresh database (a new install, a test run on
    a test bed used before) does not take in calls an earlier database was told about, while
    the earlier database still catches up on what it missed."""
    log = tmp_path / "queue_log"
    append(log, answered("a.1", "13800000011", T0))
    clock, ami = FakeClock(T0 + 100), Channels()
    first, writes = reconciler(store, tmp_path, ami, clock)
    await first.catch_up()
    await first.close()
    await writes.close()
    append(log, answered("a.2", "13800000012", T0 + 200))  # while the first one is stopped
    set_to(clock, T0 + 300)

    other_dir = tmp_path / "other"
    other_dir.mkdir()
    fresh = open_store(f"sqlite:///{other_dir / 'calls.sqlite3'}", other_dir)
    await fresh.open()
    try:
        # The same node and state directory (as on a test bed run again): only the database
        # is new.
        new, new_writes = reconciler(fresh, tmp_path, ami, clock)
        await new.catch_up()
        await new_writes.wait_flushed(5)
        assert [r.call_id for r in await fresh.calls.recent(50)] == []
        await new.close()
        await new_writes.close()
    finally:
        await fresh.close()

    again, writes = reconciler(store, tmp_path, ami, clock)
    await again.catch_up()
    await writes.wait_flushed(5)
    assert [r.call_id for r in await store.calls.recent(50)] == ["a.2"]
    await again.close()
    await writes.close()
