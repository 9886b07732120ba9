"""Load against the test bed: real SIP calls through the IVR into a queue, side by side with a
plain-dialplan IVR doing the same menu (Background/WaitExten/Queue).

Run from the repository root, as root, with nothing else using the test bed::

    .venv/bin/ivr bench load [--json] [-- --rates 2,5,10 --seconds 10 --answered 20]

For each rate (new calls per second) and each IVR, SIPp places ``rate x seconds`` calls. Every
caller chooses Mandarin (1) 1 s after the answer, then inquiry (2) 1.5 s later; then, by
default, hangs up 2 s after that, while waiting in the inquiry queue: what differs between
the two IVRs is the menu, not app_queue's ringing, which is the same for both.

With ``--answered N``, N operators (all holding inquiry at level 5, in a roster imported into
a copy of config/ with its own state and database, as ``ivr bench scale`` does) are logged in
through the API, and SIPp phones answer for them and talk ``--talk`` s; a ``--waiting`` share
of the callers (half by default) stays on the line ``--patience`` s after choosing: in the
queue until answered (or giving up), then, once the operator hangs up, in the satisfaction
survey (the reference IVR asks it too, in plain dialplan), where, pressing nothing, they are
let go or hang up.
Both IVRs use the same app_queue queue, so the same members, and get the same mix.

Measured per run:

* AMI events (and bytes) per call that Asterisk sends the application's AMI user, counted on
  a link of the benchmark's own as that user (the same event filter);
* failed calls (SIPp's count: any unexpected message, timeout or error); callers who joined
  the queue, were answered, left it unanswered (app_queue's queue_log: ENTERQUEUE, CONNECT,
  ABANDON);
* CPU per call of Asterisk and of the application (``ivr serve`` in its own process), from
  /proc, and their sum; the ratio application IVR / plain dialplan;
* the application's CPU per call split by what its threads do (``testbed_runs.AppCpu``):
  AGI (the FastAGI sessions, flow and routing: the event loop less its AMI part), AMI (the
  loop reading the AMI link, the application's own ``ivr_ami_event_cpu_seconds_total``),
  storage (the ``ivr-store`` threads), speech (``ivr-speech``), other threads. During the
  reference IVR's runs the application still follows the queue's events: that split is
  reported too, but the reference's total is Asterisk's alone; the difference between the
  two runs' splits (side by side) is what the application spends on its own calls beyond
  following the same mix's queues and its timers;
* latency per menu step, from Asterisk's own log: from the call's arrival to the main menu
  starting (the language step) and to joining the queue, or to the application's wait
  announcement when no operator is free (the main-menu step). The caller's
  key presses are at fixed times, so the difference between the two IVRs is the latency the
  application adds to each step.

The runs alternate between the two IVRs at each rate, so both see the same machine.
``--ramp START,STEP,MAX`` raises the rate until the first rate at which an application call
fails (rates up to 60 calls/s and beyond: SIPp and the test bed's Asterisk keep up to 120).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from testbed_runs import (
    AppCpu,
    Session,
    admin_password,
    answering_phones,
    answering_roster,
    asterisk_pid,
    clear_queue_members,
    config_with_roster,
    cpu_seconds,
    log_in_operators,
    log_out_operators,
    port_open,
    restore_testbed,
    sipp_counts,
    start_serve,
    stop_serve,
    wait_listening,
    with_workers,
)

from ivr import settings
from ivr.core.settings import Settings
from ivr.testbed.reference_ivr import REFERENCE_NUMBER
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import (
    AwaitHangUp,
    HangUp,
    OperatorPhone,
    Phones,
    Press,
    Step,
    Wait,
    free_media_port,
    free_port,
    render_citizen,
)

MENU: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("2")]
LEAVING: list[Step] = [*MENU, Wait(2.0), HangUp()]
SKILL = "inquiry"  # what key 2 asks for, in both IVRs
_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\]")


@dataclass
class Run:
    ivr: str
    rate: float
    calls: int
    failed: int
    seconds: float
    asterisk_cpu_ms_per_call: float
    app_cpu_ms_per_call: float
    total_cpu_ms_per_call: float
    to_menu_ms_p50: float
    to_queue_ms_p50: float
    concurrent_peak: int
    ami_events_per_call: float = 0.0
    ami_bytes_per_call: float = 0.0
    waiting_calls: int = 0
    queued: int = 0
    answered: int = 0
    abandoned: int = 0
    app_split_ms_per_call: dict[str, float] = field(default_factory=dict)
    """The application's CPU during the run (for the reference IVR: following the queue's
    events only) by part: agi, ami, storage, speech, other."""


class AmiCounter:
    """An AMI link of the benchmark's own, as the application's user (so under its event
    filter): counts the events and bytes Asterisk sends that user."""

    def __init__(self, cfg: Settings) -> None:
        self.events = 0
        self.bytes = 0
        self._sock = socket.create_connection((cfg.ami.host, cfg.ami.port), timeout=10)
        login = (f"Action: Login\r\nUsername: {cfg.ami.username}\r\n"
                 f"Secret: {cfg.ami.secret}\r\nEvents: on\r\n\r\n")
        self._sock.sendall(login.encode())
        self._sock.settimeout(None)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        tail = b""
        with contextlib.suppress(OSError):
            while data := self._sock.recv(65536):
                self.bytes += len(data)
                chunk = tail + data
                self.events += chunk.count(b"\r\nEvent: ") + chunk.startswith(b"Event: ")
                tail = chunk[-9:]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()


@dataclass(frozen=True, slots=True)
class Mix:
    """Who calls: the share of callers who wait to be answered, and for how long at most."""

    waiting: float = 0.0
    patience: float = 28.0


def scenario(phones: Phones, name: str, steps: list[Step], prefix: str) -> Path:
    """A caller's scenario; each call gets its own caller number from SIPp's call number."""
    work = phones.workdir / f"load-{name}"
    work.mkdir(parents=True, exist_ok=True)
    text = render_citizen("13900000000", "", steps, work, phones._inside(work))
    text = text.replace("13900000000", f"{prefix}[call_number]")
    path = work / "citizen.xml"
    path.write_text(text, encoding="utf-8")
    return path


async def place(phones: Phones, ivr: str, service: str, *, rate: float, seconds: float,
                mix: Mix) -> tuple[int, int, int, int]:
    """The run's calls, leaving and waiting callers side by side (one SIPp each): calls
    placed, failed, of which waiting; the calls asked for."""
    parts = [("leave", LEAVING, "1390", rate * (1 - mix.waiting))]
    if mix.waiting > 0:
        patient = [*MENU, AwaitHangUp(mix.patience, give_up=True)]
        parts.append(("wait", patient, "1391", rate * mix.waiting))
    runs = []
    for kind, steps, prefix, part_rate in parts:
        calls = max(1, round(part_rate * seconds)) if part_rate > 0 else 0
        if not calls:
            continue
        path = scenario(phones, f"{ivr}-{kind}", steps, prefix)
        cmd = phones._command(
            path, phones.sip, "-s", service, "-r", f"{part_rate:.3f}", "-m", str(calls),
            "-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1",
            "-mp", str(free_media_port()), "-timeout", f"{int(seconds + mix.patience + 120)}s",
            "-nostdin", "-l", "2000",
        )
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        runs.append((kind, calls, proc))
    ok = bad = waiting = asked = 0
    for kind, calls, proc in runs:
        good, failed = sipp_counts((await proc.communicate())[0].decode(errors="replace"), calls)
        ok, bad, asked = ok + good, bad + failed, asked + calls
        waiting += calls if kind == "wait" else 0
    return ok + bad, bad, waiting, asked


def queue_outcomes(queue_log: Path, offset: int) -> tuple[int, int, int]:
    """Callers who joined the queue (ENTERQUEUE), were answered (CONNECT) and left it
    unanswered (ABANDON), in app_queue's queue_log since ``offset``."""
    if not queue_log.exists():
        return 0, 0, 0
    with queue_log.open("rb") as f:
        f.seek(offset)
        events = [line.split("|")[4] for line in f.read().decode(errors="replace").splitlines()
                  if line.count("|") >= 4]
    return events.count("ENTERQUEUE"), events.count("CONNECT"), events.count("ABANDON")


