"""The event bus between application nodes: the only module that uses PostgreSQL LISTEN/NOTIFY.

Two ``ivr serve`` processes sharing one PostgreSQL database hand each other real-time events
(a screen pop raised by one node's AMI events, for an operator whose console is connected to
the other node) through PostgreSQL's own LISTEN/NOTIFY. One interface, ``EventBus``; two
implementations, chosen by ``open_bus(database_url)``:

- ``LocalBus`` (SQLite, one node): ``publish`` hands the event to this process's subscribers.
- ``PostgresBus``: the same, and every other node's subscribers get it through NOTIFY.

Contract (both implementations)
    ``subscribe(channel, callback)`` takes effect at once, before or after ``start``; the
    callback receives the payload as decoded JSON (a fresh ``dict`` per subscriber, so tuples
    arrive as lists) and must not block: it runs on the event loop. A callback that raises is
    logged and the other subscribers still get the event.

    ``publish`` checks the payload first: it must be JSON (``BusError`` if not) of at most
    ``MAX_PAYLOAD_BYTES`` in UTF-8 (``PayloadTooLarge`` if not: PostgreSQL refuses NOTIFY
    payloads of 8000 bytes and more, and the envelope needs the rest). ``fit`` trims a payload
    to size. A refused payload reaches nobody.

    Delivery on this node: at ``publish``, synchronously, before anything is sent, exactly once.
    The node's own notifications coming back from PostgreSQL are recognised by ``node_id`` and
    skipped. So the node's own consoles get their events even when the database is unreachable
    (``publish`` then raises ``BusError`` after local delivery, saying the other nodes missed
    it), and one publisher's events reach every node in the order they were published.
    Events of different nodes may interleave differently on each node.

PostgreSQL theory of operation
    Every bus channel travels on one PostgreSQL channel (``ivr_bus`` unless told otherwise) in an
    envelope ``{"node": ..., "channel": ..., "payload": ...}``, so subscribing never needs a new
    LISTEN and cannot race with an event published right after it. Each node keeps two psycopg
    3 async connections in autocommit mode (``application_name`` ``ivr-bus-listen-<node_id>``
    and ``ivr-bus-notify-<node_id>``): one only LISTENs, the other sends
    ``SELECT pg_notify(%s, %s)`` with parameters, one at a time, so one publisher's events keep
    their order.

    The listening connection is checked with ``SELECT 1`` after ``heartbeat`` seconds without
    notifications (and by TCP keep-alives), so a silent network loss is noticed too; LISTEN,
    NOTIFY and that check give up after ``answer_timeout`` seconds without an answer, so a
    server or network that went quiet never hangs a ``publish`` or the listener. When it
    drops, the bus reconnects with exponential back-off (with jitter, up to ``max_backoff``),
    LISTENs again and then runs every ``on_reconnect`` hook. NOTIFY is not queued for absent
    listeners: events published by other nodes while this node was not listening are LOST.
    The hooks are where the application resynchronises what it shows (from the store, or by
    asking the other nodes to re-publish). Events arriving while the hooks run wait and are
    delivered after them.

    The notify connection is reopened on the next ``publish`` when it broke; when it breaks
    during a ``publish`` the event is sent once more on a new connection, which may, if the
    first attempt had in fact reached the server, deliver it twice to the other nodes.

    psycopg errors become ``BusError`` carrying the server (password masked) and the driver's
    message; payloads never appear in log lines or messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import psycopg
import structlog
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ivr.edges.storage.database import DatabaseUrl
from ivr.errors import BusError, PayloadTooLarge, StorageError

log = structlog.get_logger("ivr.bus")

MAX_PAYLOAD_BYTES = 7000
"""Largest payload ``publish`` accepts: its JSON in UTF-8, as ``payload_size`` counts it."""
TRUNCATION_MARK = "…"
"""Appended to a string ``fit`` shortened."""
TRUNCATED_KEY = "_truncated"
"""Key ``fit`` adds to a payload it trimmed: the paths of the shortened strings and lists."""
PG_CHANNEL = "ivr_bus"
_READABLE_CHARS = 200  # what fit keeps of each string before it drops list items

Subscriber = Callable[[dict[str, Any]], None]
ReconnectHook = Callable[[], Awaitable[None]]

_CHANNEL = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _encode(payload: object) -> str:
    try:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        text.encode("utf-8")  # a lone surrogate cannot travel
    except (TypeError, ValueError) as exc:
        raise BusError(f"the event payload is not JSON: {exc}") from exc
    return text


def payload_size(payload: Mapping[str, object]) -> int:
    """Bytes ``payload`` takes on the bus (compact JSON, UTF-8)."""
    return len(_encode(dict(payload)).encode("utf-8"))


def _check_channel(channel: str) -> None:
    if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
        raise BusError(
            f"bad bus channel {channel!r}: 1 to 64 letters, digits or _ . : -"
        )


def fit(payload: Mapping[str, object], limit: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """``payload`` as a plain JSON dict of at most ``limit`` bytes on the bus.

    A payload that fits comes back unchanged. Otherwise the longest strings, at any depth, are
    cut to a common length (as long as still fits) and end with ``TRUNCATION_MARK``; only if
    even empty strings are not enough, the longest lists lose their last items too (as many
    as needed to keep the first 200 characters of each string, when that is possible). The key
    ``TRUNCATED_KEY`` then lists what was cut (``"transcript"``, ``"previous_cases[3].note"``,
    ``"previous_cases"``). Keys are never cut: ``PayloadTooLarge`` when nothing else helps.
    """
    data = json.loads(_encode(dict(payload)))
    if _fits(data, limit):
        return dict(data)
    # Nothing longer than ``limit`` characters or items can fit whole: this bounds every probe.
    longest_string, longest_list = (min(extent, limit) for extent in _extents(data))

    def shaped(items: int | None, chars: int) -> dict[str, Any]:
        paths: list[str] = []
        result = _cut(data, items, chars, "", paths)
        earlier = result.get(TRUNCATED_KEY)
        if isinstance(earlier, list):
            paths.extend(str(p) for p in earlier)
        result[TRUNCATED_KEY] = sorted(set(paths))
        return dict(result)

    def largest(fits: Callable[[int], bool], high: int) -> int:
        low = 0  # callers checked that 0 fits
        while low < high:
            middle = (low + high + 1) // 2
            if fits(middle):
                low = middle
            else:
                high = middle - 1
        return low

    items: int | None = None
    if not _fits(shaped(None, 0), limit):
        if not _fits(shaped(0, 0), limit):
            raise PayloadTooLarge(
                f"the event payload cannot be trimmed to {limit} bytes: its keys alone take "
                f"{payload_size(shaped(0, 0))}"
            )
        # Keep the start of every string readable rather than more list items.
        floor = min(longest_string, _READABLE_CHARS)
        if not _fits(shaped(0, floor), limit):
            floor = 0
        items = largest(lambda n: _fits(shaped(n, floor), limit), longest_list)
    chars = largest(lambda n: _fits(shaped(items, n), limit), longest_string)
    return shaped(items, chars)


def _fits(data: Mapping[str, object], limit: int) -> bool:
    return payload_size(data) <= limit


def _extents(value: object) -> tuple[int, int]:
    """The longest string and the longest list anywhere in ``value``."""
    if isinstance(value, str):
        return len(value), 0
    children: list[object]
    if isinstance(value, dict):
        children = list(value.values())
    elif isinstance(value, list):
        children = list(value)
    else:
        return 0, 0
    extents = [_extents(child) for child in children]
    own = len(children) if isinstance(value, list) else 0
    return (max((e[0] for e in extents), default=0),
            max([own, *(e[1] for e in extents)]))


def _cut(value: Any, items: int | None, chars: int, path: str, paths: list[str]) -> Any:
    if isinstance(value, str):
        if len(value) > chars:
            paths.append(path)
            return value[:chars] + TRUNCATION_MARK
        return value
    if isinstance(value, dict):
        return {key: (child if key == TRUNCATED_KEY and not path
                      else _cut(child, items, chars, f"{path}.{key}" if path else key, paths))
                for key, child in value.items()}
    if isinstance(value, list):
        kept = value
        if items is not None and len(value) > items:
            paths.append(path)
            kept = value[:items]
        return [_cut(child, items, chars, f"{path}[{i}]", paths) for i, child in enumerate(kept)]
    return value


LEAD_LOCK_KEY = 0x1234_5000_0001
"""The advisory lock that makes a node the leader (one deployment per database)."""
LEAD_RETRY = 2.0


class EventBus(ABC):
    """Real-time events between the nodes of one deployment; see the module docstring."""

    def __init__(self) -> None:
        self.node_id: str = uuid.uuid4().hex
        """Random per process: tells this node's events from the others'."""
        self._subscribers: dict[str, list[Subscriber]] = {}
        self._reconnect_hooks: list[ReconnectHook] = []
        self._running = False
        self.published = 0
        """Events this node published (each delivered here and, PostgreSQL, sent out)."""
        self.received = 0
        """Events from other nodes delivered here."""
        self.reconnects = 0
        """Times the link to the other nodes was re-established after a loss."""
        self.is_leader = False
        """Whether this node does the deployment's one-at-a-time duties now (see ``lead``)."""
        self._leadership_hooks: list[Callable[[bool], None]] = []

    @property
    def isolated(self) -> bool:
        """Cut off from the other nodes (the database is unreachable): each node then does the
        local part of the leader's duties itself (its own consoles' pops, its own facts)."""
        return False

    def on_leadership(self, hook: Callable[[bool], None]) -> None:
        """Call ``hook(leading)`` whenever this node becomes, or stops being, the leader."""
        self._leadership_hooks.append(hook)

    def _set_leader(self, leading: bool) -> None:
        if leading == self.is_leader:
            return
        self.is_leader = leading
        log.info("leadership_changed", node=self.node_id, leading=leading)
        for hook in list(self._leadership_hooks):
            try:
                hook(leading)
            except Exception:
                log.exception("leadership_hook_failed")

    @abstractmethod
    async def start(self) -> None:
        """Connect; raises ``BusError`` when the database cannot be reached."""

    @abstractmethod
    async def close(self) -> None:
        """Let go of every connection; publishing afterwards is a ``BusError``. Idempotent."""

    @abstractmethod
    async def _send(self, channel: str, body: str) -> None:
        """Hand an already checked event to the other nodes."""

    def subscribe(self, channel: str, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(payload)`` for every event on ``channel``, from any node, from now
        on; returns a function that ends the subscription."""
        _check_channel(channel)
        self._subscribers.setdefault(channel, []).append(callback)

        def unsubscribe() -> None:
            callbacks = self._subscribers.get(channel, [])
            with contextlib.suppress(ValueError):
                callbacks.remove(callback)
            if not callbacks:
                self._subscribers.pop(channel, None)
        return unsubscribe

    def on_reconnect(self, hook: ReconnectHook) -> None:
        """Await ``hook()`` each time the bus is listening again after losing the other nodes
        (events they published meanwhile are lost: resynchronise here). Never on ``start``."""
        self._reconnect_hooks.append(hook)

    async def publish(self, channel: str, payload: Mapping[str, object]) -> None:
        """Deliver ``payload`` to this node's subscribers of ``channel`` at once, then to the
        other nodes'. ``PayloadTooLarge`` or ``BusError`` (not JSON) before any delivery;
        ``BusError`` after local delivery when the other nodes could not be reached."""
        if not self._running:
            raise BusError("the event bus is not running (start it first)")
        _check_channel(channel)
        body = _encode(dict(payload))
        size = len(body.encode("utf-8"))
        if size > MAX_PAYLOAD_BYTES:
            raise PayloadTooLarge(
                f"event on {channel!r} is {size} bytes, the bus carries at most "
                f"{MAX_PAYLOAD_BYTES}: trim it with ivr.edges.bus.fit"
            )
        self.published += 1
        self._deliver(channel, body)
        await self._send(channel, body)

    def _deliver(self, channel: str, body: str) -> None:
        for callback in list(self._subscribers.get(channel, ())):
            try:
                callback(json.loads(body))
            except Exception:
                log.exception("bus_subscriber_failed", channel=channel)

    async def _run_reconnect_hooks(self) -> None:
        for hook in list(self._reconnect_hooks):
            try:
                await hook()
            except Exception:
                log.exception("bus_reconnect_hook_failed")


class LocalBus(EventBus):
    """One node (SQLite): events reach this process's subscribers only; it always leads."""

    async def start(self) -> None:
        self._running = True
        self._set_leader(True)

    async def close(self) -> None:
        self._running = False
        self._set_leader(False)

    async def _send(self, channel: str, body: str) -> None:
        return


class PostgresBus(EventBus):
    """Events between every node connected to one PostgreSQL database (LISTEN/NOTIFY).

    ``database_url`` is a ``postgresql://`` URL (``postgresql+psycopg://`` as the store takes
    it works too). ``pg_channel`` is the PostgreSQL channel every node of one deployment uses.
    """

    def __init__(
        self,
        database_url: str,
        *,
        pg_channel: str = PG_CHANNEL,
        heartbeat: float = 15.0,
        answer_timeout: float = 5.0,
        first_backoff: float = 0.1,
        max_backoff: float = 10.0,
        connect_timeout: int = 5,
    ) -> None:
        super().__init__()
        try:
            parsed = DatabaseUrl.parse(database_url)
        except StorageError as exc:
            raise BusError(f"not a PostgreSQL URL (postgresql://user@host/dbname): {exc}") from exc
        if parsed.backend != "postgresql":
            raise BusError("not a PostgreSQL URL (postgresql://user@host/dbname)")
        database_url = parsed.libpq
        try:
            params = conninfo_to_dict(database_url)
        except psycopg.Error as exc:
            raise BusError(f"unparsable PostgreSQL URL: {exc}") from exc
        self._secret = str(params.get("password") or "")
        self.url = (f"postgresql://{params.get('host') or 'localhost'}:"
                    f"{params.get('port') or 5432}/{params.get('dbname') or ''}")
        """The server and database, for logs (no user, no password)."""
        keepalives = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                      "keepalives_count": 3}
        options: dict[str, Any] = {
            key: value for key, value in keepalives.items() if key not in params
        }
        options.setdefault("connect_timeout", params.get("connect_timeout") or connect_timeout)
        options["client_encoding"] = "UTF8"
        self._conninfo = {
            role: make_conninfo(database_url, application_name=f"ivr-bus-{role}-{self.node_id}",
                                **options)
            for role in ("listen", "notify", "lead")
        }
        self._pg_channel = pg_channel
        self._heartbeat = heartbeat
        self._answer_timeout = answer_timeout
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._listen_conn: psycopg.AsyncConnection[Any] | None = None
        self._notify_conn: psycopg.AsyncConnection[Any] | None = None
        self._notify_lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._leading: asyncio.Task[None] | None = None
        self.listening = False
        """Whether the LISTEN connection is up now."""

    @property
    def isolated(self) -> bool:
        return self._running and not self.listening

    def _error(self, what: str, exc: BaseException) -> BusError:
        message = " ".join(str(exc).split()) or type(exc).__name__
        if self._secret:
            message = message.replace(self._secret, "***")
        return BusError(f"{self.url}: {what}: {message}")

    async def start(self) -> None:
        if self._running:
            return
        try:
            self._listen_conn = await self._connect_listener()
            self._notify_conn = await self._connect("notify")
        except BusError:
            await self._drop_connections()
            raise
        self._running = True
        self.listening = True
        self._listener = asyncio.create_task(self._listen(self._listen_conn),
                                             name="ivr-bus-listen")
        self._listener.add_done_callback(self._listener_ended)
        self._leading = asyncio.create_task(self._lead(), name="ivr-bus-lead")
        log.info("bus_started", server=self.url, node=self.node_id)

    async def close(self) -> None:
        self._running = False
        self.listening = False
        if self._leading is not None:
            self._leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leading
            self._leading = None
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._drop_connections()

    async def _lead(self) -> None:
        """Leader election: the node holding a PostgreSQL advisory lock (on a session of its
        own) leads. A leader whose session is lost (node dead, network cut) loses the lock
        with it on the server, and the next node to ask takes over within ``LEAD_RETRY`` s.
        The leader checks its session every ``LEAD_RETRY`` s and steps down when it fails."""
        delay = LEAD_RETRY
        while self._running:
            conn: psycopg.AsyncConnection[Any] | None = None
            try:
                conn = await self._connect("lead")
                while self._running:
                    cur = await asyncio.wait_for(
                        conn.execute("SELECT pg_try_advisory_lock(%s)", (LEAD_LOCK_KEY,)),
                        self._answer_timeout)
                    row = await cur.fetchone()
                    if row and row[0]:
                        break
                    await asyncio.sleep(LEAD_RETRY)
                self._set_leader(True)
                while self._running:
                    await asyncio.sleep(LEAD_RETRY)
                    await asyncio.wait_for(conn.execute("SELECT 1"), self._answer_timeout)
                delay = LEAD_RETRY
            except (BusError, psycopg.Error, OSError, TimeoutError) as exc:
                log.warning("leadership_link_lost", error=str(exc)[:200])
                delay = min(delay * 2, self._max_backoff)
            finally:
                self._set_leader(False)
                if conn is not None:
                    with contextlib.suppress(psycopg.Error, OSError):
                        await conn.close()
            if self._running:
                await asyncio.sleep(delay)

    async def _drop_connections(self) -> None:
        for conn in (self._listen_conn, self._notify_conn):
            if conn is not None:
                with contextlib.suppress(psycopg.Error, OSError):
                    await conn.close()
        self._listen_conn = self._notify_conn = None

    async def _connect(self, role: str) -> psycopg.AsyncConnection[Any]:
        try:
            return await psycopg.AsyncConnection.connect(self._conninfo[role], autocommit=True)
        except (psycopg.Error, OSError) as exc:
            raise self._error(f"cannot open the event bus {role} connection", exc) from exc

    async def _connect_listener(self) -> psycopg.AsyncConnection[Any]:
        conn = await self._connect("listen")
        try:
            await self._execute(
                conn, sql.SQL("LISTEN {}").format(sql.Identifier(self._pg_channel)))
        except (psycopg.Error, OSError, TimeoutError) as exc:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()
            raise self._error("cannot LISTEN", exc) from exc
        return conn

    async def _execute(
        self, conn: psycopg.AsyncConnection[Any], query: Any, params: Any = None
    ) -> None:
        """``conn.execute`` that gives up after ``answer_timeout`` (TimeoutError), closing
        ``conn``: a server or network that went silent must not hang the bus. (Cancelling
        psycopg's execute instead would first wait seconds for a server-side cancel.)"""
        running = asyncio.ensure_future(conn.execute(query, params))
        try:
            done, _ = await asyncio.wait({running}, timeout=self._answer_timeout)
        finally:
            if not running.done():
                await conn.close()  # the execute stops waiting for an answer
                running.cancel()
                await asyncio.wait({running})
                if not running.cancelled():
                    running.exception()  # seen: the connection is gone anyway
        if not done:
            raise TimeoutError(f"no answer within {self._answer_timeout} s")
        running.result()

    # -- sending ----------------------------------------------------------------------------

    async def _send(self, channel: str, body: str) -> None:
        envelope = json.dumps(
            {"node": self.node_id, "channel": channel, "payload": json.loads(body)},
            ensure_ascii=False, separators=(",", ":"),
        )
        async with self._notify_lock:
            for attempt in (1, 2):
                conn = self._notify_conn
                try:
                    if conn is None or conn.closed:
                        conn = self._notify_conn = await self._connect("notify")
                    await self._execute(
                        conn, "SELECT pg_notify(%s, %s)", (self._pg_channel, envelope))
                except BusError as exc:
                    raise BusError(f"{exc} (event {channel!r} reached this node only)") from exc
                except TimeoutError as exc:
                    raise self._error(f"event {channel!r} reached this node only", exc) from exc
                except (psycopg.Error, OSError) as exc:
                    if attempt == 1 and conn is not None and conn.broken and self._running:
                        log.warning("bus_notify_connection_lost", server=self.url,
                                    error=str(self._error("NOTIFY", exc)))
                        continue
                    raise self._error(
                        f"event {channel!r} reached this node only", exc) from exc
                return

    # -- receiving --------------------------------------------------------------------------

    async def _listen(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Deliver notifications until closed; reconnect with back-off when the link drops."""
        while True:
            try:
                await self._consume(conn)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                log.warning("bus_listen_lost", server=self.url,
                            error=str(self._error("LISTEN", exc)))
            self.listening = False
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()
            conn = await self._reconnect()
            self._listen_conn = conn
            self.listening = True
            self.reconnects += 1
            log.info("bus_reconnected", server=self.url, reconnects=self.reconnects)
            await self._run_reconnect_hooks()

    def _listener_ended(self, task: asyncio.Task[None]) -> None:
        self.listening = False
        if not task.cancelled() and task.exception() is not None:
            log.error("bus_listener_crashed", server=self.url, error=repr(task.exception()))

    async def _consume(self, conn: psycopg.AsyncConnection[Any]) -> None:
        while True:
            async for note in conn.notifies(timeout=self._heartbeat):
                self._received(note.channel, note.payload)
            # Quiet for a heartbeat: make sure the server is still there.
            await self._execute(conn, "SELECT 1")

    async def _reconnect(self) -> psycopg.AsyncConnection[Any]:
        delay = self._first_backoff
        while True:
            try:
                return await self._connect_listener()
            except BusError as exc:
                wait = delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not secrecy
                log.warning("bus_reconnect_failed", error=str(exc), retry_in=round(wait, 2))
                await asyncio.sleep(wait)
                delay = min(delay * 2, self._max_backoff)

    def _received(self, pg_channel: str, text: str) -> None:
        if pg_channel != self._pg_channel:
            return
        try:
            envelope = json.loads(text)
        except ValueError as exc:
            log.warning("bus_bad_notification", pg_channel=pg_channel, error=str(exc))
            return
        node, channel, payload = (
            (envelope.get("node"), envelope.get("channel"), envelope.get("payload"))
            if isinstance(envelope, dict) else (None, None, None)
        )
        if not (isinstance(node, str) and isinstance(channel, str)
                and isinstance(payload, dict)):
            log.warning("bus_bad_notification", pg_channel=pg_channel,
                        error="not an event envelope")
            return
        if node == self.node_id:
            return  # delivered here at publish
        self.received += 1
        self._deliver(channel, json.dumps(payload, ensure_ascii=False))


def open_bus(database_url: str, **options: Any) -> EventBus:
    """The bus for the store's ``database_url`` (read as the store reads it,
    ``ivr.edges.storage.database.DatabaseUrl``): ``PostgresBus`` for PostgreSQL (``options``
    go to it), ``LocalBus`` for SQLite (one node). Not started: ``await bus.start()``."""
    try:
        backend = DatabaseUrl.parse(database_url).backend
    except StorageError as exc:
        raise BusError(f"the event bus cannot use this database: {exc}") from exc
    if backend == "sqlite":
        return LocalBus()
    return PostgresBus(database_url, **options)
