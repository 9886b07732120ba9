"""The composition root: the one place where concrete classes are wired together.

``Hotline`` builds every part from the settings, connects what flows between them (AMI events,
the AMI link's logins, the event bus's leadership, config edits) and starts and stops them in
order. What each part does lives in its own room (README, "Architecture").
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from ivr.bulletins.desk import BulletinDesk
from ivr.callbacks.desk import CallbackDesk
from ivr.calls.agi_driver import CallHandler
from ivr.calls.pending_writes import PendingWrites
from ivr.calls.reconcile import Reconciler
from ivr.calls.recordings import CallRecordings
from ivr.calls.retention import Retention
from ivr.casework.deadlines import DeadlineWatch
from ivr.casework.surges import SurgeWatch
from ivr.casework.visits import ReturnVisits
from ivr.configuration.editor import ConfigEditor
from ivr.core.asterisk_render import WRAP_UP_SECONDS
from ivr.core.figures import LiveFigures
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.edges.audiosocket import AudioSocketServer, StreamRegistry
from ivr.edges.bus import open_bus
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.fastagi import FastAgiServer
from ivr.edges.limits import raise_open_files_limit
from ivr.edges.metrics import Metrics
from ivr.edges.storage.store import open_store, opened_store
from ivr.edges.vosk import ModelRegistry, ModelSource
from ivr.flows.library import FlowLibrary
from ivr.monitoring.health import Health
from ivr.operators.desk import OperatorDesk
from ivr.operators.live_figures import LiveFiguresFeed
from ivr.operators.queue_events import QueueEvents
from ivr.operators.screen_pops import ScreenPopHub, SharedScreenPops
from ivr.operators.supervision import Supervision
from ivr.operators.transfer import OperatorTransfers
from ivr.speech.service import SpeechService, endpointing_for, recognizer_for
from ivr.web import WebServer
from ivr.web.services import WebServices
from ivr.workers import Command, Workers, node_name, spill_file, watch_parent

log = structlog.get_logger("ivr.app")
STOP_SECONDS = 20.0  # longest wait for one part to stop at shut-down


class Hotline:
    """The running application: every part built, wired, started and stopped together."""

    def __init__(
        self, settings: Settings, *, clock: Clock = SYSTEM_CLOCK, worker: int | None = None,
    ) -> None:
        self.clock = clock
        # This node's name (several nodes may share the database and one Asterisk; each
        # FastAGI worker process is a node: ivr.workers).
        self.node = node_name(socket.gethostname(), settings, worker)
        self.store = open_store(settings.database_url, settings.state_dir)
        # Call records, queue facts and operator states are kept while the database is down.
        self.writes = PendingWrites(self.store, settings.state_dir, spill=spill_file(worker))
        self.ami = AmiClient(settings.ami)
        # Real-time events between application nodes (PostgreSQL LISTEN/NOTIFY; in-process
        # on SQLite, which serves one node), and which node leads the one-at-a-time duties.
        self.bus = open_bus(settings.database_url)
        self.operators = OperatorDesk(settings, self.ami, self.store.operator_states, clock)
        # Live per-skill figures (waiting, longest wait, operators by state, service level),
        # fed by every AMI event and rebuilt from a snapshot after each (re)connect.
        self.figures = LiveFigures(
            {s.id: s.service_level for s in settings.skills.values()},
            tz=ZoneInfo(settings.timezone), wrap_up_seconds=WRAP_UP_SECONDS,
        )
        # /metrics: histograms observed where things happen, gauges read at each scrape.
        self.metrics = Metrics(tuple(settings.skills))
        self.figures_feed = LiveFiguresFeed(self.figures, self.ami, clock, self.metrics)
        self.flows = FlowLibrary(settings, self.store.flow_versions, clock)
        self.speech = build_speech(settings)
        self.callbacks = CallbackDesk(settings, self.store.callbacks, self.ami,
                                      leads=lambda: self.bus.is_leader, clock=clock)
        self.bulletins = BulletinDesk(settings, self.store.bulletins, self.store.audit,
                                      settings.asterisk_sounds, clock)
        # What app_queue does with each call: screen pops, answer/talk times, state history.
        # The leader alone writes them; a node cut off from the others does so for its own.
        self.screen_pops = ScreenPopHub()
        self.shared_pops = SharedScreenPops(self.screen_pops, self.bus)
        # Answered calls' recordings ([recordings]): noted with the call, purged past
        # keep_days by the leader, their disk on /metrics and /healthz.
        self.recordings = CallRecordings(
            lambda: self.settings.recordings, self.store.calls, self.store.audit,
            leads=lambda: self.bus.is_leader, clock=clock)
        self.queue_events = QueueEvents(
            settings, self.store.calls, self.store.cases, self.shared_pops, self.writes,
            leads=lambda: self.bus.is_leader or self.bus.isolated, clock=clock,
            figures=self.figures, callbacks=self.store.callbacks, recordings=self.recordings,
        )
        self.transfers = OperatorTransfers(self.ami, self.queue_events, lambda: self.settings)
        # Supervisors listen to, whisper to or barge in on an operator's call (ChanSpy).
        self.supervision = Supervision(self.ami, self.queue_events, lambda: self.settings)
        # Return visits (回访) of resolved cases: placed by the leader, answered over AGI.
        self.visits = ReturnVisits(settings, self.store.cases, self.ami,
                                   leads=lambda: self.bus.is_leader or self.bus.isolated,
                                   clock=clock)
        self.calls = CallHandler(
            settings, self.store.calls, self.store.cases, self.flows, self.writes,
            speech=self.speech, figures=self.figures, callbacks=self.callbacks,
            bulletins=self.bulletins, node=self.node, clock=clock, visits=self.visits,
            metrics=self.metrics,
        )
        # Every call's one final record, from Asterisk's queue_log and channel list.
        self.reconciler = Reconciler(
            self.ami, self.store.calls, self.writes, self.node, clock, settings=settings,
            cursors=self.store.log_cursors, queue_log=settings.asterisk_queue_log,
            leads=lambda: self.bus.is_leader or self.bus.isolated)
        # Old calls' caller data and transcripts forgotten ([privacy] keep_days), by the leader.
        self.retention = Retention(
            self.store.calls, self.store.audit, lambda: self.settings.privacy_keep_days,
            leads=lambda: self.bus.is_leader, clock=clock)
        self.agi = FastAgiServer(settings.agi, self.calls)
        # Where config/ is read from (and where the admin pages write their edits).
        config_dir = Path(os.environ.get("IVR_CONFIG_DIR") or settings.project_dir / "config")
        self.config = ConfigEditor(settings, config_dir, self.flows,
                                   self.store.config_versions, clock=clock, on_reload=[
            self.speech.reload_intents, self.operators.reconfigure, self.calls.reconfigure,
            self.callbacks.reconfigure, self.bulletins.reconfigure,
            self.queue_events.reconfigure, self.flows.reconfigure, self.visits.reconfigure,
            self.reconciler.reconfigure,
            self.operators.resync_if_connected,
        ])
        # Cases against their deadlines: reminders, escalation, the wallboard's alerts.
        self.deadlines = DeadlineWatch(self.store.cases, self.config, clock)
        # Cases of one category in one place above their usual rate (supervisors, wallboard).
        self.surges = SurgeWatch(self.store.cases, self.config, clock)
        self.health = Health(ami=self.ami, agi=self.agi, speech=self.speech, writes=self.writes,
                             figures=self.figures, flows=self.flows, clock=clock,
                             registry=self.metrics, state_dir=settings.state_dir,
                             recordings=self.recordings)
        self.web = WebServer(WebServices(
            config=self.config, store=self.store, flows=self.flows, bulletins=self.bulletins,
            operators=self.operators, figures=self.figures, screen_pops=self.screen_pops,
            transfers=self.transfers, supervision=self.supervision, live=self.queue_events,
            health=self.health, clock=clock,
            case_alerts=self.deadlines, surges=self.surges, recordings=self.recordings,
        ), settings.web_host, settings.web_port, max_connections=settings.web_max_connections,
            idle_timeout=settings.web_idle_timeout)
        # Every AMI event, in this order: the live figures, the queue's facts, callbacks.
        for on_event in (self.figures_feed.on_event, self.queue_events.on_event,
                         self.callbacks.on_event):
            self.ami.on_event(on_event)
        # After every AMI login: operators' queues, callbacks, once the calls left in progress,
        # then the figures from a fresh snapshot.
        for on_ready in (self.operators.resync, self.callbacks.resume_after_login,
                         self.reconciler.once, self.figures_feed.resync):
            self.ami.on_ready(on_ready)
        self.bus.on_leadership(self.callbacks.on_leadership)
        self.flows.share_through(self.bus)
        self.config.share_through(self.bus)
        self._stack = AsyncExitStack()

    @property
    def settings(self) -> Settings:
        """The settings in force (an edit of config/ replaces them)."""
        return self.config.current

    async def start(self) -> None:
        limit = raise_open_files_limit()
        log.info("open_files_limit", limit=limit)
        # Each part is stopped only if it started, in reverse order.
        await self.store.open()
        self._on_stop("store", self.store.close)
        await self.writes.replay()
        self._on_stop("pending writes", self.writes.close)
        await self.bus.start()
        self._on_stop("event bus", self.bus.close)
        # The configuration first (the newest published version of each file), then the
        # flow, validated against it.
        await self.config.load()
        await self.flows.load()
        watcher = asyncio.create_task(self.flows.watch(), name="flow-watcher")
        self._on_stop("flow watcher", lambda: _cancel(watcher))
        config_watcher = asyncio.create_task(self.config.watch(), name="config-watcher")
        self._on_stop("config watcher", lambda: _cancel(config_watcher))
        await self.speech.start()
        self._on_stop("speech", self.speech.stop)
        await self.ami.start()
        self._on_stop("AMI", self.ami.close)
        self._on_stop("reconciliation", self.reconciler.close)
        self._on_stop("callbacks", self.callbacks.stop)
        visits = asyncio.create_task(self.visits.run(), name="return-visits")
        self._on_stop("return visits", lambda: _stop_visits(visits, self.visits))
        await self.agi.start()
        self._on_stop("FastAGI", self.agi.stop)
        self._on_stop("queue events", self.queue_events.drain)
        deadlines = asyncio.create_task(self.deadlines.run(), name="case-deadlines")
        self._on_stop("case deadlines", lambda: _cancel(deadlines))
        surges = asyncio.create_task(self.surges.run(), name="case-surges")
        self._on_stop("case surges", lambda: _cancel(surges))
        retention = asyncio.create_task(self.retention.run(), name="privacy-retention")
        self._on_stop("privacy retention", lambda: _cancel(retention))
        recordings = asyncio.create_task(self.recordings.run(), name="recordings")
        self._on_stop("recordings", lambda: _cancel(recordings))
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
        await self._stack.aclose()
        log.info("hotline_stopped")


def speech_models(settings: Settings, *, enabled_only: bool = True) -> ModelRegistry:
    """The speech models the settings name (of the enabled languages only, by default)."""
    return ModelRegistry(
        ModelSource.from_config(lang, value) for lang, value in settings.speech.models.items()
        if lang in settings.languages or not enabled_only
    )


def build_speech(settings: Settings) -> SpeechService:
    """The speech service with its AudioSocket server, models and recogniser's pool."""
    s = settings.speech
    streams = StreamRegistry()
    models = speech_models(settings)
    endpointing = endpointing_for(s)
    return SpeechService(
        settings, streams=streams,
        server=AudioSocketServer(streams, host=s.audiosocket_host, port=s.audiosocket_port),
        models=models, endpointing=endpointing,
        recognizer=recognizer_for(s, models),
    )


