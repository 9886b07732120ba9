"""What the benchmarks on the test bed share (``bench_load``, ``bench_scale``): the processes'
CPU from /proc, the application's CPU split by what its threads do, ``ivr serve`` in its own
process, operators logged in through the API with SIPp phones answering for them, and a
configuration of the benchmark's own (a roster imported into a copy of config/).

The application's CPU split (``AppCpu``): the kernel counts CPU per thread
(``/proc/<pid>/task/<tid>/stat``) and knows the threads by the names ``ivr.edges.threads``
gives them (``/proc/<pid>/task/<tid>/comm``): ``ivr-store`` for the database's workers,
``ivr-speech`` for the speech decoders. The event loop is the main thread (tid = pid); the
part of it spent reading the AMI link (parsing, each event's handlers) is the application's
own counter ``ivr_ami_event_cpu_seconds_total`` on /metrics, measured on that thread. What is
left on the loop is the FastAGI sessions, the flow, routing and the rest (timers, logging,
the loop's side of handing work to the store). "Other" is the whole process
(``/proc/<pid>/stat``, exited threads included) less the threads named above.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ivr import settings
from ivr.accounts.service import create_account
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.edges.storage.store import open_store
from ivr.edges.threads import SPEECH, STORE
from ivr.operators.roster import REQUIRED, import_roster
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import OperatorPhone, Phones

TICK = os.sysconf("SC_CLK_TCK")
AMI_CPU_METRIC = "ivr_ami_event_cpu_seconds_total"


# ---------------------------------------------------------------- CPU from /proc


def _stat(path: Path) -> tuple[str, float]:
    """A process's or thread's name and CPU seconds (user + system) from its ``stat``."""
    text = path.read_text()
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return name, (int(fields[11]) + int(fields[12])) / TICK


def cpu_seconds(pid: int) -> float:
    """The whole process's CPU seconds, every thread it ever had."""
    return _stat(Path(f"/proc/{pid}/stat"))[1]


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of the process's live threads by kind: ``loop`` (the main thread), and
    each kernel thread name otherwise (threads of one name summed)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name, cpu = _stat(task / "stat")
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
        kind = "loop" if task.name == str(pid) else name
        out[kind] = out.get(kind, 0.0) + cpu
    return out


def sample(text: str, name: str) -> float | None:
    """One unlabelled sample of a /metrics text; None when it has none of that name."""
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def metric(url: str, name: str) -> float:
    """One unlabelled sample of the /metrics text at ``url``."""
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback http
        value = sample(answer.read().decode(), name)
    if value is None:
        raise SystemExit(f"{url} has no {name}")
    return value


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (``ivr serve``'s FastAGI worker processes)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        with contextlib.suppress(OSError):
            todo += [int(c) for c in
                     Path(f"/proc/{current}/task/{current}/children").read_text().split()]
    return out


@dataclass(frozen=True, slots=True)
class AppCpu:
    """The application's CPU seconds (so far, or over a run: ``after - before``), summed over
    ``ivr serve`` and its worker processes (``[agi] workers``), each of which has its own
    /metrics."""

    total: float
    loop: float
    store: float
    speech: float
    ami: float

    @classmethod
    def read(cls, pid: int, metrics_urls: list[str]) -> AppCpu:
        """Now. The scrapes run first, so their own cost falls before a run's start (read at
        its end, call ``read_after``)."""
        ami = sum(metric(url, AMI_CPU_METRIC) for url in metrics_urls)
        return cls._of(pid, ami)

    @classmethod
    def read_after(cls, pid: int, metrics_urls: list[str]) -> AppCpu:
        """Now, the scrapes last (their cost after a run's end)."""
        cpu = cls._of(pid, 0.0)
        ami = sum(metric(url, AMI_CPU_METRIC) for url in metrics_urls)
        return AppCpu(cpu.total, cpu.loop, cpu.store, cpu.speech, ami)

    @classmethod
    def _of(cls, pid: int, ami: float) -> AppCpu:
        parts = [cls._one(p) for p in process_tree(pid)]
        return cls(total=sum(p.total for p in parts), loop=sum(p.loop for p in parts),
                   store=sum(p.store for p in parts), speech=sum(p.speech for p in parts),
                   ami=ami)

    @classmethod
    def _one(cls, pid: int) -> AppCpu:
        try:
            threads, total = thread_cpu(pid), cpu_seconds(pid)
        except OSError:  # the process ended meanwhile
            return cls(0.0, 0.0, 0.0, 0.0, 0.0)
        return cls(total=total, loop=threads.get("loop", 0.0),
                   store=threads.get(STORE, 0.0), speech=threads.get(SPEECH, 0.0), ami=0.0)

    def __sub__(self, before: AppCpu) -> AppCpu:
        return AppCpu(self.total - before.total, self.loop - before.loop,
                      self.store - before.store, self.speech - before.speech,
                      self.ami - before.ami)

    @property
    def agi(self) -> float:
        """The loop less its AMI part: FastAGI sessions, flow, routing, the rest of the loop."""
        return self.loop - self.ami

    @property
    def other(self) -> float:
        return self.total - self.loop - self.store - self.speech

    def per_call_ms(self, calls: int) -> dict[str, float]:
        """The split in ms per call: agi, ami, storage, speech, other threads."""
        parts = {"agi": self.agi, "ami": self.ami, "storage": self.store,
                 "speech": self.speech, "other": self.other}
        return {k: round(v * 1000 / max(1, calls), 2) for k, v in parts.items()}


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


# ---------------------------------------------------------------- small helpers


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def lines_of(log: Path, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``event`` in the application's log."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if f'"{event}"' in line:
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
    return out


def sipp_counts(output: str, calls: int) -> tuple[int, int]:
    """Successful and failed calls from SIPp's final statistics (all failed if none)."""
    good = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", output)
    bad = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return (int(good[-1]) if good else 0), (int(bad[-1]) if bad else calls)


# ---------------------------------------------------------------- ivr serve


def start_serve(log: Path) -> subprocess.Popen[bytes]:
    """``ivr serve`` in its own process (the settings from the environment: with ``[agi]
    workers`` above 1 it starts its worker processes), logging to ``log``."""
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "ivr", "serve"], stdout=sink,
                                stderr=subprocess.STDOUT)


