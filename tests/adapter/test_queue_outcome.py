"""What app_queue did, where the operator and the API see it: the screen pop carries the queue's
account so far, and calls the IVR did not route (the dialplan's fallback, a callback's
stand-in) or that an operator transferred carry their reasons in the call record. Real store
(SQLite file), app_queue's events as AMI delivers them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest_asyncio

from ivr import settings
from ivr.calls.pending_writes import PendingWrites
from ivr.core.protocols.ami import AmiEvent
from ivr.core.records import CallRecord
from ivr.core.routing import FALLBACK_REASON
from ivr.core.screen_pops import pop_from_dict
from ivr.core.settings import Settings
from ivr.edges.bus import LocalBus
from ivr.edges.storage.store import Store, open_store
from ivr.edges.translations import load_catalogs
from ivr.operators.queue_events import QueueEvents
from ivr.operators.screen_pops import ScreenPopHub, SharedScreenPops
from ivr.web.i18n import LOCALE_DIR

zh_CN = load_catalogs(LOCALE_DIR)["zh_CN"].ugettext

NOW = datetime(2026, 12, 18, 10, 30, tzinfo=UTC)


class Desk:
    """QueueEvents on a real store, with the pops it raised."""

    def __init__(self, cfg: Settings, store: Store, writes: PendingWrites,
                 hub: ScreenPopHub, bus: LocalBus) -> None:
        self.cfg, self.store, self.writes, self.hub = cfg, store, writes, hub
        self.events = QueueEvents(cfg, store.calls, store.cases, SharedScreenPops(hub, bus),
                                  writes, callbacks=store.callbacks)
        self.ops = list(cfg.operators.values())

    async def feed(self, *events: tuple[str, dict[str, str]]) -> None:
        for name, fields in events:
            self.events.on_event(AmiEvent(name, fields))
            await self.events.drain()


@pytest_asyncio.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    cfg = await asyncio.to_thread(settings.load)
    store = open_store(f"sqlite:///{tmp_path / 'calls.sqlite3'}", tmp_path)
    await store.open()
    bus = LocalBus()
    await bus.start()
    writes = PendingWrites(store, tmp_path)
    yield Desk(cfg, store, writes, ScreenPopHub(), bus)
    await writes.close()
    await bus.close()
    await store.close()


def routed(call_id: str) -> CallRecord:
    return CallRecord(call_id, f"PJSIP/citizen-{call_id}", "13800138000", "zh",
                      NOW.isoformat(timespec="milliseconds"), queue="inquiry",
                      outcome="routed", route_reasons=["skill inquiry (menu key 2)"])


async def test_the_pop_shows_what_the_queue_did_before_this_phone_rang(desk: Desk) -> None:
    """The second operator rung sees that the first did not answer, and why the call came."""
    await desk.writes.save(routed("c1"))
    first, second = desk.ops[0], desk.ops[1]
    call = {"Uniqueid": "c1", "Queue": "inquiry", "Channel": "PJSIP/citizen-c1"}
    await desk.feed(
        ("AgentCalled", {**call, "Interface": first.interface}),
        ("AgentRingNoAnswer", {**call, "Interface": first.interface, "RingTime": "15"}),
        ("AgentCalled", {**call, "Interface": second.interface}),
    )
    pop = desk.hub.current(second.id)
    assert pop is not None
    assert pop.route_reasons == ("skill inquiry (menu key 2)",)
    assert pop.queue_outcome == (
        "inquiry (the inquiry queue): nobody skipped", f"inquiry: rang {first.id}",
        f"inquiry: {first.id} did not answer within 15 s", f"inquiry: rang {second.id}")
    # Another node gets the same lines (with their templates), a console its own language.
    assert pop_from_dict(pop.to_dict()).queue_outcome == pop.queue_outcome
    assert pop.to_dict(str)["queue_outcome"] == list(pop.queue_outcome)
    chinese = pop.to_dict(zh_CN)["queue_outcome"]
    assert chinese[0] == "inquiry（inquiry 队列）：无人被跳过"
    assert chinese[2] == f"inquiry：{first.id} 在 15 秒内未接听"


async def test_a_fallback_call_is_recorded_with_why(desk: Desk) -> None:
    """A call the application never saw (the dialplan's fallback) gets a record: its reason,
    who answered after how long, and its talk time."""
    op = desk.ops[2]
    call = {"Uniqueid": "f1", "Queue": "hotline", "Channel": "PJSIP/citizen-f1",
            "CallerIDNum": "13900001111", "Interface": op.interface}
    await desk.feed(("AgentCalled", call))
    pop = desk.hub.current(op.id)
    assert pop is not None
    assert pop.route_reasons == (FALLBACK_REASON,)
    await desk.feed(("AgentConnect", {**call, "HoldTime": "3"}),
                    ("AgentComplete", {**call, "TalkTime": "40"}))
    record = await desk.store.calls.get("f1")
    assert record is not None
    assert (record.caller, record.queue, record.operator, record.outcome) == (
        "13900001111", "hotline", op.id, "fallback")
    assert record.route_reasons == [FALLBACK_REASON]
    assert record.queue_outcome[-1] == f"hotline: answered by {op.id} after 3 s in line " \
        "(the general pool)"
    assert (record.wait_seconds, record.talk_seconds) == (3.0, 40.0)


async def test_an_abandoned_fallback_call_is_recorded_too(desk: Desk) -> None:
    await desk.feed(("QueueCallerAbandon", {"Uniqueid": "f2", "Queue": "hotline",
                                            "Channel": "PJSIP/citizen-f2", "HoldTime": "61",
                                            "CallerIDNum": "13900002222"}))
    record = await desk.store.calls.get("f2")
    assert record is not None
    assert (record.outcome, record.wait_seconds, record.route_reasons) == (
        "abandoned", 61.0, [FALLBACK_REASON])


async def test_a_call_the_ivr_left_unrouted_says_it_fell_back(desk: Desk) -> None:
    """The IVR wrote the record but died before choosing a queue: the outcome says why the
    call was in the general pool."""
    await desk.writes.save(CallRecord("d1", "PJSIP/citizen-d1", "13800138000", "zh",
                                      NOW.isoformat(), outcome="ivr_failed"))
    op = desk.ops[0]
    await desk.feed(("AgentConnect", {"Uniqueid": "d1", "Queue": "hotline", "HoldTime": "1",
                                      "Channel": "PJSIP/citizen-d1",
                                      "Interface": op.interface}))
    record = await desk.store.calls.get("d1")
    assert record is not None
    assert record.queue_outcome[0] == FALLBACK_REASON
    assert record.operator == op.id


async def test_an_operator_transfer_is_in_the_call_record(desk: Desk) -> None:
    await desk.writes.save(routed("t1"))
    op = desk.ops[0]
    await desk.feed(("AgentConnect", {"Uniqueid": "t1", "Queue": "inquiry", "HoldTime": "2",
                                      "Channel": "PJSIP/citizen-t1",
                                      "Interface": op.interface}))
    desk.events.transferred(op.id, "12301")
    await desk.events.drain()
    record = await desk.store.calls.get("t1")
    assert record is not None
    assert record.queue_outcome[-2].startswith(f"inquiry: answered by {op.id}")
    assert record.queue_outcome[-1] == f"transferred by {op.id} to department number 12301"


async def test_a_callback_stand_in_explains_itself_to_the_operator_and_the_call(
    desk: Desk,
) -> None:
    """The stand-in's pop says it is a callback and why the original call was routed; who
    answered the stand-in goes into the original call's record."""
    await desk.writes.save(routed("o1"))
    request = await desk.store.callbacks.add(
        call_id="o1", number="13800138000", skill="inquiry", priority=5, position=2,
        arrived_at=NOW.isoformat(), requested_at=NOW.isoformat())
    op = desk.ops[1]
    stand_in = {"Uniqueid": "s1", "Queue": "inquiry", "Interface": op.interface,
                "Channel": f"Local/{request.id}@callback-queue-00000001;2"}
    await desk.feed(("AgentCalled", stand_in))
    pop = desk.hub.current(op.id)
    assert pop is not None
    assert pop.route_reasons[0].startswith(f"callback {request.id}: the citizen asked")
    assert pop.route_reasons[1:] == ("skill inquiry (menu key 2)",)
    await desk.feed(("AgentConnect", {**stand_in, "HoldTime": "50"}))
    original = await desk.store.calls.get("o1")
    assert original is not None
    assert original.queue_outcome[-1] == (
        f"callback {request.id} (stand-in): inquiry: answered by {op.id} after 50 s in line "
        "(the inquiry queue)")
    assert await desk.store.calls.get("s1") is None  # no record of its own
