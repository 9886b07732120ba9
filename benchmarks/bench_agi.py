"""FastAGI round trips the application sustains alone: the real IVR against a fake Asterisk.

Run from the repository root::

    .venv/bin/python benchmarks/bench_agi.py [--json] [--seconds S] [--levels 1,10,50]
    .venv/bin/ivr bench agi [--json] [-- --seconds S --levels 1,10,50]

Two processes, so the application's CPU is its own:

* the *application* (this script with ``--serve``): the real ``FastAgiServer`` on an ephemeral
  loopback port, the real ``CallHandler`` running the shipped flow (``dialplans/12345.yaml``
  through ``FlowLibrary``) with a real SQLite ``Store`` in a temporary directory, live
  figures and the bulletin desk as ``ivr run`` wires them, speech disabled, INFO logs written
  as JSON lines to a file;
* the *fake Asterisk* (this process): N concurrent FastAGI sessions, each a full call: an
  ``agi_*`` handshake as Asterisk sends it, then a canned answer to every command (``200
  result=0 endpos=1234`` to STREAM FILE, ``200 result=50`` - the key 2 - to WAIT FOR DIGIT,
  ``200 result=1`` to SET VARIABLE, ``200 result=0`` to the rest) until the application sets
  ``IVR_QUEUE`` and closes the session. The caller picks English (2) and then inquiry (2).
  Every caller number is new, so each call's history lookups run against a growing table.

Measured for each number of concurrent sessions, for ``--seconds`` each:

* calls per second through the whole IVR (handshake to the application closing the session,
  the call record saved) and AGI commands per second;
* latency of one command round trip as the fake Asterisk sees it: from writing its answer
  (or the handshake) to reading the application's next command, p50 and p99; and of a whole
  call;
* the application process's CPU seconds per call (user + system, ``getrusage``, store thread
  included), the part of it spent on the event loop's thread, and its share of one core; its
  peak RSS (high-water mark so far); the longest its event loop was late (a 10 ms ticker:
  how long a caller's next prompt could be held up by other calls' work) and its longest
  garbage collection pause, the usual cause of that lateness;
* the fake Asterisk's own CPU share, to tell when the load generator, not the application,
  is the limit (both share this machine's cores).

And in the same run, the protocol's cost, side by side on the same flow and answers:

* the flow engine alone: ``FlowRun`` driven in-process, no sockets, no store;
* ``CallHandler`` with the SQLite store, over an in-memory AGI channel (the codec encodes and
  parses every command, no sockets);
* the same through FastAGI over loopback (above).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
sys.path.insert(0, str(ROOT))

from ivr import logs, settings  # noqa: E402 - after the path set-up for a plain script
from ivr.bulletins.desk import BulletinDesk  # noqa: E402
from ivr.calls.agi_driver import CallHandler  # noqa: E402
from ivr.calls.pending_writes import PendingWrites  # noqa: E402
from ivr.core.figures import LiveFigures  # noqa: E402
from ivr.core.flow import (  # noqa: E402
    ArrivalFacts,
    CaseLookedUp,
    CollectDigits,
    Command,
    DigitsCollected,
    Event,
    FlowRun,
    ListenForSpeech,
    LookupCase,
    PlayPrompt,
    PromptPlayed,
    RouteToQueue,
)
from ivr.core.protocols.agi import AgiResult, ResponseReader, encode_command, parse_handshake  # noqa: E402
from ivr.core.settings import Settings  # noqa: E402
from ivr.edges.fastagi import AgiChannel, FastAgiServer  # noqa: E402
from ivr.edges.storage.store import Store, open_store  # noqa: E402
from ivr.flows.files import load_flow_file  # noqa: E402
from ivr.flows.library import FlowLibrary  # noqa: E402

HOST = "127.0.0.1"
LEVELS = (1, 10, 50)
SECONDS_PER_LEVEL = 6.0
WARM_UP_CALLS = 30
KEY = "2"  # English at the language menu, then inquiry at the main menu
CALL_TIMEOUT = 30.0
LAG_TICK = 0.01
# The fake Asterisk and the application share it, as the rendered dialplan and the server do.
BENCH_SECRET = "bench-fastagi-secret"  # noqa: S105 - loopback benchmark only, no credential

ANSWERS: dict[bytes, bytes] = {
    b"STREAM FILE": b"200 result=0 endpos=1234\n",
    b"WAIT FOR DIGIT": f"200 result={ord(KEY)}\n".encode(),
    b"SET VARIABLE": b"200 result=1\n",
    b"CHANNEL STATUS": b"200 result=6\n",  # 6: the line is up
}
DEFAULT_ANSWER = b"200 result=0\n"
ROUTED = (b'SET VARIABLE "IVR_QUEUE"', b'EXEC "MSet"')  # IVR_QUEUE, alone or with the stages


def routed_by(line: bytes) -> bool:
    """Whether this command line sets IVR_QUEUE (the call is routed)."""
    return line.startswith(ROUTED) and b"IVR_QUEUE" in line


def answer(line: bytes) -> bytes:
    """What the fake Asterisk answers to one command line."""
    for verb, reply in ANSWERS.items():
        if line.startswith(verb):
            return reply
    return DEFAULT_ANSWER


def handshake(n: int) -> bytes:
    """The ``agi_*`` block Asterisk 20 sends for the n-th call to the 12345 IVR."""
    return (
        "agi_network: yes\n"
        "agi_network_script: ivr\n"
        f"agi_request: agi://{HOST}:4573/ivr?secret={BENCH_SECRET}\n"
        f"agi_channel: PJSIP/citizens-{n:08x}\n"
        "agi_language: zh\n"
        "agi_type: PJSIP\n"
        f"agi_uniqueid: 1764345600.{n}\n"
        "agi_version: 20.5.0\n"
        f"agi_callerid: 139{n:08d}\n"
        "agi_calleridname: unknown\n"
        "agi_callingpres: 0\n"
        "agi_callingani2: 0\n"
        "agi_callington: 0\n"
        "agi_callingtns: 0\n"
        "agi_dnid: 12345\n"
        "agi_rdnis: unknown\n"
        "agi_context: ivr-12345\n"
        "agi_extension: 12345\n"
        "agi_priority: 3\n"
        "agi_enhanced: 0.0\n"
        "agi_accountcode: \n"
        f"agi_threadid: {140_000_000_000 + n}\n"
        "\n"
    ).encode()


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_settings(state_dir: Path) -> Settings:
    """The shipped configuration and flow, with storage in ``state_dir`` and an ephemeral port."""
    base = settings.load()
    return dataclasses.replace(
        base, state_dir=state_dir, database_url=f"sqlite:///{state_dir / 'bench.sqlite3'}",
        agi=dataclasses.replace(base.agi, host=HOST, port=0, allowed_peers=(HOST,),
                                secret=BENCH_SECRET),
    )


def log_to_file(path: Path) -> TextIO:
    """INFO lines as JSON to a file, as a deployment would write them (not to the terminal)."""
    stream = path.open("a", encoding="utf-8")
    logs.configure("INFO", stream=stream, json=True)
    return stream


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------- the application process


class LagMeter:
    """How late a 10 ms ticker wakes up: how long something held the event loop."""

    def __init__(self) -> None:
        self.max_lag = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(LAG_TICK)
            self.max_lag = max(self.max_lag, time.perf_counter() - before - LAG_TICK)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class GcMeter:
    """The longest garbage collection pause: it holds the loop like blocking work does."""

    def __init__(self) -> None:
        self.max_pause = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.max_pause = max(self.max_pause, time.perf_counter() - self._started)


async def build_handler(cfg: Settings) -> tuple[CallHandler, Store, PendingWrites]:
    """The call path as ``ivr run`` composes it (no AMI, no speech, no callbacks)."""
    store = open_store(cfg.database_url, cfg.state_dir)
    await store.open()
    writes = PendingWrites(store, cfg.state_dir)
    flows = FlowLibrary(cfg, store.flow_versions)
    await flows.load()
    figures = LiveFigures(
        {s.id: s.service_level for s in cfg.skills.values()}, tz=ZoneInfo(cfg.timezone)
    )
    bulletins = BulletinDesk(cfg, store.bulletins, store.audit, cfg.asterisk_sounds)
    handler = CallHandler(cfg, store.calls, store.cases, flows, writes, speech=None,
                          figures=figures, bulletins=bulletins)
    return handler, store, writes


def report(values: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(values) + "\n")
    sys.stdout.flush()


async def serve(state_dir: Path) -> None:
    """The application under test. Says its port, then answers ``mark`` and ``quit`` lines
    on stdin with its own CPU, memory and loop figures."""
    cfg = bench_settings(state_dir)
    log_to_file(state_dir / "ivr.log")  # open until the process ends
    handler, store, writes = await build_handler(cfg)
    handled = 0

    async def counted(channel: AgiChannel) -> None:
        nonlocal handled
        await handler(channel)
        handled += 1

    server = FastAgiServer(cfg.agi, counted)
    await server.start()
    lag = LagMeter()
    lag.start()
    collections = GcMeter()
    gc.callbacks.append(collections)
    started_at = datetime.now(UTC)
    report({"port": server.port, "pid": os.getpid()})
    try:
        while True:
            line = (await asyncio.to_thread(sys.stdin.readline)).strip()
            if line == "mark":
                # thread_time here is the event loop thread's: this coroutine runs on it.
                report({"cpu": cpu_seconds(), "loop_cpu": time.thread_time(),
                        "peak_rss_mb": peak_rss_mb(),
                         "max_lag_ms": lag.max_lag * 1000, "calls": handled,
                        "max_gc_ms": collections.max_pause * 1000})
                lag.max_lag = collections.max_pause = 0.0
            else:  # "quit", or the load generator went away
                break
        await server.stop()
        await lag.stop()
        records = await store.calls.between(started_at, datetime.now(UTC))
        if line == "quit":
            report({"records": len(records),
                    "routed": sum(1 for r in records if r.outcome == "routed")})
    finally:
        await writes.close()
        await store.close()


# ---------------------------------------------------------------- the fake Asterisk


@dataclasses.dataclass(slots=True)
class Tally:
    """What the fake Asterisk saw during one level."""

    calls: int = 0
    routed: int = 0
    failed: int = 0
    commands: int = 0
    round_trips: list[float] = dataclasses.field(default_factory=list)
    call_seconds: list[float] = dataclasses.field(default_factory=list)


async def fake_call(port: int, n: int, tally: Tally) -> None:
    """One citizen's call as Asterisk carries it: handshake, answer every command, done when
    the application closes the session."""
    started = time.perf_counter()
    routed = False
    commands = 0
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        tally.failed += 1
        return
    try:
        writer.write(handshake(n))
        sent = time.perf_counter()
        while True:
            line = await reader.readline()
            if not line:
                break
            tally.round_trips.append(time.perf_counter() - sent)
            commands += 1
            routed = routed or routed_by(line)
            writer.write(answer(line))
            sent = time.perf_counter()
    except OSError:
        routed = False
    finally:
        writer.close()
    tally.calls += 1
    tally.commands += commands
    tally.call_seconds.append(time.perf_counter() - started)
    if routed:
        tally.routed += 1
    else:
        tally.failed += 1


class Application:
    """The application process, seen from the fake Asterisk."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port

    @classmethod
    async def start(cls, state_dir: Path) -> Application:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(SCRIPT), "--serve", str(state_dir),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        app = cls(process, 0)
        hello = await app._read()
        app.port = int(hello["port"])
        return app

    async def _read(self) -> dict[str, Any]:
        if self.process.stdout is None:
            raise RuntimeError("no pipe to the application")
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        if not line:
            code = await self.process.wait()
            raise SystemExit(f"the application process exited ({code}) before answering")
        values: dict[str, Any] = json.loads(line)
        return values

    async def ask(self, what: str) -> dict[str, Any]:
        if self.process.stdin is None:
            raise RuntimeError("no pipe to the application")
        self.process.stdin.write(f"{what}\n".encode())
        await self.process.stdin.drain()
        return await self._read()

    async def quit(self) -> dict[str, Any]:
        final = await self.ask("quit")
        await asyncio.wait_for(self.process.wait(), 30)
        return final


