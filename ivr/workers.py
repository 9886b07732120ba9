"""Several FastAGI worker processes on one machine (``[agi] workers``), and their supervisor.

One event loop serves FastAGI at up to a few tens of new calls a second; past that, or to use
every core, ``ivr serve`` with ``workers = N`` starts N worker processes and watches them:

* Each worker is a whole application node (``ivr.app.Hotline``) on the shared PostgreSQL, as
  two nodes on two machines are: its own AMI link and live figures (both fed by the same
  Asterisk, so they agree), the event bus for screen pops, configuration edits and the
  leader's one-at-a-time duties (callbacks, return visits, call records' reconciliation).
* They share the FastAGI port (``SO_REUSEPORT``): the kernel spreads Asterisk's connections
  over the workers' listening sockets, and a dead worker's socket leaves the set at once.
* Worker ``k`` serves the web on ``[web] port + k`` (its own ``/metrics`` and ``/healthz``:
  figures are per process, as Prometheus expects a target to be) and its AudioSocket on
  ``[speech] audiosocket_port + k`` (the call's AGI session tells Asterisk where to connect);
  its node name is ``host:port/wk`` (on each call record); its pending writes spill to a file
  of its own.
* A worker that dies is started again (after 1 s, doubling up to 30 s while it keeps dying
  within a minute). Its calls in progress go where a node's death sends them: the dialplan's
  general queue; their records are completed from Asterisk by the leader.
* SIGINT or SIGTERM stops every worker (each stops as ``ivr serve`` does) and then the
  supervisor; a worker whose supervisor is gone stops itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from ivr.calls.pending_writes import SPILL_FILE
from ivr.core.settings import Settings
from ivr.errors import ConfigError, ConfigProblem

log = structlog.get_logger("ivr.workers")

WORKER_ENV = "IVR_WORKER"  # set by the supervisor: this process is worker <n>
RESTART_DELAY = 1.0       # first wait before starting a dead worker again
RESTART_DELAY_MAX = 30.0  # longest wait, while a worker keeps dying
STABLE_SECONDS = 60.0     # a worker that lived this long starts again after RESTART_DELAY
STOP_GRACE = 90.0         # SIGTERM to SIGKILL at shut-down (a worker stops its parts in turn)
PARENT_POLL = 1.0         # how often a worker looks whether its supervisor is still there


def worker_index(count: int) -> int | None:
    """This process's worker number (0 .. count-1) when the supervisor started it, else None."""
    value = os.environ.get(WORKER_ENV)
    if value is None:
        return None
    if not value.isdigit() or int(value) >= count:
        raise ConfigError([ConfigProblem(
            WORKER_ENV, "-", f"a worker number from 0 to {count - 1} ([agi] workers = "
            f"{count}), got {value!r}: it is set by `ivr serve` for its workers, not by hand")])
    return int(value)


def for_worker(settings: Settings, index: int) -> Settings:
    """Worker ``index``'s settings: its own web and AudioSocket ports, the shared FastAGI port."""
    return dataclasses.replace(
        settings, web_port=settings.web_port + index,
        speech=dataclasses.replace(settings.speech,
                                   audiosocket_port=settings.speech.audiosocket_port + index))


def node_name(host: str, settings: Settings, index: int | None) -> str:
    """Which application node served a call (``host:port``, ``host:port/w<k>`` for a worker)."""
    base = f"{host}:{settings.agi.port}"
    return base if index is None else f"{base}/w{index}"


def spill_file(index: int | None) -> str:
    """The pending writes' spill file of this process (one per worker: each replays its own)."""
    return SPILL_FILE if index is None else f"{Path(SPILL_FILE).stem}.w{index}.jsonl"


def adopt_spill_files(state_dir: Path, count: int) -> list[Path]:
    """Before ``count`` processes (1: ``ivr serve`` alone, else its workers) replay their
    pending writes: the spill files none of them would replay (the lone process's under
    workers, a worker's past ``count``, the workers' under a lone process) are appended to
    the first one's, so changing ``[agi] workers`` loses no write. Returns the files taken."""
    own = state_dir / spill_file(None if count == 1 else 0)
    kept = {state_dir / spill_file(None if count == 1 else k) for k in range(count)}
    pattern = f"{Path(SPILL_FILE).stem}*.jsonl"
    taken = sorted(p for p in state_dir.glob(pattern) if p not in kept and p.is_file())
    for path in taken:
        data = path.read_bytes()
        with own.open("ab") as out:
            if out.tell() and not _ends_with_newline(own):
                out.write(b"\n")  # a torn last line stays a line of its own
            out.write(data)
            os.fsync(out.fileno())
        path.unlink()
        log.warning("pending_writes_adopted", source=str(path), into=str(own))
    return taken


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