def latencies(log: Path, offset: int, number: str) -> tuple[list[float], list[float], int]:
    """From Asterisk's log since ``offset``: per call, ms from arrival to the main menu and
    to joining the queue; and the most calls up at once."""
    with log.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()
    arrived: dict[str, float] = {}
    menu: dict[str, float] = {}
    queued: dict[str, float] = {}
    ended: dict[str, float] = {}
    for line in lines:
        stamp = _STAMP.match(line)
        channel = re.search(r"(PJSIP/citizens-[0-9a-f]+)", line)
        if not stamp or not channel:
            continue
        at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        ch = channel.group(1)
        if f"[{number}@citizens:1]" in line:
            arrived.setdefault(ch, at)
        elif "Playing 'ivr/main-menu" in line:
            menu.setdefault(ch, at)
        elif "] Queue(\"" + ch in line or "Playing 'ivr/queue-" in line:
            # The menu step ends where the route decision is carried out: the caller joins
            # the queue, or first hears the application's wait announcement (no operator free).
            queued.setdefault(ch, at)
        elif "Spawn extension" in line or "exited non-zero" in line:
            ended[ch] = at
    to_menu = [(menu[c] - arrived[c]) * 1000 for c in arrived if c in menu]
    to_queue = [(queued[c] - arrived[c]) * 1000 for c in arrived if c in queued]
    events = sorted([(t, 1) for c, t in arrived.items()] +
                    [(t, -1) for c, t in ended.items() if c in arrived])
    up = peak = 0
    for _, step in events:
        up += step
        peak = max(peak, up)
    return to_menu, to_queue, peak