async def calls_at(port: int, sessions: int, seconds: float, first: int) -> tuple[Tally, float]:
    """``sessions`` callers calling back to back for ``seconds``; the tally and wall time."""
    tally = Tally()
    deadline = time.perf_counter() + seconds
    numbers = iter(range(first, first + 10_000_000))

    async def caller() -> None:
        while time.perf_counter() < deadline:
            try:
                await asyncio.wait_for(fake_call(port, next(numbers), tally), CALL_TIMEOUT)
            except TimeoutError:  # the application never finished the call: a failed call
                tally.calls += 1
                tally.failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(sessions)))
    return tally, time.perf_counter() - started


async def warm_up(port: int) -> Tally:
    """The first calls pay for caches and the store's first pages: not measured."""
    warm = Tally()
    for batch in range(0, WARM_UP_CALLS, 5):
        await asyncio.gather(*(fake_call(port, n, warm) for n in range(batch, batch + 5)))
    if warm.failed:
        raise SystemExit("warm-up calls were not routed: is the flow valid?")
    return warm


async def through_fastagi(levels: list[int], seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-agi-") as tmp:
        app = await Application.start(Path(tmp))
        try:
            warm = await warm_up(app.port)
            first = warm.calls
            results = []
            for sessions in levels:
                before = await app.ask("mark")
                own_before = cpu_seconds()
                tally, wall = await calls_at(app.port, sessions, seconds, first)
                own = cpu_seconds() - own_before
                after = await app.ask("mark")
                first += tally.calls
                results.append(level_figures(sessions, tally, wall, before=before, after=after,
                                             own_cpu=own))
            final = await app.quit()
        except BaseException:
            if app.process.returncode is None:
                app.process.kill()
                await app.process.wait()
            raise
    expected = warm.calls + sum(r["calls"] for r in results)
    return {"levels": results, "records_saved": final["records"],
            "records_routed": final["routed"], "calls_made": expected}


def level_figures(sessions: int, tally: Tally, wall: float, *, before: dict[str, Any],
                  after: dict[str, Any], own_cpu: float) -> dict[str, Any]:
    trips = sorted(tally.round_trips)
    whole = sorted(tally.call_seconds)
    app_cpu = after["cpu"] - before["cpu"]
    calls = max(tally.calls, 1)
    return {
        "sessions": sessions,
        "seconds": round(wall, 2),
        "calls": tally.calls,
        "failed_calls": tally.failed,
        "calls_per_second": round(tally.calls / wall, 1),
        "commands_per_call": round(tally.commands / calls, 1),
        "commands_per_second": round(tally.commands / wall, 0),
        "round_trip_p50_ms": round(percentile(trips, 0.50) * 1000, 3),
        "round_trip_p99_ms": round(percentile(trips, 0.99) * 1000, 3),
        "call_p50_ms": round(percentile(whole, 0.50) * 1000, 2),
        "call_p99_ms": round(percentile(whole, 0.99) * 1000, 2),
        "app_cpu_ms_per_call": round(app_cpu / calls * 1000, 3),
        "app_cpu_share": round(app_cpu / wall, 2),
        "app_loop_thread_cpu_ms_per_call": round(
            (after["loop_cpu"] - before["loop_cpu"]) / calls * 1000, 3),
        "app_peak_rss_mb": round(after["peak_rss_mb"], 1),
        "app_max_loop_lag_ms": round(after["max_lag_ms"], 1),
        "app_max_gc_pause_ms": round(after["max_gc_ms"], 1),
        "asterisk_cpu_share": round(own_cpu / wall, 2),
    }


# ---------------------------------------------------------------- without sockets


def engine_facts(cfg: Settings, zone: ZoneInfo, n: int) -> ArrivalFacts:
    """What ``CallHandler`` gives the engine for a new caller (no history, no bulletin)."""
    now = datetime.now(zone)
    return ArrivalFacts(
        caller=f"139{n:08d}", language=cfg.default_language, now=now,
        open_schedules=cfg.schedules.open_at(now),
        holidays_today=cfg.schedules.holidays_on(now.date()), speech_available=False,
    )


def engine_event(command: Command) -> Event | None:
    """The same answers as the fake Asterisk gives, as engine events."""
    match command:
        case PlayPrompt():
            return PromptPlayed(None)
        case CollectDigits() | ListenForSpeech():
            return DigitsCollected(KEY)
        case LookupCase(number=number):
            return CaseLookedUp(number, False)
        case _:
            return None


def engine_only(cfg: Settings, seconds: float) -> dict[str, Any]:
    """The flow engine alone: one call after the other, in this process."""
    flow = load_flow_file(cfg.flow_path)
    zone = ZoneInfo(cfg.timezone)
    calls = commands = 0
    routed = True
    cpu_before, started = time.process_time(), time.perf_counter()
    while time.perf_counter() - started < seconds or calls < 10:
        run = FlowRun(flow, engine_facts(cfg, zone, calls))
        batch = run.start()
        while batch and not run.finished:
            commands += len(batch)
            event = next((e for e in map(engine_event, batch) if e is not None), None)
            if event is None:
                break
            batch = run.handle(event)
        commands += len(batch)
        routed = routed and any(isinstance(c, RouteToQueue) for c in batch)
        calls += 1
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    if not routed:
        raise SystemExit("the engine did not route every call")
    return {"calls": calls, "calls_per_second": round(calls / wall, 0),
            "engine_commands_per_call": round(commands / calls, 1),
            "cpu_ms_per_call": round(cpu / calls * 1000, 4)}


class InMemoryChannel(AgiChannel):
    """An AGI channel with no socket: each command is encoded, answered as the fake Asterisk
    answers it, and the answer parsed, as on the wire."""

    def __init__(self, n: int) -> None:
        env = parse_handshake(handshake(n).rstrip(b"\n"))
        super().__init__(env, asyncio.StreamReader(), None, 60.0)  # type: ignore[arg-type]
        self.commands = 0
        self.routed = False

    async def command(self, verb: str, *args: str | int) -> AgiResult:
        line = encode_command(verb, *args)
        self.commands += 1
        self.routed = self.routed or routed_by(line)
        result = ResponseReader().receive_line(answer(line))
        if not isinstance(result, AgiResult):
            raise TypeError(result)
        return result


async def handler_in_memory(seconds: float) -> dict[str, Any]:
    """``CallHandler`` and the SQLite store over in-memory channels, one call after the other."""
    with tempfile.TemporaryDirectory(prefix="bench-agi-mem-") as tmp:
        cfg = bench_settings(Path(tmp))
        log_file = log_to_file(Path(tmp) / "ivr.log")
        handler, store, writes = await build_handler(cfg)
        try:
            for n in range(WARM_UP_CALLS):
                await handler(InMemoryChannel(n))
            calls = commands = failed = 0
            cpu_before, started = cpu_seconds(), time.perf_counter()
            while time.perf_counter() - started < seconds or calls < 10:
                channel = InMemoryChannel(WARM_UP_CALLS + calls)
                await handler(channel)
                calls += 1
                commands += channel.commands
                failed += not channel.routed
            wall = time.perf_counter() - started
            cpu = cpu_seconds() - cpu_before
        finally:
            await writes.close()
            await store.close()
            logs.configure("WARNING")
            log_file.close()
    return {"calls": calls, "failed_calls": failed,
            "calls_per_second": round(calls / wall, 0),
            "commands_per_call": round(commands / calls, 1),
            "cpu_ms_per_call": round(cpu / calls * 1000, 3)}


# ---------------------------------------------------------------- the run


def run(levels: list[int], seconds: float) -> dict[str, Any]:
    cfg = settings.load()
    engine_seconds = min(2.0, max(0.2, seconds / 3))
    engine = engine_only(cfg, engine_seconds)
    in_memory = asyncio.run(handler_in_memory(engine_seconds))
    agi = asyncio.run(through_fastagi(levels, seconds))
    base = engine["cpu_ms_per_call"]
    ratios = {
        "in_memory_handler_over_engine_cpu": round(in_memory["cpu_ms_per_call"] / base, 1),
        **{f"fastagi_{r['sessions']}_over_engine_cpu": round(r["app_cpu_ms_per_call"] / base, 1)
           for r in agi["levels"]},
        **{f"fastagi_{r['sessions']}_over_in_memory_cpu":
           round(r["app_cpu_ms_per_call"] / in_memory["cpu_ms_per_call"], 2)
           for r in agi["levels"]},
    }
    return {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "flow": str(cfg.flow_path.relative_to(cfg.project_dir)
                    if cfg.flow_path.is_relative_to(cfg.project_dir) else cfg.flow_path),
        "seconds_per_level": seconds,
        "engine": engine,
        "in_memory_handler": in_memory,
        "fastagi": agi,
        "ratios": ratios,
    }


Column = tuple[str, str, Callable[[Any], str]]
CALL_COLUMNS: list[Column] = [
    ("sessions", "sessions", str),
    ("calls", "calls", str),
    ("failed", "failed_calls", str),
    ("calls/s", "calls_per_second", "{:.1f}".format),
    ("cmds/call", "commands_per_call", "{:.1f}".format),
    ("cmds/s", "commands_per_second", "{:.0f}".format),
    ("rt p50 ms", "round_trip_p50_ms", "{:.3f}".format),
    ("rt p99 ms", "round_trip_p99_ms", "{:.3f}".format),
    ("call p50 ms", "call_p50_ms", "{:.1f}".format),
    ("call p99 ms", "call_p99_ms", "{:.1f}".format),
]
PROCESS_COLUMNS: list[Column] = [
    ("sessions", "sessions", str),
    ("app CPU ms/call", "app_cpu_ms_per_call", "{:.2f}".format),
    ("on loop thread", "app_loop_thread_cpu_ms_per_call", "{:.2f}".format),
    ("app CPU", "app_cpu_share", "{:.0%}".format),
    ("app peak RSS MB", "app_peak_rss_mb", "{:.1f}".format),
    ("app loop lag ms", "app_max_loop_lag_ms", "{:.1f}".format),
    ("app GC pause ms", "app_max_gc_pause_ms", "{:.1f}".format),
    ("fake Asterisk CPU", "asterisk_cpu_share", "{:.0%}".format),
]


def print_columns(columns: list[Column], rows: list[dict[str, Any]]) -> None:
    widths = [max(len(title), 6) + 2 for title, _, _ in columns]
    print("".join(f"{title:>{w}}" for (title, _, _), w in zip(columns, widths, strict=True)))
    for row in rows:
        print("".join(f"{fmt(row[key]):>{w}}"
                      for (_, key, fmt), w in zip(columns, widths, strict=True)))


def print_table(result: dict[str, Any]) -> None:
    machine = result["machine"]
    print(f"FastAGI round trips, application alone: flow {result['flow']}, SQLite store, "
          f"speech off; {result['seconds_per_level']:g} s per level; Python "
          f"{machine['python']}, {machine['cpus']} CPUs")
    print("fake Asterisk (this process) -> FastAGI on loopback -> application (own process)")
    print()
    print("calls, as the fake Asterisk sees them (rt: one command round trip):")
    print_columns(CALL_COLUMNS, result["fastagi"]["levels"])
    print()
    print("the application process (loop lag: the longest its event loop was late; GC pause:")
    print("the longest garbage collection, which holds the loop as blocking work would):")
    print_columns(PROCESS_COLUMNS, result["fastagi"]["levels"])
    agi = result["fastagi"]
    print(f"records saved by the application: {agi['records_saved']} of {agi['calls_made']} "
          f"calls, {agi['records_routed']} routed")
    print()
    print("protocol cost, same flow and answers:")
    print(f"{'tier':<46}{'calls/s':>10}{'CPU ms/call':>13}{'x engine':>10}")
    engine, memory = result["engine"], result["in_memory_handler"]
    base = engine["cpu_ms_per_call"]
    rows = [
        ("flow engine alone (FlowRun, no IO)", engine["calls_per_second"],
         engine["cpu_ms_per_call"]),
        ("CallHandler + SQLite, in-memory AGI channel", memory["calls_per_second"],
         memory["cpu_ms_per_call"]),
        *((f"CallHandler + SQLite over FastAGI, {r['sessions']} session(s)",
           r["calls_per_second"], r["app_cpu_ms_per_call"]) for r in agi["levels"]),
    ]
    for label, rate, cpu in rows:
        print(f"{label:<46}{rate:>10.0f}{cpu:>13.3f}{cpu / base:>9.0f}x")
    ratios = result["ratios"]
    sockets = ", ".join(f"{k.split('_')[1]} session(s) {v:.2f}x"
                        for k, v in ratios.items() if k.endswith("_over_in_memory_cpu"))
    print(f"FastAGI over the in-memory channel (sockets and the event loop): {sockets}")


def main(argv: list[str] | None = None) -> int:
    """Print the figures as a table, or as JSON with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--seconds", type=float, default=SECONDS_PER_LEVEL,
                        help="seconds of calls at each level")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)),
                        help="concurrent sessions per level, comma separated")
    parser.add_argument("--serve", metavar="STATE_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(Path(args.serve)))
        return 0
    try:
        levels = [int(n) for n in args.levels.split(",") if n.strip()]
    except ValueError:
        parser.error(f"--levels: not a list of numbers: {args.levels!r}")
    if not levels or min(levels) < 1 or args.seconds <= 0:
        parser.error("--levels needs numbers >= 1 and --seconds a positive number")
    result = run(levels, args.seconds)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