Command = Callable[[int], Sequence[str]]


def serve_command(config: str | None, log_level: str) -> Command:
    """How the supervisor starts a worker: ``ivr serve`` again with the same configuration and
    log level, told its number by WORKER_ENV."""
    argv = (sys.executable, "-m", "ivr", "--log-level", log_level,
            *(("--config", config) if config else ()), "serve")
    return lambda _index: argv


@dataclasses.dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0
    delay: float = RESTART_DELAY
    starts: int = 0


class Workers:
    """Starts ``count`` worker processes, starts again any that dies, stops them all."""

    def __init__(
        self, count: int, command: Command, *,
        restart_delay: float = RESTART_DELAY, restart_delay_max: float = RESTART_DELAY_MAX,
        stable_seconds: float = STABLE_SECONDS, stop_grace: float = STOP_GRACE,
    ) -> None:
        self._workers = [_Worker(i, delay=restart_delay) for i in range(count)]
        self._command = command
        self._restart_delay = restart_delay
        self._restart_delay_max = restart_delay_max
        self._stable = stable_seconds
        self._grace = stop_grace
        self._stopping = False

    @property
    def pids(self) -> dict[int, int]:
        """Worker number -> process id, of the workers running now."""
        return {w.index: w.process.pid for w in self._workers
                if w.process is not None and w.process.returncode is None}

    def starts(self, index: int) -> int:
        """How many times worker ``index`` was started."""
        return self._workers[index].starts

    async def run(self, stop: asyncio.Event) -> None:
        """Keep every worker running until ``stop`` is set, then stop them all."""
        keepers = [asyncio.create_task(self._keep(w), name=f"worker-{w.index}")
                   for w in self._workers]
        try:
            await stop.wait()
        finally:
            self._stopping = True
            for task in keepers:
                task.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)
            await self._stop_all()

    async def _keep(self, worker: _Worker) -> None:
        while not self._stopping:
            env = {**os.environ, WORKER_ENV: str(worker.index)}
            try:
                worker.process = await asyncio.create_subprocess_exec(
                    *self._command(worker.index), env=env)
            except OSError as exc:
                log.error("worker_not_started", worker=worker.index, error=str(exc))
                await self._pause(worker)
                continue
            worker.started = time.monotonic()
            worker.starts += 1
            log.info("worker_started", worker=worker.index, pid=worker.process.pid,
                     starts=worker.starts)
            code = await worker.process.wait()
            if self._stopping:
                return
            log.error("worker_died", worker=worker.index, pid=worker.process.pid,
                      returncode=code, lived=round(time.monotonic() - worker.started, 1))
            await self._pause(worker)

    async def _pause(self, worker: _Worker) -> None:
        """Wait before the next start: longer each time a worker dies young."""
        if time.monotonic() - worker.started >= self._stable:
            worker.delay = self._restart_delay
        await asyncio.sleep(worker.delay)
        worker.delay = min(worker.delay * 2, self._restart_delay_max)

    async def _stop_all(self) -> None:
        running = [w.process for w in self._workers
                   if w.process is not None and w.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        waits = [asyncio.create_task(p.wait()) for p in running]
        if not waits:
            return
        _, late = await asyncio.wait(waits, timeout=self._grace)
        for process in running:
            if process.returncode is None:
                log.error("worker_killed", pid=process.pid, grace=self._grace)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        if late:
            await asyncio.gather(*late, return_exceptions=True)


async def watch_parent(stop: asyncio.Event, parent: int, poll: float = PARENT_POLL) -> None:
    """Set ``stop`` once this worker's supervisor (process ``parent``) is gone."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.error("worker_orphaned", parent=parent)
            stop.set()
            return
        await asyncio.sleep(poll)
