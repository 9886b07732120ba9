"""The composition root: the one place where concrete classes are wired together."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from ivr.asterisk_conf import DEPARTMENT_NUMBER, POLICY, TRANSFER_CONTEXT, WRAP_UP_SECONDS
from ivr.bulletins import BulletinDesk
from ivr.callbacks import CallbackDesk
from ivr.calls import CallHandler
from ivr.edges.ami import AmiClient
from ivr.edges.bus import open_bus
from ivr.edges.fastagi import FastAgiServer
from ivr.edges.store import open_store
from ivr.errors import IvrError, StorageError
from ivr.figures import LiveFigures
from ivr.flows import FlowLibrary
from ivr.protocols.ami import AmiEvent
from ivr.queue_events import QueueEvents
from ivr.queues import OperatorDesk
from ivr.record_queue import PendingWrites
from ivr.routing import RoutingPolicy
from ivr.screenpop import ScreenPopHub
from ivr.settings import Settings
from ivr.settings import load as load_settings
from ivr.shared_pops import SharedScreenPops
from ivr.speech import SpeechService
from ivr.web import WebServer

log = structlog.get_logger("ivr.app")
STOP_SECONDS = 20.0  # longest wait for one part to stop at shut-down
RECONCILE_LOOKBACK = 5000  # recent call records looked at for ones left "in progress"


class Hotline:
    """The running application: FastAGI, AMI and storage, started and stopped together."""

    def __init__(self, settings: Settings, *, policy: RoutingPolicy = POLICY) -> None:
        self.settings = settings
        # This node's name (several nodes may share the database and one Asterisk).
        self.node = f"{socket.gethostname()}:{settings.agi.port}"
        # Where config/ is read from (and where the admin pages write their edits).
        self.config_dir = Path(os.environ.get("IVR_CONFIG_DIR") or settings.project_dir / "config")
        self.store = open_store(settings.database_url, settings.state_dir)
        # Call records, queue facts and operator states are kept while the database is down.
        self.writes = PendingWrites(self.store, settings.state_dir)
        self.ami = AmiClient(settings.ami)
        self.operators = OperatorDesk(settings, self.ami, self.store)
        # Live per-skill figures (waiting, longest wait, operators by state, service level),
        # fed by every AMI event and rebuilt from a snapshot after each (re)connect.
        self.figures = LiveFigures(
            {s.id: s.service_level for s in settings.skills.values()},
            tz=ZoneInfo(settings.timezone), wrap_up_seconds=WRAP_UP_SECONDS,
        )
        self.ami.on_event(self._on_ami_event)
        self.ami.on_ready(self._resync)
        self.flows = FlowLibrary(settings, self.store)
        self.speech = SpeechService(settings)
        # Real-time events between application nodes (PostgreSQL LISTEN/NOTIFY; in-process
        # on SQLite, which serves one node), and which node leads the one-at-a-time duties.
        self.bus = open_bus(settings.database_url)
        self.bus.on_leadership(self._leadership_changed)
        self.callbacks = CallbackDesk(settings, self.store, self.ami,
                                      leads=lambda: self.bus.is_leader)
        self.bulletins = BulletinDesk(settings, self.store)
        # What app_queue does with each call: screen pops, answer/talk times, state history.
        self.screen_pops = ScreenPopHub()
        self.shared_pops = SharedScreenPops(self.screen_pops, self.bus)
        self.queue_events = QueueEvents(settings, self.store, self.shared_pops, self.writes)
        self.calls = CallHandler(
            settings, self.store, self.flows, speech=self.speech, figures=self.figures,
            callbacks=self.callbacks, policy=policy, bulletins=self.bulletins,
            node=self.node, writes=self.writes,
        )
        self.agi = FastAgiServer(settings.agi, self.calls)
        self.web = WebServer(self, settings.web_host, settings.web_port)
        self._stack = AsyncExitStack()
        self._background: set[asyncio.Task[None]] = set()
        self._reconciled = False

    def _on_ami_event(self, event: AmiEvent) -> None:
        # Every node keeps its own live figures (its wallboard is right on its own) and knows
        # who talks to whom (transfers from the consoles it serves); the leader alone writes
        # what app_queue did to the records and raises the screen pops (shared by the bus).
        # Cut off from the database, and so from the other nodes, a node does that for its
        # own consoles and records (kept until the database is back): operators keep their
        # pops through a database outage.
        self.figures.apply(event, time.time())
        self.queue_events.track(event)
        if self.bus.is_leader or self.bus.isolated:
            self.queue_events.handle(event)

    def _leadership_changed(self, leading: bool) -> None:
        if leading and self.ami.connected:
            # Taking over from a node that died: pick up the callbacks it was following.
            task = asyncio.create_task(self._take_over(), name="take-over")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _take_over(self) -> None:
        try:
            await self.callbacks.resume()
        except IvrError as exc:
            log.error("take_over_failed", error=str(exc))

    async def transfer(self, operator_id: str, target: str) -> None:
        """Send the citizen an operator is talking to, to a department's number."""
        if not DEPARTMENT_NUMBER.fullmatch(target):
            raise IvrError(f"not a department number: {target!r} (2 to 15 digits)")
        channel = self.queue_events.caller_channel(operator_id)
        if channel is None:
            raise IvrError(f"{operator_id} is not on a call")
        await self.ami.action("Redirect", {
            "Channel": channel, "Context": TRANSFER_CONTEXT, "Exten": target, "Priority": 1,
        })
        log.info("call_transferred_by_operator", operator=operator_id, target=target)

    async def reload_settings(self) -> Settings:
        """Apply an edit of config/ to new calls and logins (calls in progress go on).

        Operators' levels and skills take effect at once (queue penalties resynced); a new
        skill or operator also needs its queue or SIP endpoint in Asterisk: `ivr sandbox up`
        (or `ivr asterisk render` for an existing Asterisk) renders and reloads them.
        """
        fresh = await asyncio.to_thread(load_settings, self.config_dir,
                                        project_dir=self.settings.project_dir)
        # Paths that were overridden for this process (tests, several nodes) stay as they are.
        fresh = dataclasses.replace(fresh, database_url=self.settings.database_url,
                                    state_dir=self.settings.state_dir,
                                    prompts_dir=self.settings.prompts_dir,
                                    flow_path=self.settings.flow_path)
        self.settings = fresh
        await self.speech.reload_intents(fresh)
        for part in (self.operators, self.calls, self.callbacks, self.bulletins,
                     self.queue_events, self.flows):
            part.reconfigure(fresh)
        if self.ami.connected:
            await self.operators.resync()
        log.info("settings_reloaded", skills=len(fresh.skills), operators=len(fresh.operators))
        return fresh

    async def _resync(self) -> None:
        await self.operators.resync()
        try:
            await self.callbacks.resume()
        except StorageError as exc:  # the database is down: the next reconnect tries again
            log.error("callbacks_not_resumed", error=str(exc))
        if not self._reconciled:
            self._reconciled = True
            await self._reconcile()
        snapshot = await self.ami.action("QueueStatus", as_list=True, timeout=10)
        loaded = self.figures.load_snapshot(
            [AmiEvent.from_message(m) for m in snapshot], time.time()
        )
        log.info("figures_resynced", queues=loaded.queues, members=loaded.members,
                 waiting=loaded.waiting)

    async def _reconcile(self) -> None:
        """At start: calls this node had in its IVR when it last stopped (killed, crashed)
        are still "in progress" in the records. Asterisk sent them to the general queue; the
        record now says so, or that the caller has gone since."""
        started = datetime.now(UTC)
        try:
            live = {m.get("Channel", "") for m in
                    await self.ami.action("CoreShowChannels", as_list=True, timeout=10)
                    if m.get("Event") == "CoreShowChannel"}
            stale = [r for r in await self.store.recent_calls(RECONCILE_LOOKBACK)
                     if r.outcome == "in_progress" and r.variables.get("node") == self.node
                     and r.arrived_at < started.isoformat()]
            for record in stale:
                record.outcome = ("interrupted:general_queue" if record.channel in live
                                  else "interrupted")
                if record.channel not in live:
                    record.ended_at = started.isoformat(timespec="milliseconds")
                await self.writes.save(record)
        except (IvrError, StorageError) as exc:
            log.error("reconcile_failed", error=str(exc))
            return
        if stale:
            log.warning("calls_reconciled", count=len(stale),
                        still_in_queue=sum(r.channel in live for r in stale))

    async def start(self) -> None:
        # Each part is stopped only if it started, in reverse order.
        await self.store.open()
        self._on_stop("store", self.store.close)
        await self.writes.replay()
        self._on_stop("pending writes", self.writes.close)
        await self.bus.start()
        self._on_stop("event bus", self.bus.close)
        await self.flows.load()
        watcher = asyncio.create_task(self.flows.watch(), name="flow-watcher")
        self._on_stop("flow watcher", lambda: _cancel(watcher))
        await self.speech.start()
        self._on_stop("speech", self.speech.stop)
        await self.ami.start()
        self._on_stop("AMI", self.ami.close)
        self._on_stop("callbacks", self.callbacks.stop)
        await self.agi.start()
        self._on_stop("FastAGI", self.agi.stop)
        self._on_stop("queue events", self.queue_events.drain)
        await self.web.start()
        self._on_stop("web", self.web.stop)
        log.info("hotline_started", agi_port=self.agi.port, database=self.store.url)

    def _on_stop(self, part: str, stop: Callable[[], Awaitable[None]]) -> None:
        """Stop ``part`` at shut-down, in reverse order of start, each within STOP_SECONDS: a
        part that hangs is logged and left, so SIGTERM always ends the process."""
        async def bounded() -> None:
            try:
                await asyncio.wait_for(stop(), STOP_SECONDS)
            except TimeoutError:
                log.error("stop_timed_out", part=part, seconds=STOP_SECONDS)
        self._stack.push_async_callback(bounded)

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._stack.aclose()
        log.info("hotline_stopped")


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (one handler per signal for the whole process)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (by default: until SIGINT/SIGTERM)."""
    hotline = Hotline(settings)
    stop = stop or stop_on_signals()
    await hotline.start()
    # What start-up built (settings, flows, modules) lives as long as the process: frozen,
    # the garbage collector no longer scans it, and full collections stay short.
    gc.freeze()
    try:
        await stop.wait()
    finally:
        await hotline.stop()
