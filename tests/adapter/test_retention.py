"""Privacy retention on SQLite and PostgreSQL: old calls lose the caller's number and words,
in bounded batches, audited as a count; recent calls and the figures stay."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from ivr.calls import retention
from ivr.calls.retention import Retention
from ivr.core.records import CallRecord
from ivr.edges.clock import FakeClock
from ivr.edges.storage.store import Store

NOW = datetime(2026, 12, 18, 10, 30, tzinfo=UTC)


def call(call_id: str, days_ago: float) -> CallRecord:
    arrived = (NOW - timedelta(days=days_ago)).isoformat(timespec="milliseconds")
    return CallRecord(call_id, f"PJSIP/citizens-{call_id}", "13800138000", "zh", arrived,
                      caller_name="Zhang San", queue="inquiry", outcome="routed",
                      variables={"transcript": "我家楼下的路灯坏了", "case": "1"},
                      operator="1001", wait_seconds=12.0, talk_seconds=80.0)


def retention_of(store: Store, keep_days: int, *, leads: bool = True) -> Retention:
    return Retention(store.calls, store.audit, lambda: keep_days, leads=lambda: leads,
                     clock=FakeClock(NOW))


async def test_old_calls_lose_caller_and_words_recent_ones_keep_them(store: Store) -> None:
    for call_id, days in (("old", 31), ("older", 400), ("recent", 29)):
        await store.calls.save(call(call_id, days))
    assert await retention_of(store, 30).purge() == 2
    for call_id in ("old", "older"):
        record = await store.calls.get(call_id)
        assert record is not None
        assert (record.caller, record.caller_name, record.channel, record.variables) == (
            "", "", "", {})
        # What the figures are made of stays.
        assert (record.queue, record.outcome, record.operator, record.wait_seconds,
                record.talk_seconds) == ("inquiry", "routed", "1001", 12.0, 80.0)
    recent = await store.calls.get("recent")
    assert recent is not None
    assert recent.caller == "13800138000"
    assert recent.variables["transcript"] == "我家楼下的路灯坏了"
    assert await store.calls.by_caller("13800138000") == [recent]
    # Audited as a count, never with the callers' data.
    entry = (await store.audit.latest(1))[0]
    assert (entry.actor, entry.action, entry.target) == ("system:retention", "privacy_purge",
                                                         "calls")
    assert entry.detail["calls"] == 2
    assert entry.detail["keep_days"] == 30
    assert "13800138000" not in json.dumps(entry.detail, ensure_ascii=False)
    # A second pass finds nothing left and audits nothing.
    assert await retention_of(store, 30).purge() == 0
    assert len(await store.audit.latest()) == 1


async def test_off_means_kept_for_ever(store: Store) -> None:
    await store.calls.save(call("old", 4000))
    assert await retention_of(store, 0).purge() == 0
    record = await store.calls.get("old")
    assert record is not None
    assert record.caller == "13800138000"
    assert await store.audit.latest() == []


async def test_batches_are_bounded_and_the_rest_waits_for_the_next_pass(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    monkeypatch.setattr(retention, "BATCHES_PER_PASS", 2)
    for n in range(7):
        await store.calls.save(call(f"c{n}", 100 + n))
    assert await retention_of(store, 30).purge() == 4  # 2 transactions of 2
    assert await retention_of(store, 30).purge() == 3
    assert [e.detail["calls"] for e in await store.audit.latest()] == [3, 4]


async def test_only_the_leader_purges(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that does not lead leaves old calls alone; the leader's loop clears them."""
    await store.calls.save(call("old", 60))
    monkeypatch.setattr(retention, "LEADER_WAIT_SECONDS", 0.01)
    follower = asyncio.create_task(retention_of(store, 30, leads=False).run())
    await asyncio.sleep(0.1)
    follower.cancel()
    record = await store.calls.get("old")
    assert record is not None
    assert record.caller == "13800138000"
    leader = asyncio.create_task(retention_of(store, 30).run())
    for _ in range(100):
        record = await store.calls.get("old")
        assert record is not None
        if record.caller == "":
            break
        await asyncio.sleep(0.02)
    leader.cancel()
    assert record.caller == ""
