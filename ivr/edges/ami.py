"""AMI client: the only module that imports panoramisk.

panoramisk's ``Manager`` does the framing; we own the lifecycle because 1.4 gets it wrong:
its keep-alive never checks the Ping reply and its reconnect re-sends unanswered actions (an
Originate could run twice). Here:

- login is our own action with a deadline (a wrong secret is an ``AmiError``, not a hang);
- every action has a timeout and its fields pass through ``action_fields`` (CR/LF-safe);
- a liveness ping with a deadline drops a silent link;
- on a lost link, every pending action fails with ``AmiError`` and is never re-sent;
- after login the link counts as connected only once Asterisk says it is fully booted (the
  ``FullyBooted`` event, sent at login or when a restarting Asterisk finishes loading its
  modules): actions sent earlier, while app_queue is still loading, can go unanswered;
- reconnect uses exponential back-off and runs every ``on_ready`` hook after each login,
  so queue and operator state are resynchronised from Asterisk;
- the stream is split into messages by ``MessageReader`` (linear time, each message capped):
  panoramisk re-joins and re-splits everything unfinished on every chunk, without a bound,
  so a peer that never ends a message cost quadratic time and unbounded memory. Such a peer
  is now dropped and the link re-opened;
- the event loop's CPU time spent on what the link receives (framing, parsing, the events'
  handlers, which all run synchronously there) is counted in ``event_cpu_seconds``
  (``ivr_ami_event_cpu_seconds_total`` on /metrics): one thread-CPU clock pair per chunk read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from ivr.core.protocols.ami import AmiEvent, MessageReader, action_fields
from ivr.core.settings import AmiSettings
from ivr.errors import AmiError, AmiNotConnected, AmiTimeout, IvrError, ProtocolError

log = structlog.get_logger("ivr.ami")

EventHandler = Callable[[AmiEvent], None]
ReadyHook = Callable[[], Awaitable[object]]


_GREETING = "Asterisk Call Manager/"


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with our framing (``MessageReader``) instead of its own; the
    event loop's CPU time for each chunk read (framing, parsing, each event's handlers) goes
    to ``spent``."""

    def __init__(self, spent: Callable[[float], None]) -> None:
        super().__init__()
        self._spent = spent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._messages = MessageReader()

    def data_received(self, data: bytes) -> None:
        # One pair of thread-CPU clock reads per chunk (a chunk carries one or many
        # messages): the handlers run synchronously inside, so this is the loop's whole AMI
        # cost but for tasks the handlers schedule (those run, and count, elsewhere).
        started = time.thread_time()
        try:
            self._receive(data)
        finally:
            self._spent(time.thread_time() - started)

    def _receive(self, data: bytes) -> None:
        try:
            messages = self._messages.receive_data(data)
        except ProtocolError as exc:
            log.warning("ami_stream_refused", error=str(exc))
            self.transport.abort()  # connection_lost follows: pending actions fail, reconnect
            return
        encoding = getattr(self, "encoding", "utf8")
        for raw in messages:
            text = raw.decode(encoding, "replace").strip()
            if getattr(self, "version", None) is None and text.startswith(_GREETING):
                self.version = text.partition("\r\n")[0][len(_GREETING):].strip()
            message = Message.from_line(text)
            if message is not None:
                self.handle_message(message)


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk Manager with its own pinger and reconnect switched off."""

    def __init__(self, on_lost: Callable[[], None], **config: Any) -> None:
        super().__init__(**config)
        self._on_lost = on_lost

    def ping(self) -> None:  # our client pings with a deadline instead
        self.pinger = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        # Fail whatever was in flight; never let panoramisk re-send it on reconnect.
        while self.awaiting_actions:
            action = self.awaiting_actions.popleft()
            if not action.future.done():
                action.future.set_exception(AmiError("AMI link lost before the answer"))
        self._on_lost()


class AmiClient:
    """A long-lived AMI link; see the module docstring."""

    def __init__(self, settings: AmiSettings) -> None:
        self._settings = settings
        self._manager: _Manager | None = None
        self._handlers: list[EventHandler] = []
        self._ready_hooks: list[ReadyHook] = []
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._booted = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self.reconnects = 0
        self.event_cpu_seconds = 0.0
        """CPU time the event loop spent on what the link received: framing and parsing its
        messages, matching answers to actions, running every event's handlers."""

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def on_event(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    def on_ready(self, hook: ReadyHook) -> None:
        """Run ``hook`` after every successful login (first connect and each reconnect)."""
        self._ready_hooks.append(hook)

    async def start(self, wait: float | None = None) -> None:
        """Start the link; with ``wait``, raise AmiError unless logged in within that time."""
        self._closing = False
        self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")
        if wait is not None:
            try:
                await asyncio.wait_for(self._connected.wait(), wait)
            except TimeoutError as exc:
                await self.close()
                raise AmiError(
                    f"could not log in to AMI at {self._settings.host}:{self._settings.port}"
                    f" within {wait:g} s"
                ) from exc

    async def wait_connected(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError as exc:
            raise AmiTimeout(f"AMI not connected within {timeout:g} s") from exc

    async def reconnect(self) -> None:
        """Drop the link now; the supervisor reconnects and resyncs as after any loss."""
        manager = self._manager
        if manager is not None and manager.protocol is not None:
            manager.protocol.transport.abort()
        await asyncio.sleep(0)

    async def close(self) -> None:
        self._closing = True
        if self._supervisor:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        self._drop()

    async def action(
        self, name: str, fields: Mapping[str, object] | None = None, *,
        as_list: bool = False, timeout: float | None = None,
    ) -> list[dict[str, str]]:
        """Send one action; return its response messages (as plain dicts).

        Raises AmiTimeout when no answer comes in time, AmiNotConnected when the link is down
        (nothing sent), AmiError when the link fails meanwhile or Asterisk answers
        ``Response: Error``.
        """
        manager = self._manager
        if manager is None or not self.connected:
            raise AmiNotConnected(f"AMI not connected; {name} not sent")
        payload = action_fields(name, fields or {})
        return await self._send(manager, payload, as_list, timeout or self._settings.action_timeout)

    async def _send(
        self, manager: _Manager, payload: dict[str, str], as_list: bool, timeout: float
    ) -> list[dict[str, str]]:
        try:
            future = manager.send_action(payload, as_list=as_list)
            response = await asyncio.wait_for(future, timeout)
        except TimeoutError as exc:
            raise AmiTimeout(f"{payload['Action']}: no answer within {timeout:g} s") from exc
        except AmiError:
            raise
        except (OSError, AttributeError) as exc:  # transport already gone
            raise AmiError(f"{payload['Action']}: link failed: {exc}") from exc
        messages = response if isinstance(response, list) else [response]
        plain = [{str(k): str(v) for k, v in dict(m).items()} for m in messages]
        first = plain[0] if plain else {}
        if first.get("Response", "").lower() == "error":
            raise AmiError(f"{payload['Action']} refused: {first.get('Message', '')}")
        return plain

    # -- lifecycle ---------------------------------------------------------------------

    async def _supervise(self) -> None:
        delay = self._settings.reconnect_min
        while not self._closing:
            try:
                await self._connect_once()
                delay = self._settings.reconnect_min
                await self._run_while_alive()
            except asyncio.CancelledError:
                raise
            except (AmiError, OSError) as exc:
                hint = ("the AMI secret (IVR_AMI_SECRET, or secrets.json in the state "
                        "directory) differs from Asterisk's manager.conf: `ivr sandbox up` or "
                        "`ivr asterisk render` writes it there" if "Authentication" in str(exc)
                        else None)
                log.warning("ami_connect_failed", error=str(exc), retry_in=delay, hint=hint)
            self._drop()
            if self._closing:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._settings.reconnect_max)
            self.reconnects += 1

    async def _connect_once(self) -> None:
        s = self._settings
        self._lost.clear()
        self._booted.clear()
        manager = _Manager(
            self._lost.set,
            host=s.host, port=s.port, events="on", ping_delay=10**6, reconnect_timeout=10**6,
            log=logging.getLogger("ivr.ami.panoramisk"),
            protocol_factory=lambda: _Protocol(self._spent_reading),
        )
        manager.register_event("*", self._dispatch)
        connecting = manager.connect()
        try:
            await asyncio.wait_for(connecting, s.action_timeout)
        except TimeoutError as exc:
            raise AmiError(f"AMI connect to {s.host}:{s.port} timed out") from exc
        await asyncio.sleep(0)  # let panoramisk's connection_made callback attach the protocol
        if manager.protocol is None:
            raise AmiError(f"cannot connect to AMI at {s.host}:{s.port}")
        self._manager = manager
        login = {"Username": s.username, "Secret": s.secret, "Events": "on"}
        try:
            await self._send(manager, action_fields("Login", login), False, s.action_timeout)
        except AmiError as exc:
            raise AmiError(f"AMI login as {s.username!r} failed: {exc}") from exc
        await self._wait_booted(s.boot_timeout)
        self._connected.set()
        log.info("ami_connected", host=s.host, port=s.port, reconnects=self.reconnects)
        for hook in self._ready_hooks:
            # A resync that fails (Asterisk slow, the database down) is logged; the link
            # stays up and the next reconnect tries again.
            try:
                await hook()
            except IvrError as exc:
                log.warning("ami_resync_failed", error=str(exc))
            except Exception:
                log.exception("ami_resync_crashed")

    async def _wait_booted(self, timeout: float) -> None:
        """Wait for ``FullyBooted`` (needs the ``system`` read class); past ``timeout``, go on
        and say why: an existing Asterisk whose AMI user cannot read ``system`` never sends it."""
        waits = [asyncio.ensure_future(self._booted.wait()),
                 asyncio.ensure_future(self._lost.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        if not self._booted.is_set() and not self._lost.is_set():
            log.warning("ami_not_fully_booted", waited=timeout,
                        hint="Asterisk sent no FullyBooted event: still loading, or the AMI "
                             "user lacks the 'system' read class in manager.conf")
        if self._lost.is_set():
            raise AmiError("AMI link lost while Asterisk was booting")

    async def _run_while_alive(self) -> None:
        s = self._settings
        manager = self._manager
        if manager is None:
            return
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), s.ping_interval)
            if self._lost.is_set():
                break
            try:
                await self._send(manager, {"Action": "Ping"}, False, s.ping_timeout)
            except AmiError as exc:
                log.warning("ami_ping_failed", error=str(exc))
                break
        log.warning("ami_link_lost")

    def _drop(self) -> None:
        self._connected.clear()
        manager, self._manager = self._manager, None
        if manager is not None:
            manager.callbacks.clear()
            responses = getattr(manager.protocol, "responses", {}) if manager.protocol else {}
            for action in list(responses.values()):
                if not action.future.done():
                    action.future.set_exception(AmiError("AMI link closed"))
            responses.clear()
            manager.awaiting_actions.clear()
            with contextlib.suppress(Exception):
                manager.close()

    def _spent_reading(self, seconds: float) -> None:
        self.event_cpu_seconds += seconds

    def _dispatch(self, _manager: object, message: Mapping[str, object]) -> None:
        event = AmiEvent.from_message(message)
        if event.name == "FullyBooted":
            self._booted.set()
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:
                log.exception("ami_event_handler_failed", ami_event=event.name)
