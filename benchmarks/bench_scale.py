"""Beijing scale on the test bed: 1,700 configured operators, 700 logged in, calls through the
IVR into the skill queues, SIPp phones answering for many operator contacts.

Run from the repository root, as root, with nothing else using the test bed::

    .venv/bin/ivr bench scale [--json] [-- --minutes 10 | --quick]

Method (the figures are printed as a table, or JSON):

1. A roster of ``--operators`` (1,700) is generated (``ivr operators generate``: 1-3 skills
   each from config/skills.yaml) and imported into a copy of config/ (``ivr operators
   import``); the test bed renders their endpoints and queues. Their contacts are spread over
   ``--phones`` (20) SIPp phones, each answering for many operators, talking ``--talk`` s.
2. ``ivr serve`` runs in its own process on that configuration, with its own SQLite database.
3. ``--logged-in`` (700) operators are logged in through the API, one after another, while
   ``/healthz`` is asked every 50 ms: server CPU per login (``ivr serve``'s /proc), the login
   wall time and ``/healthz`` latency (p50, p90, max) while logins run.
4. Calls arrive at ``--rate`` calls/s for ``--minutes`` (key 2 inquiry, 0 the general pool, 4
   suggestion, 1-1 environment, in turn, one SIPp per choice), each caller staying on the line
   until the hotline hangs up after the survey (at most ``--patience`` s). The rate and talk
   time are chosen so the logged-in operators are ~85 % busy with talk times compressed to
   fit the run (capped at 8 calls/s, what this 2-core test bed can place).
5. Measured: calls answered and abandoned, average and p95 wait (call records), idle while
   waiting (the wallboard's figures: general pool and per skill), AMI events per second
   (our own AMI link counts them) and the application's CPU per 1,000 events, application and
   Asterisk CPU per call, the live route decision latency p50/p99 (``call_routed``'s
   ``route_ms``: the open-case read and ``plan_call``), the AMI resync time after the link
   is cut (``ss -K`` on the application's AMI socket, until both resync lines are logged),
   and whether the wallboard's figures equal Asterisk's ``QueueSummary`` after the calls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from testbed_runs import (
    Session,
    admin_password,
    answering_phones,
    asterisk_pid,
    config_with_roster,
    cpu_seconds,
    lines_of,
    log_in_operators,
    percentile,
    port_open,
    restore_testbed,
    sipp_counts,
    start_serve,
    stop_serve,
)

from ivr import settings
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.operators.roster import generate_roster
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import (
    AwaitHangUp,
    Phones,
    Press,
    Step,
    Wait,
    free_media_port,
    free_port,
    render_citizen,
)

# (keys after the language, skill) the callers choose in turn
CHOICES = [(["2"], "inquiry"), (["0"], "hotline"), (["4"], "suggestion"),
           (["1", "1"], "environment")]


@dataclass
class Figures:
    configured: int = 0
    logged_in: int = 0
    login_wall_s: float = 0.0
    login_server_cpu_ms: float = 0.0
    healthz_during_logins_ms: dict[str, float] = field(default_factory=dict)
    rate_cps: float = 0.0
    minutes: float = 0.0
    talk_s: float = 0.0
    offered_busy_percent: float = 0.0  # rate x (talk + wrap-up + ring) / logged in
    calls: int = 0
    sipp_failed: int = 0
    answered: int = 0
    abandoned: int = 0
    wait_avg_s: float | None = None
    wait_p95_s: float | None = None
    idle_wait_general_pool_s: float = 0.0
    idle_wait_by_skill_s: dict[str, float] = field(default_factory=dict)
    ami_events: int = 0
    ami_events_per_s: float = 0.0
    app_cpu_ms_per_1000_events: float | None = None
    app_cpu_ms_per_call: float | None = None
    asterisk_cpu_ms_per_call: float | None = None
    route_ms_p50: float | None = None
    route_ms_p99: float | None = None
    routed_calls: int = 0
    ami_resync_s: float | None = None
    figures_equal_queue_summary: bool | None = None
    mismatches: list[str] = field(default_factory=list)


def scale_config(base: Settings, work: Path, operators: int, phones: int) -> Settings:
    """A copy of config/ with the generated roster imported, its own state and database."""
    return config_with_roster(base, work, generate_roster(base, operators, phones=phones))


def citizen_scenario(phones: Phones, keys: list[str], n: int, patience: float) -> Path:
    work = phones.workdir / f"scale-{n}"
    work.mkdir(parents=True, exist_ok=True)
    steps: list[Step] = [Wait(1.0), Press("1")]
    for key in keys:
        steps += [Wait(1.5), Press(key)]
    steps.append(AwaitHangUp(patience))
    text = render_citizen("13900000000", "", steps, work, phones._inside(work))
    text = text.replace("13900000000", f"139{n:02d}[call_number]")
    path = work / "citizen.xml"
    path.write_text(text, encoding="utf-8")
    return path


async def place_calls(phones: Phones, service: str, rate: float, seconds: float,
                      patience: float) -> tuple[int, int]:
    per = rate / len(CHOICES)
    calls = max(1, int(per * seconds))
    procs = []
    for n, (keys, _) in enumerate(CHOICES):
        path = citizen_scenario(phones, keys, n, patience)
        cmd = phones._command(
            path, phones.sip, "-s", service, "-r", f"{per:.3f}", "-m", str(calls),
            "-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1",
            "-mp", str(free_media_port()), "-timeout", f"{int(seconds + patience + 300)}s",
            "-nostdin", "-l", "1000")
        procs.append(await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL))
    ok = bad = 0
    for proc in procs:
        good, failed = sipp_counts((await proc.communicate())[0].decode(errors="replace"), calls)
        ok += good
        bad += failed
    return ok, bad


async def cut_ami_and_time_resync(log: Path, ami_port: int) -> float | None:
    """Cut the application's AMI connection (ss -K) and time until it has resynced both the
    operators and the figures."""
    before = (len(lines_of(log, "operators_resynced")), len(lines_of(log, "figures_resynced")))
    t0 = time.monotonic()
    cut = await asyncio.to_thread(
        subprocess.run, ["ss", "-K", "dst", "127.0.0.1", "dport", "=", str(ami_port)],
        capture_output=True, text=True, check=False)
    if cut.returncode != 0:
        return None
    while time.monotonic() - t0 < 60:
        now = (len(lines_of(log, "operators_resynced")), len(lines_of(log, "figures_resynced")))
        if now[0] > before[0] and now[1] > before[1]:
            return round(time.monotonic() - t0, 2)
        await asyncio.sleep(0.05)
    return None


async def compare_with_asterisk(ami: AmiClient, board: dict[str, Any]) -> list[str]:
    """Each skill row's waiting and available operators against QueueSummary's."""
    summary = await ami.action("QueueSummary", as_list=True, timeout=30)
    theirs = {m.get("Queue"): m for m in summary if m.get("Event") == "QueueSummary"}
    wrong = []
    for row in board["skills"]:
        q = theirs.get(row["skill"])
        if q is None:
            continue
        ours = (row["waiting"] - row.get("waiting_in_stages", 0), row["operators"]["available"])
        asterisk = (int(q.get("Callers") or 0), int(q.get("Available") or 0))
        if ours != asterisk:
            wrong.append(f"{row['skill']}: waiting/available ours {ours} Asterisk {asterisk}")
    return wrong


async def run(args: argparse.Namespace) -> Figures:
    base = settings.load()
    out = Figures(configured=args.operators, rate_cps=args.rate, minutes=args.minutes,
                  talk_s=args.talk, offered_busy_percent=round(
                      100 * args.rate * (args.talk + 4.0) / max(1, args.logged_in), 1))
    work = Path(tempfile.mkdtemp(prefix="ivr-bench-scale-"))
    cfg = scale_config(base, work, args.operators, args.phones)
    cfg = replace(cfg, asterisk_sounds=base.asterisk_sounds)
    box = Sandbox(cfg)
    await asyncio.to_thread(box.up)
    password = await admin_password(cfg)
    if port_open(cfg.agi.port) or port_open(cfg.web_port):
        raise SystemExit("something already listens on the FastAGI or web port: stop it")
    log = work / "serve.log"
    app = await asyncio.to_thread(start_serve, log)
    phones = Phones(box.root, cfg.sip.host, cfg.sip.port)
    answering = answering_phones(phones, args.phones, talk=args.talk)
    ami = AmiClient(cfg.ami)
    session = Session(f"http://127.0.0.1:{cfg.web_port}")
    try:
        await asyncio.gather(*(p.start() for p in answering))
        for _ in range(300):
            if port_open(cfg.agi.port) and port_open(cfg.web_port):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)
        await session.login("bench-admin", password)
        ids = list(cfg.operators)[:args.logged_in]
        logins = await log_in_operators(session, ids, app.pid)
        out.logged_in, out.login_wall_s = logins.count, logins.wall_s
        out.login_server_cpu_ms, out.healthz_during_logins_ms = (logins.server_cpu_ms,
                                                                 logins.healthz_ms)
        events = 0

        def count(_: Any) -> None:
            nonlocal events
            events += 1

        await ami.start(wait=10)
        ami.on_event(count)
        ast = asterisk_pid(box)
        ast0, app0, t0 = cpu_seconds(ast), cpu_seconds(app.pid), time.monotonic()
        ok, failed = await place_calls(phones, cfg.sip.service_number, args.rate,
                                       args.minutes * 60, args.patience)
        await asyncio.sleep(3.0)
        ast1, app1, t1 = cpu_seconds(ast), cpu_seconds(app.pid), time.monotonic()
        out.calls, out.sipp_failed = ok + failed, failed
        out.ami_events = events
        out.ami_events_per_s = round(events / (t1 - t0), 1)
        if events:
            out.app_cpu_ms_per_1000_events = round((app1 - app0) * 1e6 / events, 1)
        if out.calls:
            out.app_cpu_ms_per_call = round((app1 - app0) * 1000 / out.calls, 1)
            out.asterisk_cpu_ms_per_call = round((ast1 - ast0) * 1000 / out.calls, 1)
        routed = [float(e["route_ms"]) for e in lines_of(log, "call_routed") if "route_ms" in e]
        out.routed_calls = len(routed)
        out.route_ms_p50 = round(statistics.median(routed), 2) if routed else None
        out.route_ms_p99 = round(percentile(routed, 0.99) or 0.0, 2) if routed else None
        board = await session.get("/wallboard/data")
        for row in board["skills"]:
            idle = row["today"]["idle_wait_seconds"] or 0.0
            if row["skill"] == cfg.menu.general_queue:
                out.idle_wait_general_pool_s = idle
            elif idle:
                out.idle_wait_by_skill_s[row["skill"]] = idle
        out.mismatches = await compare_with_asterisk(ami, board)
        out.figures_equal_queue_summary = not out.mismatches
        out.ami_resync_s = await cut_ami_and_time_resync(log, cfg.ami.port)
        with sqlite3.connect(work / "calls.sqlite3") as db:
            rows = db.execute("SELECT outcome, operator, wait_seconds FROM calls").fetchall()
        waits = [w for outcome, operator, w in rows if operator and w is not None]
        out.answered = len(waits)
        out.abandoned = sum(1 for outcome, _, _ in rows if outcome == "abandoned")
        out.wait_avg_s = round(statistics.mean(waits), 1) if waits else None
        out.wait_p95_s = round(percentile(waits, 0.95) or 0.0, 1) if waits else None
    finally:
        await session.close()
        await ami.close()
        await asyncio.gather(*(p.stop() for p in answering), return_exceptions=True)
        stop_serve(app)
        # The test bed goes back to the shipped roster.
        await asyncio.to_thread(restore_testbed)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return out


def report(f: Figures, as_json: bool) -> None:
    if as_json:
        print(json.dumps(asdict(f), indent=2))
        return
    rows = [
        ("operators configured / logged in", f"{f.configured} / {f.logged_in}"),
        ("login: server CPU per login", f"{f.login_server_cpu_ms} ms"),
        ("login: wall time for all", f"{f.login_wall_s} s"),
        ("/healthz during logins p50/p90/max",
         "/".join(str(v) for v in f.healthz_during_logins_ms.values()) + " ms"),
        ("arrivals, talk, length", f"{f.rate_cps} calls/s, {f.talk_s} s, {f.minutes} min "
                                   f"({f.offered_busy_percent} % of operators busy)"),
        ("calls placed / SIPp failed", f"{f.calls} / {f.sipp_failed}"),
        ("answered / abandoned", f"{f.answered} / {f.abandoned}"),
        ("wait avg / p95", f"{f.wait_avg_s} / {f.wait_p95_s} s"),
        ("idle while waiting: general pool", f"{f.idle_wait_general_pool_s} s"),
        ("idle while waiting: skills", json.dumps(f.idle_wait_by_skill_s)),
        ("AMI events, per second", f"{f.ami_events}, {f.ami_events_per_s}/s"),
        ("app CPU per 1,000 AMI events", f"{f.app_cpu_ms_per_1000_events} ms"),
        ("app / Asterisk CPU per call",
         f"{f.app_cpu_ms_per_call} / {f.asterisk_cpu_ms_per_call} ms"),
        ("route decision p50 / p99", f"{f.route_ms_p50} / {f.route_ms_p99} ms "
                                     f"({f.routed_calls} calls)"),
        ("AMI resync after the link is cut", f"{f.ami_resync_s} s"),
        ("wallboard = QueueSummary", f"{f.figures_equal_queue_summary}"
                                     + (f" ({'; '.join(f.mismatches[:3])})" if f.mismatches
                                        else "")),
    ]
    print("ivr bench scale: Beijing-size roster on the test bed")
    for name, value in rows:
        print(f"  {name:38} {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--operators", type=int, default=1700)
    parser.add_argument("--logged-in", type=int, default=700)
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="2 minutes")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="calls/s (default: ~85 %% of the logged-in operators busy)")
    parser.add_argument("--talk", type=float, default=0.0,
                        help="talk seconds (default: compressed to fit the run)")
    parser.add_argument("--patience", type=float, default=0.0,
                        help="longest a caller stays on the line (default: talk + 120 s)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.quick:
        args.minutes = 2.0
    # Talk compressed so a call's turn (talk + wrap-up + ring) fits a fifth of the run, and
    # arrivals keep 85 % of the logged-in operators busy; capped at what 2 cores can place.
    args.talk = args.talk or max(10.0, min(120.0, args.minutes * 60 / 5))
    args.rate = args.rate or min(8.0, round(0.85 * args.logged_in / (args.talk + 4.0), 2))
    args.patience = args.patience or args.talk + 120.0
    if os.geteuid() != 0:
        print("ivr bench scale drives the test bed: run it as root", file=sys.stderr)
        return 2
    try:
        figures = asyncio.run(run(args))
    except SystemExit as exc:
        print(f"ivr bench scale: {exc}", file=sys.stderr)
        return 1
    report(figures, args.json)
    return 0 if figures.sipp_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
