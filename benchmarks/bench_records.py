"""What giving every call its one final record costs: reading app_queue's queue_log, and
keeping writes durable while the database is away.

Run from the repository root::

    .venv/bin/ivr bench records [--json]

queue_log: a file of 1 MiB of realistic lines (each call: ENTERQUEUE, RINGNOANSWER, CONNECT,
COMPLETEAGENT, with member pauses between) is read by the reconciler's own pass
(``Reconciler._read``: reading and parsing ``READ_BYTES`` in a thread, then folding the
entries on the event loop); the figures are the whole pass (best of 5) and the part that
holds the loop (the pass less the thread's part, median of 5).

Pending writes: a store whose every write fails as an unreachable database does;
10,000 call-record saves go through ``PendingWrites`` as the call path makes them, and the
figures are the slowest and the 99th-percentile save, and how long after the last save every
write is fsynced in the spill file (``wait_durable``), with the number of appends made.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from ivr import settings
from ivr.calls import pending_writes
from ivr.calls.pending_writes import SPILL_FILE, PendingWrites
from ivr.calls.reconcile import READ_BYTES, Reconciler, _read_entries
from ivr.core.records import CallRecord
from ivr.edges.ami import AmiClient
from ivr.edges.clock import SYSTEM_CLOCK
from ivr.edges.storage.calls import CallRecords
from ivr.edges.storage.store import Store
from ivr.errors import StorageError


def queue_log(size: int) -> str:
    lines: list[str] = []
    n, at = 0, 1796298000
    while sum(len(x) + 1 for x in lines[-1:]) * len(lines) < size:
        uid = f"{at}.{n}"
        lines += [f"{at}|{uid}|water|NONE|ENTERQUEUE||1380013{n % 10000:04d}|1",
                  f"{at + 5}|{uid}|water|PJSIP/op1001|RINGNOANSWER|5000",
                  f"{at + 9}|{uid}|water|PJSIP/op1002|CONNECT|9|{uid}1|3",
                  f"{at + 70}|{uid}|water|PJSIP/op1002|COMPLETEAGENT|9|61|1",
                  f"{at + 71}|NONE|water|PJSIP/op1002|PAUSE|after-call"]
        n, at = n + 1, at + 3
    return "".join(x + "\n" for x in lines)


def best(runs: list[float]) -> float:
    return min(runs)


async def bench_queue_log(tmp: Path) -> dict[str, float]:
    path = tmp / "queue_log"
    text = queue_log(1 << 20)
    path.write_text(text)
    lines = text.splitlines()
    whole, folding = [], []
    for _ in range(5):
        r = Reconciler(cast(AmiClient, None), cast(CallRecords, None),
                       cast(PendingWrites, None), "bench", SYSTEM_CLOCK,
                       settings=dataclasses.replace(settings.load(), state_dir=tmp),
                       queue_log=path, state_dir=tmp)
        started = time.perf_counter()
        await r._read(path)
        whole.append(time.perf_counter() - started)
        started = time.perf_counter()
        _read_entries(path, 0, 0)  # the part of the pass that runs in the thread
        folding.append(whole[-1] - (time.perf_counter() - started))
    return {"lines": len(lines), "bytes": len(text), "read_bytes": READ_BYTES,
            "pass_ms": best(whole) * 1000, "loop_ms": max(0.0, statistics.median(folding)) * 1000}


class Down:
    """Every write fails the way a database that cannot be reached does."""

    def __getattr__(self, name: str) -> Any:
        return self

    async def save(self, record: object) -> None:
        raise StorageError("unreachable") from ConnectionRefusedError()

    async def delete_expired(self, at: object) -> None:
        raise StorageError("unreachable") from ConnectionRefusedError()


async def bench_outage(tmp: Path, writes_made: int) -> dict[str, float]:
    store = cast(Store, Down())
    appends = 0
    original = pending_writes._append

    def counted(path: Path, writes: list[Any]) -> None:
        nonlocal appends
        appends += 1
        original(path, writes)

    pending_writes._append = counted
    try:
        buffer = PendingWrites(store, tmp, first_try=0.3, min_backoff=1.0)
        durations = []
        for i in range(writes_made):
            record = CallRecord(f"c{i}", f"PJSIP/c-{i}", "13800138000", "zh",
                                "2026-12-03T12:00:00.000+00:00", outcome="routed")
            started = time.perf_counter()
            await buffer.save(record)
            durations.append(time.perf_counter() - started)
            if i % 50 == 0:
                await asyncio.sleep(0.001)  # calls arrive over time
        started = time.perf_counter()
        await buffer.wait_durable()
        durable = time.perf_counter() - started
        on_disk = len((tmp / SPILL_FILE).read_text().splitlines())
        await buffer.close(grace=0)
    finally:
        pending_writes._append = original
    rest = sorted(durations[1:])
    return {"writes": writes_made, "on_disk": on_disk, "appends": appends,
            "first_ms": durations[0] * 1000, "p99_ms": rest[int(len(rest) * 0.99)] * 1000,
            "max_ms": rest[-1] * 1000, "median_ms": statistics.median(rest) * 1000,
            "durable_after_last_ms": durable * 1000}


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--writes", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        log = await bench_queue_log(Path(d))
    with tempfile.TemporaryDirectory() as d:
        outage = await bench_outage(Path(d), args.writes)
    if args.json:
        print(json.dumps({"queue_log": log, "outage": outage}, indent=2))
        return 0
    print(f"queue_log pass ({log['read_bytes'] / 1024:.0f} KiB of a {log['bytes'] / 1e6:.1f} MB "
          f"file): {log['pass_ms']:.1f} ms, of which on the event loop (folding) about "
          f"{log['loop_ms']:.1f} ms")
    print(f"{outage['writes']:.0f} saves with the database unreachable: first "
          f"{outage['first_ms']:.1f} ms, median {outage['median_ms']:.3f} ms, p99 "
          f"{outage['p99_ms']:.3f} ms, max {outage['max_ms']:.1f} ms; all {outage['on_disk']:.0f} "
          f"fsynced {outage['durable_after_last_ms']:.0f} ms after the last, in "
          f"{outage['appends']:.0f} appends")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
