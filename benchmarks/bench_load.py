"""Load against the test bed: real SIP calls through the IVR into a queue, side by side with a
plain-dialplan IVR doing the same menu (Background/WaitExten/Queue).

Run from the repository root, as root, with nothing else using the test bed::

    .venv/bin/ivr bench load [--json] [-- --rates 2,5,10 --seconds 10]

For each rate (new calls per second) and each IVR, SIPp places ``rate x seconds`` calls. Every
caller chooses Mandarin (1) 1 s after the answer, then inquiry (2) 1.5 s later, and hangs up
2 s after that, while waiting in the inquiry queue: what differs between the two IVRs is the
menu, not app_queue's ringing, which is the same for both. Measured per run:

* AMI events (and bytes) per call that Asterisk sends the application's AMI user, counted on
  a link of the benchmark's own as that user (the same event filter);

* failed calls (SIPp's count: any unexpected message, timeout or error);
* CPU per call of Asterisk and of the application (``ivr serve`` in its own process), from
  /proc, and their sum; the ratio application IVR / plain dialplan;
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
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from ivr import settings
from ivr.core.settings import Settings
from ivr.testbed.reference_ivr import REFERENCE_NUMBER
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import (
    HangUp,
    Phones,
    Press,
    Step,
    Wait,
    free_media_port,
    free_port,
    render_citizen,
)

STEPS: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("2"), Wait(2.0), HangUp()]
TICK = os.sysconf("SC_CLK_TCK")
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


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def asterisk_pid(box: Sandbox) -> int:
    """The test bed's Asterisk: the process named asterisk whose root is the sandbox."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if ((proc / "comm").read_text().strip() == "asterisk"
                    and os.readlink(proc / "root") == str(box.root)):
                return int(proc.name)
    raise SystemExit("the test bed's Asterisk is not running: `ivr sandbox up`")


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


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def scenario(phones: Phones, name: str) -> Path:
    """The caller's scenario; each call gets its own caller number from SIPp's call number."""
    work = phones.workdir / f"load-{name}"
    work.mkdir(parents=True, exist_ok=True)
    text = render_citizen("13900000000", "", STEPS, work, phones._inside(work))
    text = text.replace("13900000000", "1390[call_number]")
    path = work / "citizen.xml"
    path.write_text(text, encoding="utf-8")
    return path


def place(phones: Phones, path: Path, service: str, rate: float, calls: int) -> tuple[int, int]:
    cmd = phones._command(
        path, phones.sip, "-s", service, "-r", str(rate), "-m", str(calls),
        "-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1",
        "-mp", str(free_media_port()), "-timeout", "120s", "-nostdin",
    )
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False).stdout
    ok = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", out)
    bad = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", out)
    return (int(ok[-1]) if ok else 0), (int(bad[-1]) if bad else calls)


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