@dataclass(frozen=True, slots=True)
class Bed:
    """The test bed and the application under measurement."""

    box: Sandbox
    phones: Phones
    app_pid: int
    metrics_urls: list[str]
    ami: AmiCounter


async def one_run(bed: Bed, ivr: str, *, rate: float, seconds: float, mix: Mix) -> Run:
    box = bed.box
    number = REFERENCE_NUMBER if ivr == "dialplan" else box.settings.sip.service_number
    log = box.root / "var/log/asterisk/messages.log"
    offset, queue_offset = log.stat().st_size, _size(box.queue_log)
    ast = asterisk_pid(box)
    app0 = AppCpu.read(bed.app_pid, bed.metrics_urls)
    ast0, t0 = cpu_seconds(ast), time.monotonic()
    events0, bytes0 = bed.ami.events, bed.ami.bytes
    made, failed, waiting, calls = await place(bed.phones, ivr, number, rate=rate,
                                                 seconds=seconds, mix=mix)
    await asyncio.sleep(1.0)  # the last calls' records and log lines
    ast1, t1 = cpu_seconds(ast), time.monotonic()
    app = AppCpu.read_after(bed.app_pid, bed.metrics_urls) - app0
    to_menu, to_queue, peak = latencies(log, offset, number)
    queued, answered, abandoned = queue_outcomes(box.queue_log, queue_offset)
    app_cpu = app.total if ivr == "application" else 0.0
    return Run(
        ivr=ivr, rate=rate, calls=made, failed=failed, seconds=round(t1 - t0, 1),
        asterisk_cpu_ms_per_call=round((ast1 - ast0) * 1000 / calls, 2),
        app_cpu_ms_per_call=round(app_cpu * 1000 / calls, 2),
        total_cpu_ms_per_call=round(((ast1 - ast0) + app_cpu) * 1000 / calls, 2),
        to_menu_ms_p50=round(statistics.median(to_menu), 1) if to_menu else -1.0,
        to_queue_ms_p50=round(statistics.median(to_queue), 1) if to_queue else -1.0,
        concurrent_peak=peak,
        ami_events_per_call=round((bed.ami.events - events0) / calls, 1),
        ami_bytes_per_call=round((bed.ami.bytes - bytes0) / calls),
        waiting_calls=waiting, queued=queued, answered=answered, abandoned=abandoned,
        app_split_ms_per_call=app.per_call_ms(calls),
    )


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def run(args: argparse.Namespace, rates: list[float]) -> list[Run]:
    base = settings.load()
    cfg = base
    work: Path | None = None
    if args.answered or args.workers > 1:
        work = Path(tempfile.mkdtemp(prefix="ivr-bench-load-"))
        roster = answering_roster(args.answered, SKILL, list(base.languages),
                                  phones=args.phones) if args.answered else None
        cfg = replace(config_with_roster(base, work, roster),
                      asterisk_sounds=base.asterisk_sounds)
        if args.workers > 1:
            cfg = replace(with_workers(cfg, args.workers, args.database),
                          asterisk_sounds=base.asterisk_sounds)
    box = Sandbox(cfg)
    try:
        # Renders the reference IVR (and the roster's endpoints and queues) into the test bed.
        await asyncio.to_thread(box.up)
        if port_open(cfg.agi.port) or port_open(cfg.web_port):
            raise SystemExit(f"something already listens on FastAGI port {cfg.agi.port} or web "
                             f"port {cfg.web_port}: stop it first (the benchmark measures its "
                             "own `ivr serve`)")
        # Operators left logged in (by tests, an earlier run) would answer one IVR's callers
        # and not the other's: both start from the same empty queues.
        await clear_queue_members(cfg)
        password = await admin_password(cfg) if args.answered else ""
        # The application's log, for when it fails under load.
        app = start_serve((work or Path(tempfile.gettempdir())) / "bench-load-serve.log")
        try:
            return await _measure(args, rates, cfg, box=box, app_pid=app.pid,
                                  password=password)
        finally:
            await asyncio.to_thread(stop_serve, app)
    finally:
        if work is not None:
            await asyncio.to_thread(restore_testbed)  # the shipped roster again
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)