@asynccontextmanager
async def operator_desk(settings: Settings) -> AsyncIterator[OperatorDesk]:
    """An operator desk of its own (the command line's ``ivr operators``): logged in to AMI
    and with the state history, for the block."""
    ami = AmiClient(settings.ami)
    await ami.start(wait=10)
    try:
        async with opened_store(settings.database_url, settings.state_dir) as store:
            yield OperatorDesk(settings, ami, store.operator_states)
    finally:
        await ami.close()


async def _stop_visits(task: asyncio.Task[None], visits: ReturnVisits) -> None:
    await _cancel(task)
    await visits.stop()


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


async def serve(
    settings: Settings, stop: asyncio.Event | None = None, *, worker: int | None = None,
) -> None:
    """Run until ``stop`` is set (by default: until SIGINT/SIGTERM); as FastAGI worker
    ``worker`` of a supervisor (``ivr.workers``) also until the supervisor is gone."""
    hotline = Hotline(settings, worker=worker)
    stop = stop or stop_on_signals()
    orphaned = None
    if worker is not None:
        structlog.contextvars.bind_contextvars(worker=worker)
        orphaned = asyncio.create_task(watch_parent(stop, os.getppid()), name="supervisor")
    await hotline.start()
    # What start-up built (settings, flows, modules) lives as long as the process: frozen,
    # the garbage collector no longer scans it, and full collections stay short.
    gc.freeze()
    try:
        await stop.wait()
    finally:
        if orphaned is not None:
            await _cancel(orphaned)
        await hotline.stop()


async def supervise(settings: Settings, command: Command,
                    stop: asyncio.Event | None = None) -> None:
    """``[agi] workers`` worker processes (each ``command``), kept running until ``stop`` is
    set (by default: until SIGINT/SIGTERM), then stopped."""
    stop = stop or stop_on_signals()
    log.info("workers_starting", workers=settings.agi.workers, agi_port=settings.agi.port,
             web_ports=f"{settings.web_port}-{settings.web_port + settings.agi.workers - 1}")
    await Workers(settings.agi.workers, command).run(stop)
    log.info("workers_stopped")
