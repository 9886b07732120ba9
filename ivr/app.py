"""The composition root: the one place where concrete classes are wired together."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from contextlib import AsyncExitStack
from zoneinfo import ZoneInfo

import structlog

from ivr.asterisk_conf import WRAP_UP_SECONDS
from ivr.callbacks import CallbackDesk
from ivr.calls import CallHandler
from ivr.edges.ami import AmiClient
from ivr.edges.fastagi import FastAgiServer
from ivr.edges.store import CallStore, sqlite_path
from ivr.figures import LiveFigures
from ivr.flows import FlowLibrary
from ivr.protocols.ami import AmiEvent
from ivr.queues import OperatorDesk
from ivr.settings import Settings
from ivr.speech import SpeechService
from ivr.web import WebServer

log = structlog.get_logger("ivr.app")


class Hotline:
    """The running application: FastAGI, AMI and storage, started and stopped together."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = CallStore(sqlite_path(settings.database_url, settings.state_dir))
        self.ami = AmiClient(settings.ami)
        self.operators = OperatorDesk(settings, self.ami)
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
        self.callbacks = CallbackDesk(settings, self.store, self.ami)
        self.calls = CallHandler(
            settings, self.store, self.flows, speech=self.speech, figures=self.figures,
            callbacks=self.callbacks,
        )
        self.agi = FastAgiServer(settings.agi, self.calls)
        self.web = WebServer(self, settings.web_host, settings.web_port)
        self._stack = AsyncExitStack()

    def _on_ami_event(self, event: AmiEvent) -> None:
        self.figures.apply(event, time.time())

    async def _resync(self) -> None:
        await self.operators.resync()
        snapshot = await self.ami.action("QueueStatus", as_list=True, timeout=10)
        loaded = self.figures.load_snapshot(
            [AmiEvent.from_message(m) for m in snapshot], time.time()
        )
        log.info("figures_resynced", queues=loaded.queues, members=loaded.members,
                 waiting=loaded.waiting)

    async def start(self) -> None:
        # Each part is stopped only if it started, in reverse order.
        await self.store.open()
        self._stack.push_async_callback(self.store.close)
        await self.flows.load()
        watcher = asyncio.create_task(self.flows.watch(), name="flow-watcher")
        self._stack.push_async_callback(_cancel, watcher)
        await self.speech.start()
        self._stack.push_async_callback(self.speech.stop)
        await self.ami.start()
        self._stack.push_async_callback(self.ami.close)
        self._stack.push_async_callback(self.callbacks.stop)
        await self.agi.start()
        self._stack.push_async_callback(self.agi.stop)
        await self.web.start()
        self._stack.push_async_callback(self.web.stop)
        log.info("hotline_started", agi_port=self.agi.port, database=str(self.store.path))

    async def stop(self) -> None:
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
    try:
        await stop.wait()
    finally:
        await hotline.stop()