def stop_serve(app: subprocess.Popen[bytes], wait: float = 20.0) -> None:
    app.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        app.wait(wait)
    if app.poll() is None:
        app.kill()
        app.wait()


async def wait_listening(*ports: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not all(port_open(p) for p in ports):
        if time.monotonic() > deadline:
            raise SystemExit(f"ivr serve did not listen on {ports} within {seconds:g} s")
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- a configuration of its own


def config_with_roster(base: Settings, work: Path, roster: str | None) -> Settings:
    """A copy of config/ with ``roster`` (CSV) imported (None: the shipped operators), its own
    state directory and SQLite database under ``work``; the environment points ``ivr serve``
    there (``restore`` undoes it)."""
    config = work / "config"
    shutil.copytree(base.project_dir / "config", config)
    report = import_roster(base, config, roster) if roster is not None else None
    if report is not None and report.problems:
        raise SystemExit("the roster does not import: "
                         + "; ".join(map(str, report.problems[:5])))
    os.environ["IVR_CONFIG_DIR"] = str(config)
    os.environ["IVR_STATE_DIR"] = str(work / "state")
    os.environ["IVR_DATABASE_URL"] = f"sqlite:///{work / 'calls.sqlite3'}"
    return settings.load(config, project_dir=base.project_dir)


def with_workers(cfg: Settings, workers: int, database: str) -> Settings:
    """``cfg``'s configuration directory (a copy of the benchmark's own) with ``[agi]
    workers`` set, on the PostgreSQL ``database``; the environment points ``ivr serve`` there."""
    config = Path(os.environ["IVR_CONFIG_DIR"])
    toml = config / "ivr.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(re.sub(r"(?m)^workers = \d+", f"workers = {workers}", text, count=1),
                    encoding="utf-8")
    os.environ["IVR_DATABASE_URL"] = database
    return settings.load(config, project_dir=cfg.project_dir)


async def clear_queue_members(cfg: Settings) -> int:
    """Every dynamic queue member taken out (operators left logged in by tests or an earlier
    run): both IVRs start from the same queues. Returns how many were removed."""
    ami = AmiClient(cfg.ami)
    await ami.start(wait=10)
    try:
        members = await ami.action("QueueStatus", as_list=True, timeout=10)
        stale = [(m["Queue"], m["Location"]) for m in members
                 if m.get("Event") == "QueueMember" and m.get("Membership") == "dynamic"]
        for queue, location in stale:
            await ami.action("QueueRemove", {"Queue": queue, "Interface": location})
    finally:
        await ami.close()
    return len(stale)


