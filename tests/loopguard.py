"""A guard that fails a test whose code holds the event loop (Vosk, SQL or file work on it).

What counts is the time a callback kept the loop from serving anything else *by its own
doing*: its wall time minus the time its thread could not run for reasons outside the
process. These machines are shared: a callback is kept off its core by other processes (the
run-queue delay in ``/proc/thread-self/schedstat``) and by the hypervisor running other
machines on the same host (steal time, which only ``/proc/stat`` shows, per CPU). Both are
taken off; computing, or blocking in ``time.sleep`` or a synchronous read, still counts in
full, and a callback never counts less than the CPU time it used (garbage collection
included: it is reported apart, since it holds the GIL and so hides the stack). While a
callback runs past the limit, a watchdog thread samples the loop thread's stack, so a
failure names the code that held the loop, not only the task.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import gc
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

SCHEDSTAT = "/proc/thread-self/schedstat"
SAMPLE_EVERY = 0.05  # seconds between the watchdog's looks at the running callback
TICK = 1 / os.sysconf("SC_CLK_TCK")  # /proc/stat's unit
_fds = threading.local()


def run_queue_delay() -> float:
    """Seconds this thread has spent runnable but not running (0.0 where unknown)."""
    fd: int | None = getattr(_fds, "fd", None)
    if fd is None:
        try:
            fd = os.open(SCHEDSTAT, os.O_RDONLY)
        except OSError:
            fd = -1
        _fds.fd = fd
    if fd < 0:
        return 0.0
    try:
        return int(os.pread(fd, 128, 0).split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def stolen_per_cpu() -> float:
    """Seconds the hypervisor has taken from each of this machine's CPUs, on average."""
    try:
        with open("/proc/stat", "rb") as stat:
            fields = stat.readline().split()
        return int(fields[8]) * TICK / (os.cpu_count() or 1)
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass(slots=True)
class _Run:
    started: float
    thread: int
    stack: str = ""


class LoopGuard:
    """Patches asyncio's ``Handle._run`` while installed; ``problems`` lists each callback
    that held the loop longer than ``limit`` seconds, with where it was."""

    def __init__(
        self, limit: float, *, delay: Callable[[], float] = run_queue_delay,
        steal: Callable[[], float] = stolen_per_cpu,
    ) -> None:
        self.limit = limit
        self.problems: list[str] = []
        self._delay = delay
        self._steal = steal
        self._stolen: collections.deque[tuple[float, float]] = collections.deque(maxlen=4096)
        self._current: _Run | None = None
        self._original: Callable[[asyncio.events.Handle], None] | None = None
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._gc_seconds = 0.0  # spent in garbage collections, all threads
        self._gc_started = 0.0

    def _gc_timed(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self._gc_seconds += time.perf_counter() - self._gc_started

    def install(self) -> None:
        original = self._original = asyncio.events.Handle._run
        guard = self

        def timed(handle: asyncio.events.Handle) -> None:
            run = _Run(time.perf_counter(), threading.get_ident())
            waited, cpu, collecting = guard._delay(), time.thread_time(), guard._gc_seconds
            guard._current = run
            try:
                original(handle)
            finally:
                guard._current = None
                wall = time.perf_counter() - run.started
                if wall > guard.limit:
                    guard._judge(handle, run, wall, guard._delay() - waited,
                                 time.thread_time() - cpu, guard._gc_seconds - collecting)

        # What the test runner's own heap holds (earlier tests, captured logs, tracebacks)
        # is no garbage of the code under test: frozen, it is not scanned by the collections
        # the test triggers (the application freezes its start-up heap the same way).
        gc.freeze()
        gc.callbacks.append(self._gc_timed)
        self._sample_steal()
        asyncio.events.Handle._run = timed  # type: ignore[method-assign]
        self._stop.clear()
        self._watchdog = threading.Thread(target=self._watch, name="loop-guard", daemon=True)
        self._watchdog.start()

    def uninstall(self) -> None:
        if self._gc_timed in gc.callbacks:
            gc.callbacks.remove(self._gc_timed)
        gc.unfreeze()
        if self._original is not None:
            asyncio.events.Handle._run = self._original  # type: ignore[method-assign]
            self._original = None
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join()
            self._watchdog = None

    def _judge(self, handle: asyncio.events.Handle, run: _Run, wall: float, waited: float,
               cpu: float, collecting: float) -> None:
        self._sample_steal()
        stolen = self._stolen_since(run.started)
        held = max(cpu, wall - waited - stolen)
        if held > self.limit:
            where = f"\n  where it was:\n{run.stack}" if run.stack else ""
            self.problems.append(
                f"{handle!r} held the loop {held:.2f} s (wall {wall:.2f} s, CPU {cpu:.2f} s, "
                f"waiting for a core {waited:.2f} s, stolen {stolen:.2f} s, in garbage "
                f"collection {collecting:.2f} s){where}")

    def _sample_steal(self) -> None:
        self._stolen.append((time.perf_counter(), self._steal()))

    def _stolen_since(self, started: float) -> float:
        """Steal per CPU from ``started`` to the last sample (from the sample just before
        ``started``: at most one sampling period too generous)."""
        samples = list(self._stolen)
        at = bisect.bisect_right([t for t, _ in samples], started) - 1
        return samples[-1][1] - samples[max(at, 0)][1]

    def _watch(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self._sample_steal()
            run = self._current
            if run is None or run.stack or time.perf_counter() - run.started < self.limit:
                continue
            frame = sys._current_frames().get(run.thread)
            if frame is not None and self._current is run:
                run.stack = "".join(traceback.format_stack(frame)[-12:])