async def _measure(args: argparse.Namespace, rates: list[float], cfg: Settings, *,
                   box: Sandbox, app_pid: int, password: str) -> list[Run]:
    web_ports = [cfg.web_port + k for k in range(cfg.agi.workers)]  # one per worker
    await wait_listening(cfg.agi.port, *web_ports)
    await asyncio.sleep(1.0)
    phones = Phones(box.root, cfg.sip.host, cfg.sip.port)
    answering: list[OperatorPhone] = []
    session = Session(f"http://127.0.0.1:{cfg.web_port}")
    ids = list(cfg.operators) if args.answered else []
    ami = AmiCounter(cfg)
    bed = Bed(box, phones, app_pid, [f"http://127.0.0.1:{p}/metrics" for p in web_ports], ami)
    mix = Mix(args.waiting, args.patience)
    runs: list[Run] = []
    try:
        if ids:
            answering = answering_phones(phones, args.phones, talk=args.talk)
            await asyncio.gather(*(p.start() for p in answering))
            await session.login("bench-admin", password)
            await log_in_operators(session, ids, app_pid)
            await asyncio.sleep(1.0)
        for rate in rates:
            for ivr in ("dialplan", "application"):
                runs.append(await one_run(bed, ivr, rate=rate, seconds=args.seconds, mix=mix))
                await asyncio.sleep(2.0)
            if args.ramp and runs[-1].failed:
                break  # the first failure: the ramp's answer
    finally:
        ami.close()
        if ids:
            await log_out_operators(session, ids)
        await session.close()
        await asyncio.gather(*(p.stop() for p in answering), return_exceptions=True)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rates", default="2,5,10", help="new calls per second, comma list")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument(
        "--ramp", default="", metavar="START,STEP,MAX",
        help="instead of --rates: raise the rate from START by STEP up to MAX new calls/s "
             "(each rate side by side as usual) and stop after the first rate with a failed "
             "call of the application")
    parser.add_argument("--answered", type=int, default=0, metavar="N",
                        help="log in N operators (inquiry, level 5) whose SIPp phones answer")
    parser.add_argument("--waiting", type=float, default=None, metavar="SHARE",
                        help="share of callers who wait to be answered (default 0.5 with "
                             "--answered, else 0)")
    parser.add_argument("--talk", type=float, default=4.0, help="operators' talk seconds")
    parser.add_argument("--patience", type=float, default=28.0,
                        help="seconds a waiting caller stays on the line after choosing, "
                             "answered or not (default 28: an unanswered caller gives up "
                             "before the inquiry queue's first widening, at 30 s)")
    parser.add_argument("--phones", type=int, default=0,
                        help="SIPp phones answering for the operators (default: one per 5)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="`ivr serve` with N FastAGI worker processes ([agi] workers; "
                             "needs --database)")
    parser.add_argument("--database", default="", metavar="URL",
                        help="the PostgreSQL database the workers share (its tables are "
                             "created, its calls kept): postgresql://user@host/name")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.ramp:
        start, step, top = (float(x) for x in args.ramp.split(","))
        if start <= 0 or step <= 0 or top < start:
            parser.error("--ramp START,STEP,MAX: positive, START <= MAX")
        rates = [start + n * step for n in range(int((top - start) / step + 1e-9) + 1)]
    else:
        rates = [float(r) for r in args.rates.split(",") if r]
    if args.workers < 1 or (args.workers > 1 and not args.database.startswith("postgresql")):
        parser.error("--workers N: 1 or more; more than 1 needs --database postgresql://...")
    if args.answered < 0:
        parser.error("--answered: a number of operators, 0 or more")
    args.waiting = (0.5 if args.answered else 0.0) if args.waiting is None else args.waiting
    if not 0 <= args.waiting <= 1:
        parser.error("--waiting: a share, 0 to 1")
    args.phones = args.phones or max(1, min(20, (args.answered + 4) // 5))
    if os.geteuid() != 0:
        print("ivr bench load drives the test bed: run it as root", file=sys.stderr)
        return 2
    try:
        runs = asyncio.run(run(args, rates))
    except SystemExit as exc:
        print(f"ivr bench load: {exc}", file=sys.stderr)
        return 2
    report(runs, args.json)
    return 0 if all(r.failed == 0 for r in runs) else 1


def side_by_side(runs: list[Run]) -> list[dict[str, Any]]:
    pairs = []
    for rate in sorted({r.rate for r in runs}):
        plain = next((r for r in runs if r.rate == rate and r.ivr == "dialplan"), None)
        app = next((r for r in runs if r.rate == rate and r.ivr == "application"), None)
        if plain is None or app is None:
            continue
        pairs.append({
            "rate": rate,
            "cpu_ratio": round(app.total_cpu_ms_per_call / plain.total_cpu_ms_per_call, 2)
            if plain.total_cpu_ms_per_call else None,
            "added_ms_language_step": round(app.to_menu_ms_p50 - plain.to_menu_ms_p50, 1),
            "added_ms_menu_step": round(
                (app.to_queue_ms_p50 - plain.to_queue_ms_p50)
                - (app.to_menu_ms_p50 - plain.to_menu_ms_p50), 1),
            # What the application spends on its own calls beyond following the same mix's
            # queues (the reference run: AMI events, queue facts and records, timers).
            "app_own_calls_ms_per_call": {
                k: round(app.app_split_ms_per_call[k] - plain.app_split_ms_per_call[k], 2)
                for k in app.app_split_ms_per_call},
            "answered": {"dialplan": plain.answered, "application": app.answered},
            "abandoned": {"dialplan": plain.abandoned, "application": app.abandoned},
        })
    return pairs


def report(runs: list[Run], as_json: bool) -> None:
    pairs = side_by_side(runs)
    # The highest rate below the first one where an application call failed.
    sustained = 0.0
    for r in sorted((r for r in runs if r.ivr == "application"), key=lambda r: r.rate):
        if r.failed:
            break
        sustained = r.rate
    if as_json:
        print(json.dumps({"runs": [asdict(r) for r in runs], "side_by_side": pairs,
                          "sustained_cps_zero_failures": sustained}, indent=2))
        return
    print("ivr bench load: SIP calls through the IVR into the inquiry queue (test bed)")
    print(f"{'ivr':12} {'cps':>5} {'calls':>6} {'failed':>6} {'waiting':>7} {'queued':>6} "
          f"{'answered':>8} {'abandoned':>9} {'peak up':>8} {'Asterisk ms/call':>17} "
          f"{'app ms/call':>12} {'total ms/call':>14} {'to menu ms':>11} {'to queue ms':>12} "
          f"{'AMI events/call':>16}")
    for r in runs:
        print(f"{r.ivr:12} {r.rate:5g} {r.calls:6d} {r.failed:6d} {r.waiting_calls:7d} "
              f"{r.queued:6d} {r.answered:8d} {r.abandoned:9d} {r.concurrent_peak:8d} "
              f"{r.asterisk_cpu_ms_per_call:17.2f} {r.app_cpu_ms_per_call:12.2f} "
              f"{r.total_cpu_ms_per_call:14.2f} {r.to_menu_ms_p50:11.1f} "
              f"{r.to_queue_ms_p50:12.1f} {r.ami_events_per_call:16.1f}")
    print("\nthe application's CPU per call by part, ms (during the reference's runs: "
          "following its calls' queue events):")
    print(f"{'ivr':12} {'cps':>5} {'AGI+loop':>9} {'AMI':>7} {'storage':>8} {'speech':>7} "
          f"{'other':>7} {'all':>7}")
    for r in runs:
        split = r.app_split_ms_per_call
        print(f"{r.ivr:12} {r.rate:5g} {split['agi']:9.2f} {split['ami']:7.2f} "
              f"{split['storage']:8.2f} {split['speech']:7.2f} {split['other']:7.2f} "
              f"{sum(split.values()):7.2f}")
    print("\nside by side (application / plain dialplan, same run):")
    for p in pairs:
        print(f"  {p['rate']:g} cps: CPU per call x{p['cpu_ratio']}, added latency: language "
              f"step {p['added_ms_language_step']} ms, main-menu step "
              f"{p['added_ms_menu_step']} ms; answered {p['answered']['application']} / "
              f"{p['answered']['dialplan']}, abandoned {p['abandoned']['application']} / "
              f"{p['abandoned']['dialplan']}")
        own = p["app_own_calls_ms_per_call"]
        print(f"    the application's own calls beyond following the queues, ms/call: AGI+loop "
              f"{own['agi']}, AMI {own['ami']}, storage {own['storage']}, speech "
              f"{own['speech']}, other {own['other']}")
    print(f"\nsustained with zero failed calls: {sustained:g} new calls/s")


if __name__ == "__main__":
    sys.exit(main())