def restore_testbed() -> None:
    """The environment and the test bed back to the shipped configuration."""
    for name in ("IVR_CONFIG_DIR", "IVR_STATE_DIR", "IVR_DATABASE_URL"):
        os.environ.pop(name, None)
    Sandbox(settings.load()).up()


def answering_roster(count: int, skill: str, languages: list[str], *, phones: int,
                     first_port: int = 6000, first_id: int = 3001) -> str:
    """A CSV roster of ``count`` operators holding ``skill`` at level 5 (no level gating: a
    skill queue rings them all at once), their contacts spread over ``phones`` answering
    phones at ``first_port``..."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*REQUIRED, "contact"])
    for i in range(count):
        oid = f"op{first_id + i}"
        writer.writerow([oid, f"Bench {oid}", ";".join(languages), f"{skill}:5",
                         f"sip:{oid}@127.0.0.1:{first_port + i % phones}"])
    return out.getvalue()


def answering_phones(phones: Phones, count: int, *, talk: float, ring: float = 0.3,
                     first_port: int = 6000) -> list[OperatorPhone]:
    """SIPp phones at ``first_port``..., each answering for every operator whose contact is
    on its port, talking ``talk`` s."""
    return [OperatorPhone(phones, f"gw{first_port + i}", first_port + i, ring=ring, talk=talk)
            for i in range(count)]


async def admin_password(cfg: Settings) -> str:
    """An admin account of the benchmark's own in ``cfg``'s database; its password."""
    store = open_store(cfg.database_url, cfg.state_dir)
    await store.open()
    try:
        _, password = await create_account(store.users, "bench-admin", "admin")
    finally:
        await store.close()
    return password


class Session:
    """A logged-in web session (the API with its CSRF token)."""

    def __init__(self, base: str) -> None:
        self.base = base
        # The session cookie is set for 127.0.0.1: an IP address needs the unsafe jar.
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, username: str, password: str) -> None:
        async with self.http.post(f"{self.base}/login",
                                  json={"username": username, "password": password}) as r:
            r.raise_for_status()
            self.csrf = (await r.json())["csrf"]

    async def post(self, path: str, body: dict[str, Any] | None = None) -> int:
        async with self.http.post(f"{self.base}{path}", json=body or {},
                                  headers={"X-CSRF-Token": self.csrf}) as r:
            await r.read()
            return r.status

    async def get(self, path: str) -> Any:
        async with self.http.get(f"{self.base}{path}") as r:
            r.raise_for_status()
            return await r.json()

    async def close(self) -> None:
        await self.http.close()


@dataclass
class Logins:
    """What logging operators in cost the server."""

    count: int = 0
    wall_s: float = 0.0
    server_cpu_ms: float = 0.0
    healthz_ms: dict[str, float] = field(default_factory=dict)


async def log_in_operators(session: Session, ids: list[str], app_pid: int, *,
                           unpause: bool = True) -> Logins:
    """Log ``ids`` in one after another (then unpause them) while ``/healthz`` is asked
    every 50 ms: the server's CPU per login and ``/healthz`` latency meanwhile."""
    latencies: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            t = time.perf_counter()
            async with session.http.get(f"{session.base}/healthz") as r:
                await r.read()
            latencies.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(0.05)

    prober = asyncio.create_task(probe())
    cpu0, t0 = cpu_seconds(app_pid), time.monotonic()
    for op in ids:
        status = await session.post(f"/api/operators/{op}/login")
        if status != 200:
            raise SystemExit(f"login of {op} answered {status}")
    out = Logins(count=len(ids), wall_s=round(time.monotonic() - t0, 1),
                 server_cpu_ms=round((cpu_seconds(app_pid) - cpu0) * 1000 / max(1, len(ids)),
                                     2))
    done.set()
    await prober
    out.healthz_ms = {
        "p50": round(statistics.median(latencies), 1) if latencies else -1.0,
        "p90": round(percentile(latencies, 0.9) or -1.0, 1),
        "max": round(max(latencies, default=-1.0), 1),
    }
    if unpause:
        for op in ids:
            await session.post(f"/api/operators/{op}/unpause")
    return out


async def log_out_operators(session: Session, ids: list[str]) -> None:
    """Their queue memberships removed from Asterisk, so the test bed is left as found."""
    for op in ids:
        with contextlib.suppress(aiohttp.ClientError):
            await session.post(f"/api/operators/{op}/logout")
