"""The event bus between nodes on a real PostgreSQL (two buses = two nodes), and LocalBus."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import pytest_asyncio
from psycopg import sql

from ivr.core.screen_pops import ScreenPop, pop_from_dict
from ivr.edges.bus import (
    MAX_PAYLOAD_BYTES,
    TRUNCATED_KEY,
    TRUNCATION_MARK,
    EventBus,
    LocalBus,
    PostgresBus,
    fit,
    open_bus,
    payload_size,
)
from ivr.errors import BusError, PayloadTooLarge
from ivr.operators.screen_pops import ScreenPopHub, SharedScreenPops
from tests.pgtools import ADMIN_URL, pg_database

TRICKY_TEXT = (
    "他说：\"路灯不亮\"，'三天了'\n第二行\tTab \\ backslash 😀🚑 "
    "'); DROP TABLE calls; -- \x00 end"
)


class Inbox:
    """A subscriber that remembers what it got."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def __call__(self, payload: dict[str, Any]) -> None:
        self.items.append(payload)

    async def wait_for(self, count: int, timeout: float = 2.0) -> list[dict[str, Any]]:
        await eventually(lambda: len(self.items) >= count, timeout)
        return self.items


async def eventually(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_database() as url:
        yield url


def fast_bus(url: str) -> PostgresBus:
    return PostgresBus(url, heartbeat=2.0, first_backoff=0.05, max_backoff=0.5)


@pytest_asyncio.fixture
async def nodes(pg_url: str) -> AsyncIterator[tuple[PostgresBus, PostgresBus]]:
    """Two nodes on one database."""
    a, b = fast_bus(pg_url), fast_bus(pg_url)
    await a.start()
    await b.start()
    yield a, b
    await a.close()
    await b.close()


@pytest.fixture(params=["local", "postgresql"])
def one_node_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store URL of a single node: SQLite, or a fresh PostgreSQL database."""
    if request.param == "local":
        yield "sqlite:///calls.sqlite3"
    else:
        with pg_database() as url:
            yield url


@pytest_asyncio.fixture
async def bus(one_node_url: str) -> AsyncIterator[EventBus]:
    """One node, on either implementation: they must behave the same."""
    b = open_bus(one_node_url, first_backoff=0.05) if one_node_url.startswith(
        "postgresql") else open_bus(one_node_url)
    await b.start()
    yield b
    await b.close()


async def terminate(application_name: str) -> int:
    """pg_terminate_backend every session with that application name; how many there were."""
    async with await psycopg.AsyncConnection.connect(ADMIN_URL, autocommit=True) as admin:
        cursor = await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (application_name,),
        )
        return len(await cursor.fetchall())


async def allow_connections(url: str, allowed: bool) -> None:
    """Let new sessions into the test database or turn them away (superusers included)."""
    name = urlsplit(url).path.lstrip("/")
    async with await psycopg.AsyncConnection.connect(ADMIN_URL, autocommit=True) as admin:
        await admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            sql.Identifier(name), sql.Literal(allowed)))


# -- two nodes on PostgreSQL ----------------------------------------------------------------


async def test_event_reaches_the_other_node_and_its_own_once_each(
    nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """A's event reaches B's subscriber and A's own, exactly once each."""
    a, b = nodes
    at_a, at_b, fence_at_a = Inbox(), Inbox(), Inbox()
    a.subscribe("cases", at_a)
    b.subscribe("cases", at_b)
    a.subscribe("fence", fence_at_a)

    await a.publish("cases", {"number": "63530001237"})
    assert at_a.items == [{"number": "63530001237"}]  # delivered here at once
    await at_b.wait_for(1)
    # B speaks after seeing A's event; PostgreSQL delivers in commit order, so once A has B's
    # fence, A's own notification has come back too and must have been skipped.
    await b.publish("fence", {})
    await fence_at_a.wait_for(1)
    assert at_a.items == [{"number": "63530001237"}]
    assert at_b.items == [{"number": "63530001237"}]
    assert (b.received, a.received) == (1, 1)


async def test_a_publishers_events_keep_their_order(
    nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """100 events published at once by A arrive at B (and at A) in publishing order."""
    a, b = nodes
    at_a, at_b = Inbox(), Inbox()
    a.subscribe("ticks", at_a)
    b.subscribe("ticks", at_b)
    await asyncio.gather(*(a.publish("ticks", {"n": n}) for n in range(100)))
    await at_b.wait_for(100, timeout=5)
    assert [p["n"] for p in at_b.items] == list(range(100))
    assert [p["n"] for p in at_a.items] == list(range(100))


async def test_channels_are_separate_and_other_nodes_subscribe_any_time(
    nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """B subscribing after start hears at once; only the channel's own subscribers hear."""
    a, b = nodes
    pops, clears = Inbox(), Inbox()
    b.subscribe("screen_pop", pops)
    b.subscribe("screen_pop_clear", clears)
    await a.publish("screen_pop", {"call_id": "c1"})
    await a.publish("screen_pop_clear", {"call_id": "c1"})
    await clears.wait_for(1)
    assert pops.items == [{"call_id": "c1"}]
    assert clears.items == [{"call_id": "c1"}]


async def test_tricky_text_crosses_nodes_unchanged(
    nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """Quotes, newlines, backslashes, NUL, CJK, emoji and SQL-looking text round-trip."""
    a, b = nodes
    at_b = Inbox()
    b.subscribe("screen_pop", at_b)
    payload = {"transcript": TRICKY_TEXT, TRICKY_TEXT: [TRICKY_TEXT, 1, 2.5, None, True]}
    await a.publish("screen_pop", payload)
    assert await at_b.wait_for(1) == [payload]


async def test_largest_payload_crosses_postgresql(
    nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """A payload of exactly MAX_PAYLOAD_BYTES, on the longest channel name, still fits NOTIFY."""
    a, b = nodes
    channel = "c" * 64
    at_b = Inbox()
    b.subscribe(channel, at_b)
    payload = {"text": ""}
    payload["text"] = "😀" * ((MAX_PAYLOAD_BYTES - payload_size(payload)) // 4)
    payload["text"] += "x" * (MAX_PAYLOAD_BYTES - payload_size(payload))
    assert payload_size(payload) == MAX_PAYLOAD_BYTES
    await a.publish(channel, payload)
    assert await at_b.wait_for(1) == [payload]


async def test_listen_connection_killed_bus_reconnects_and_resyncs(
    nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """B's LISTEN session terminated: B reconnects, runs on_reconnect, and hears later events."""
    a, b = nodes
    at_b, at_a = Inbox(), Inbox()
    b.subscribe("cases", at_b)
    a.subscribe("cases", at_a)
    resynced = asyncio.Event()

    async def resync() -> None:
        resynced.set()

    b.on_reconnect(resync)
    assert await terminate(f"ivr-bus-listen-{b.node_id}") == 1
    await asyncio.wait_for(resynced.wait(), 5)
    assert b.reconnects == 1
    assert b.listening
    await a.publish("cases", {"after": "reconnect"})
    assert await at_b.wait_for(1) == [{"after": "reconnect"}]
    await b.publish("cases", {"from": "b"})  # B's sending side was not touched
    assert await at_a.wait_for(2) == [{"after": "reconnect"}, {"from": "b"}]
    assert a.reconnects == 0


async def test_listen_connection_killed_again_and_again(
    nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """Each loss of B's LISTEN session is one reconnect and one resync; events still arrive."""
    a, b = nodes
    at_b = Inbox()
    b.subscribe("cases", at_b)
    resyncs: list[int] = []

    async def resync() -> None:
        resyncs.append(b.reconnects)

    b.on_reconnect(resync)
    for kill in range(1, 4):
        assert await terminate(f"ivr-bus-listen-{b.node_id}") == 1
        await eventually(lambda kill=kill: len(resyncs) == kill, 5)  # type: ignore[misc]
        await a.publish("cases", {"n": kill})
        await at_b.wait_for(kill)
    assert resyncs == [1, 2, 3]
    assert [p["n"] for p in at_b.items] == [1, 2, 3]


async def test_events_while_a_node_is_cut_off_are_lost_until_it_is_back(
    pg_url: str, nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """B cut off and refused new sessions: it keeps retrying; what A sent meanwhile is lost,
    B resyncs once back, and A's later events arrive."""
    a, b = nodes
    at_b = Inbox()
    b.subscribe("cases", at_b)
    resynced = asyncio.Event()

    async def resync() -> None:
        resynced.set()

    b.on_reconnect(resync)
    await allow_connections(pg_url, False)
    try:
        assert await terminate(f"ivr-bus-listen-{b.node_id}") == 1
        await eventually(lambda: not b.listening, 5)
        await a.publish("cases", {"n": "while cut off"})  # A's session is still open
        await asyncio.sleep(0.5)  # several refused attempts
        assert not resynced.is_set()
    finally:
        await allow_connections(pg_url, True)
    await asyncio.wait_for(resynced.wait(), 5)
    await a.publish("cases", {"n": "after"})
    assert await at_b.wait_for(1) == [{"n": "after"}]
    assert b.reconnects == 1


async def test_publish_when_the_database_is_unreachable(
    pg_url: str, nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """A's NOTIFY session lost and no new one possible: this node's consoles still get the
    event, and publish says the other nodes did not; once possible again, events go out."""
    a, b = nodes
    at_a, at_b = Inbox(), Inbox()
    a.subscribe("cases", at_a)
    b.subscribe("cases", at_b)
    await allow_connections(pg_url, False)
    try:
        assert await terminate(f"ivr-bus-notify-{a.node_id}") == 1
        with pytest.raises(BusError, match="reached this node only"):
            await a.publish("cases", {"n": 1})
        assert at_a.items == [{"n": 1}]
    finally:
        await allow_connections(pg_url, True)
    await a.publish("cases", {"n": 2})
    assert await at_b.wait_for(1) == [{"n": 2}]
    assert at_a.items == [{"n": 1}, {"n": 2}]


class SilentLink:
    """A TCP relay to the PostgreSQL server that can go silent (a lost network, no reset)."""

    def __init__(self) -> None:
        self.silent = False
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = urlsplit(ADMIN_URL)
        up_reader, up_writer = await asyncio.open_connection(
            address.hostname, address.port or 5432)
        self._writers += [writer, up_writer]
        born_silent = self.silent  # only the sessions open when the link went quiet lose it

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if self.silent and not born_silent:
                    continue  # swallowed, like packets into a dead link
                dst.write(data)
                await dst.drain()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer),
                             return_exceptions=True)

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def test_silent_network_loss_is_noticed_by_the_heartbeat(
    pg_url: str, nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """B's and C's links go quiet without a reset: B's heartbeat notices, B reconnects and
    resyncs; C's publish gives up quickly instead of hanging, and the next one goes out."""
    a, _ = nodes
    link = SilentLink()
    port = await link.start()
    behind_link = urlsplit(pg_url)._replace(netloc=f"postgres@127.0.0.1:{port}").geturl()
    b, c = (PostgresBus(behind_link, heartbeat=0.3, answer_timeout=0.5, first_backoff=0.05)
            for _ in range(2))
    await b.start()
    await c.start()
    try:
        at_b, at_c = Inbox(), Inbox()
        b.subscribe("cases", at_b)
        c.subscribe("cases", at_c)
        resynced = asyncio.Event()

        async def resync() -> None:
            resynced.set()

        b.on_reconnect(resync)
        link.silent = True  # sessions open now hear nothing more; new ones work
        started = asyncio.get_running_loop().time()
        with pytest.raises(BusError, match="reached this node only"):
            await c.publish("cases", {"n": "lost"})
        assert asyncio.get_running_loop().time() - started < 2
        assert at_c.items == [{"n": "lost"}]
        await asyncio.wait_for(resynced.wait(), 5)
        await a.publish("cases", {"n": 1})
        await c.publish("cases", {"n": 2})
        assert await at_b.wait_for(2) == [{"n": 1}, {"n": 2}]
    finally:
        await b.close()
        await c.close()
        await link.close()


async def test_notify_connection_killed_next_publish_still_arrives(
    nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """A's NOTIFY session terminated: A's next publish reconnects and reaches B, no error."""
    a, b = nodes
    at_b = Inbox()
    b.subscribe("cases", at_b)
    assert await terminate(f"ivr-bus-notify-{a.node_id}") == 1
    await a.publish("cases", {"n": 1})
    assert await at_b.wait_for(1) == [{"n": 1}]


async def test_unreachable_database_fails_at_start_without_the_password() -> None:
    """A bus on a missing database says so at start, with the password masked."""
    bus = PostgresBus("postgresql://postgres:s3cret-pw@127.0.0.1:5432/ivr_no_such_database")
    with pytest.raises(BusError, match="ivr_no_such_database") as caught:
        await bus.start()
    assert "s3cret-pw" not in str(caught.value)
    with pytest.raises(BusError, match="not running"):
        await bus.publish("cases", {})
    await bus.close()


# -- one node: LocalBus and PostgresBus behave the same --------------------------------------


async def test_own_subscribers_get_each_event_once(bus: EventBus) -> None:
    """Publishing delivers to this node's subscribers of that channel only, once each."""
    first, second, other = Inbox(), Inbox(), Inbox()
    bus.subscribe("cases", first)
    bus.subscribe("cases", second)
    bus.subscribe("bulletins", other)
    await bus.publish("cases", {"n": 1, "tags": ("a", "b")})
    assert first.items == second.items == [{"n": 1, "tags": ["a", "b"]}]
    first.items[0]["n"] = 99  # each subscriber owns its copy
    assert second.items == [{"n": 1, "tags": ["a", "b"]}]
    await asyncio.sleep(0.2)  # time for a notification to come back, if it were not skipped
    assert len(first.items) == 1
    assert other.items == []


async def test_unsubscribe_and_failing_subscriber(bus: EventBus) -> None:
    """A subscriber that raises does not stop the others; unsubscribing stops delivery."""
    inbox = Inbox()

    def broken(payload: dict[str, Any]) -> None:
        raise RuntimeError("console bug")

    bus.subscribe("cases", broken)
    stop = bus.subscribe("cases", inbox)
    await bus.publish("cases", {"n": 1})
    stop()
    await bus.publish("cases", {"n": 2})
    assert inbox.items == [{"n": 1}]


async def test_tricky_text_round_trips_on_one_node(bus: EventBus) -> None:
    """Local delivery gives back exactly what was published, whatever the characters."""
    inbox = Inbox()
    bus.subscribe("screen_pop", inbox)
    await bus.publish("screen_pop", {"transcript": TRICKY_TEXT})
    assert inbox.items == [{"transcript": TRICKY_TEXT}]


async def test_oversize_payload_is_refused_and_fit_makes_it_fit(bus: EventBus) -> None:
    """Too big: PayloadTooLarge and nobody gets it; after fit() it goes, marked truncated."""
    inbox = Inbox()
    bus.subscribe("screen_pop", inbox)
    pop = {"call_id": "c1", "caller": "13800138000", "transcript": "我家门口的路灯坏了" * 400}
    with pytest.raises(PayloadTooLarge, match=r"at most 7000.*fit"):
        await bus.publish("screen_pop", pop)
    assert inbox.items == []
    fitted = fit(pop)
    assert payload_size(fitted) <= MAX_PAYLOAD_BYTES
    await bus.publish("screen_pop", fitted)
    [got] = inbox.items
    assert got["caller"] == "13800138000"
    assert got["transcript"].endswith(TRUNCATION_MARK)
    assert pop["transcript"].startswith(got["transcript"][:-1])
    assert len(got["transcript"]) > 2000  # cut to what fits, not to nothing
    assert got[TRUNCATED_KEY] == ["transcript"]


async def test_bad_payloads_and_channels_are_refused(bus: EventBus) -> None:
    """Not JSON, or a bad channel name: BusError, nothing delivered."""
    inbox = Inbox()
    bus.subscribe("cases", inbox)
    with pytest.raises(BusError, match="not JSON"):
        await bus.publish("cases", {"at": object()})
    with pytest.raises(BusError, match="not JSON"):
        await bus.publish("cases", {"text": "\ud800"})
    with pytest.raises(BusError, match="bad bus channel"):
        await bus.publish("cases; NOTIFY x", {})
    assert inbox.items == []


async def test_closed_bus_refuses_to_publish(bus: EventBus) -> None:
    """After close, publish is a BusError (an app shutting down notices)."""
    await bus.close()
    with pytest.raises(BusError, match="not running"):
        await bus.publish("cases", {})


def test_open_bus_follows_the_store_url() -> None:
    """SQLite gets the local bus, PostgreSQL (as the store spells it) the NOTIFY bus."""
    assert isinstance(open_bus("sqlite:///calls.sqlite3"), LocalBus)
    assert isinstance(open_bus("sqlite:////var/lib/ivr/calls.db"), LocalBus)
    assert isinstance(open_bus("postgresql://ivr@db/ivr"), PostgresBus)
    assert isinstance(open_bus("postgresql+psycopg://ivr:pw@db:5433/ivr"), PostgresBus)
    with pytest.raises(BusError, match="unsupported"):
        open_bus("mysql://ivr@db/ivr")
    assert open_bus("sqlite:///a.db").node_id != open_bus("sqlite:///a.db").node_id


# -- fit --------------------------------------------------------------------------------------


def test_fit_leaves_a_small_payload_alone() -> None:
    """A payload that fits comes back equal, without a truncation marker."""
    payload = {"a": "x" * 100, "b": [1, 2]}
    assert fit(payload) == payload


def test_fit_cuts_the_longest_strings_first() -> None:
    """Long strings at any depth are cut to a common length; short ones stay whole."""
    payload = {
        "transcript": "t" * 5000, "caller": "13800138000",
        "previous_cases": [{"number": "1", "description": "d" * 4000}],
    }
    fitted = fit(payload, limit=3000)
    assert payload_size(fitted) <= 3000
    assert fitted["caller"] == "13800138000"
    assert fitted["previous_cases"][0]["number"] == "1"
    assert fitted[TRUNCATED_KEY] == ["previous_cases[0].description", "transcript"]
    assert len(fitted["transcript"]) == len(fitted["previous_cases"][0]["description"])
    assert len(fitted["transcript"]) > 1000


def test_fit_drops_list_items_when_strings_are_not_enough() -> None:
    """Hundreds of earlier cases: the list loses its last items, and strings keep their start."""
    payload = {
        "call_id": "c1", "transcript": "路灯坏了" * 1000,
        "previous_cases": [{"n": str(i), "category": "市政"} for i in range(2000)],
    }
    fitted = fit(payload)
    assert payload_size(fitted) <= MAX_PAYLOAD_BYTES
    assert fitted["previous_cases"][:2] == [{"n": "0", "category": "市政"},
                                            {"n": "1", "category": "市政"}]
    assert 10 < len(fitted["previous_cases"]) < 2000
    assert len(fitted["transcript"]) >= 200
    assert fitted[TRUNCATED_KEY] == ["previous_cases", "transcript"]
    tiny = fit({"previous_cases": [{"n": str(i)} for i in range(2000)]}, limit=1000)
    assert payload_size(tiny) <= 1000
    assert tiny["previous_cases"][0] == {"n": "0"}


def test_fit_gives_up_when_keys_alone_are_too_big() -> None:
    """Keys are never cut: PayloadTooLarge."""
    with pytest.raises(PayloadTooLarge):
        fit({"k" * 200: 1}, limit=100)


# -- screen pops across nodes ---------------------------------------------------------------


def make_pop(**fields: Any) -> ScreenPop:
    values: dict[str, Any] = {
        "call_id": "1700000000.42", "operator_id": "op7", "caller": "13800138000",
        "caller_name": "张三", "language": "zh", "queue": "general", "skill": "zh",
        "transcript": "路灯坏了 😀", "intent": "streetlight", "category": "市政",
        "urgency": "normal", "route_reasons": ("repeat caller", "language zh"),
        "previous_cases": ({"number": "63530001237", "status": "closed"},),
        "at": "2026-11-28T16:00:00+08:00",
    }
    values.update(fields)
    return ScreenPop(**values)


async def test_pop_raised_on_node_a_reaches_a_console_on_node_b(
    nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """An operator connected to node B sees, within 1 s, the pop node A's AMI events raised."""
    a, b = nodes
    hub_a, hub_b = ScreenPopHub(), ScreenPopHub()
    pops_a, pops_b = SharedScreenPops(hub_a, a), SharedScreenPops(hub_b, b)
    pop = make_pop()
    async with hub_b.subscribe("op7") as console:
        await pops_a.publish(pop)
        assert hub_a.current("op7") == pop  # A's own hub, at once
        assert await asyncio.wait_for(console.get(), 1.0) == pop
    assert hub_b.current("op7") == pop

    await pops_a.clear("op7", "some.other.call")  # a late hang-up keeps the current pop
    await pops_a.clear("op7", pop.call_id)
    await eventually(lambda: hub_b.current("op7") is None, 1.0)
    assert hub_a.current("op7") is None
    assert hub_b.published == hub_a.published == 1
    pops_a.close()
    pops_b.close()


async def test_pop_with_a_long_transcript_arrives_trimmed(
    nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """A ten-minute transcript does not stop the pop: it arrives cut, ending with the mark."""
    a, b = nodes
    hub_b = ScreenPopHub()
    pops_a, _ = SharedScreenPops(ScreenPopHub(), a), SharedScreenPops(hub_b, b)
    pop = make_pop(transcript="我家门口的路灯坏了三天了。" * 1000)
    async with hub_b.subscribe("op7") as console:
        await pops_a.publish(pop)
        got = await asyncio.wait_for(console.get(), 1.0)
    assert got.transcript.endswith(TRUNCATION_MARK)
    assert pop.transcript.startswith(got.transcript[:-1])
    assert got.previous_cases == pop.previous_cases
    assert got.route_reasons == pop.route_reasons


async def test_shared_pops_on_one_sqlite_node() -> None:
    """With the local bus, publishing and clearing act on the node's own hub."""
    bus = open_bus("sqlite:///calls.sqlite3")
    await bus.start()
    hub = ScreenPopHub()
    pops = SharedScreenPops(hub, bus)
    pop = make_pop()
    async with hub.subscribe("op7") as console:
        await pops.publish(pop)
        assert console.get_nowait() == pop
    await pops.clear("op7")
    assert hub.current("op7") is None
    await bus.close()


async def test_events_that_are_not_pops_are_dropped(bus: EventBus) -> None:
    """A malformed event on the pop channels (an older node, a stray publisher) changes nothing."""
    hub = ScreenPopHub()
    pops = SharedScreenPops(hub, bus)
    await bus.publish("screen_pop", {"call_id": "c1"})  # no operator
    await bus.publish("screen_pop", {**make_pop().to_dict(), "route_reasons": "one"})
    await bus.publish("screen_pop_clear", {"operator_id": 7})
    assert pops.rejected == 3
    assert hub.published == 0


def test_pop_survives_json() -> None:
    """to_dict -> JSON -> pop_from_dict gives the same pop; unknown keys are ignored."""
    pop = make_pop()
    data = json.loads(pop.to_json())
    data["added_by_a_newer_node"] = "x"
    assert pop_from_dict(data) == pop


# -- leadership ---------------------------------------------------------------------------


async def test_one_node_leads_and_the_other_takes_over_when_it_goes(
    nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    """Exactly one of two nodes leads; when the leader's session dies (the node is gone), the
    other takes over within a few seconds and its hook is told."""
    a, b = nodes
    await eventually(lambda: a.is_leader or b.is_leader, timeout=5.0)
    leader, other = (a, b) if a.is_leader else (b, a)
    await asyncio.sleep(2.5)  # the other has asked again meanwhile and been refused
    assert not other.is_leader
    told: list[bool] = []
    other.on_leadership(told.append)
    assert await terminate(f"ivr-bus-lead-{leader.node_id}") == 1
    await leader.close()  # the node is gone
    await eventually(lambda: other.is_leader, timeout=8.0)
    assert told == [True]


async def test_a_single_node_leads(bus: EventBus) -> None:
    await eventually(lambda: bus.is_leader, timeout=5.0)