def one_run(box: Sandbox, phones: Phones, app_pid: int, ivr: str, *, rate: float,
            seconds: float, ami: AmiCounter) -> Run:
    number = REFERENCE_NUMBER if ivr == "dialplan" else box.settings.sip.service_number
    path = scenario(phones, ivr)
    calls = max(1, int(rate * seconds))
    log = box.root / "var/log/asterisk/messages.log"
    offset = log.stat().st_size
    ast = asterisk_pid(box)
    ast0, app0, t0 = cpu_seconds(ast), cpu_seconds(app_pid), time.monotonic()
    events0, bytes0 = ami.events, ami.bytes
    ok, failed = place(phones, path, number, rate, calls)
    time.sleep(1.0)  # the last calls' records and log lines
    ast1, app1, t1 = cpu_seconds(ast), cpu_seconds(app_pid), time.monotonic()
    to_menu, to_queue, peak = latencies(log, offset, number)
    app_cpu = (app1 - app0) if ivr == "application" else 0.0
    return Run(
        ivr=ivr, rate=rate, calls=ok + failed, failed=failed, seconds=round(t1 - t0, 1),
        asterisk_cpu_ms_per_call=round((ast1 - ast0) * 1000 / calls, 2),
        app_cpu_ms_per_call=round(app_cpu * 1000 / calls, 2),
        total_cpu_ms_per_call=round(((ast1 - ast0) + app_cpu) * 1000 / calls, 2),
        to_menu_ms_p50=round(statistics.median(to_menu), 1) if to_menu else -1.0,
        to_queue_ms_p50=round(statistics.median(to_queue), 1) if to_queue else -1.0,
        concurrent_peak=peak,
        ami_events_per_call=round((ami.events - events0) / calls, 1),
        ami_bytes_per_call=round((ami.bytes - bytes0) / calls),
    )


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
    args = parser.parse_args()
    if args.ramp:
        start, step, top = (float(x) for x in args.ramp.split(","))
        if start <= 0 or step <= 0 or top < start:
            parser.error("--ramp START,STEP,MAX: positive, START <= MAX")
        rates = [start + n * step for n in range(int((top - start) / step + 1e-9) + 1)]
    else:
        rates = [float(r) for r in args.rates.split(",") if r]
    cfg = settings.load()
    if os.geteuid() != 0:
        print("ivr bench load drives the test bed: run it as root", file=sys.stderr)
        return 2
    box = Sandbox(cfg)
    box.up()  # renders the reference IVR into the test bed's dialplan too
    if port_open(cfg.agi.port):
        print(f"something already listens on FastAGI port {cfg.agi.port}: stop it first "
              "(the benchmark measures its own `ivr serve`)", file=sys.stderr)
        return 2
    # The application's log, for when it fails under load.
    serve_log = Path(tempfile.gettempdir()) / "bench-load-serve.log"
    with serve_log.open("wb") as out:
        app = subprocess.Popen([sys.executable, "-m", "ivr", "serve"],
                               stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(150):
            if port_open(cfg.agi.port):
                break
            time.sleep(0.1)
        time.sleep(1.0)
        phones = Phones(box.root, cfg.sip.host, cfg.sip.port)
        ami = AmiCounter(cfg)
        runs = []
        try:
            for rate in rates:
                for ivr in ("dialplan", "application"):
                    runs.append(one_run(box, phones, app.pid, ivr, rate=rate,
                                        seconds=args.seconds, ami=ami))
                    time.sleep(2.0)
                if args.ramp and runs[-1].failed:
                    break  # the first failure: the ramp's answer
        finally:
            ami.close()
    finally:
        app.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            app.wait(15)
        if app.poll() is None:
            app.kill()
    report(runs, args.json)
    return 0 if all(r.failed == 0 for r in runs) else 1


def report(runs: list[Run], as_json: bool) -> None:
    pairs = []
    for rate in sorted({r.rate for r in runs}):
        plain = next(r for r in runs if r.rate == rate and r.ivr == "dialplan")
        app = next(r for r in runs if r.rate == rate and r.ivr == "application")
        pairs.append({
            "rate": rate,
            "cpu_ratio": round(app.total_cpu_ms_per_call / plain.total_cpu_ms_per_call, 2)
            if plain.total_cpu_ms_per_call else None,
            "added_ms_language_step": round(app.to_menu_ms_p50 - plain.to_menu_ms_p50, 1),
            "added_ms_menu_step": round(
                (app.to_queue_ms_p50 - plain.to_queue_ms_p50)
                - (app.to_menu_ms_p50 - plain.to_menu_ms_p50), 1),
        })
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
    print(f"{'ivr':12} {'cps':>5} {'calls':>6} {'failed':>6} {'peak up':>8} "
          f"{'Asterisk ms/call':>17} {'app ms/call':>12} {'total ms/call':>14} "
          f"{'to menu ms':>11} {'to queue ms':>12} {'AMI events/call':>16}")
    for r in runs:
        print(f"{r.ivr:12} {r.rate:5g} {r.calls:6d} {r.failed:6d} {r.concurrent_peak:8d} "
              f"{r.asterisk_cpu_ms_per_call:17.2f} {r.app_cpu_ms_per_call:12.2f} "
              f"{r.total_cpu_ms_per_call:14.2f} {r.to_menu_ms_p50:11.1f} "
              f"{r.to_queue_ms_p50:12.1f} {r.ami_events_per_call:16.1f}")
    print("\nside by side (application / plain dialplan, same run):")
    for p in pairs:
        print(f"  {p['rate']:g} cps: CPU per call x{p['cpu_ratio']}, added latency: language "
              f"step {p['added_ms_language_step']} ms, main-menu step "
              f"{p['added_ms_menu_step']} ms")
    print(f"\nsustained with zero failed calls: {sustained:g} new calls/s")


if __name__ == "__main__":
    sys.exit(main())
