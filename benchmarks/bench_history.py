"""The caller-history reads of a live call with Beijing's years of history in the database.

Run from the repository root::

    .venv/bin/python benchmarks/bench_history.py [--json] [--calls 5000000] [--cases 1000000]
        [--lookups 2000] [--dir DIR]

Fills an SQLite database with ``--calls`` call records and
``--cases`` cases over 2 million callers (a few very frequent ones: a tenth of the callers
make half the calls), built through the store's migrations and bulk-inserted. The database
file is kept in ``--dir`` (default ``$TMPDIR/ivr-bench-history``) and reused when it has the
size asked for. Then, for ``--lookups`` callers (half with history, a quarter of those with an
open case, a quarter never seen), it times exactly what a live call runs, on the real
``CallHandler`` (``bench_agi.build_handler``, the composition ``ivr run`` uses):

* the arrival read: ``CallHandler.caller_facts`` (the caller's cases and whether they called
  before), once per call before the first menu;
* the route step: ``CallHandler.plan_route`` (who handled the open case, then
  ``plan_call`` with the shipped routing policy): the ``route_ms`` a live call logs.

Figures: p50 / p99 / max in milliseconds, and the rows read per lookup do not grow with the
table (``EXPLAIN QUERY PLAN`` shows an index search).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_agi import bench_settings, build_handler, percentile
from ivr.core.flow.engine import RouteToQueue
from ivr.core.records import CallRecord
from ivr.edges.storage.store import open_store

CALLERS = 2_000_000
START = datetime(2022, 1, 1, tzinfo=UTC)
SPAN_DAYS = 4 * 365
BATCH = 50_000
ROUTE = RouteToQueue("inquiry", 5)  # the shipped flow's key 2
STATUSES = ["resolved"] * 17 + ["dispatched", "processing", "responded"]


def caller_of(rng: random.Random) -> str:
    """A caller: a tenth of them (the frequent ones) make half the calls."""
    n = rng.randrange(CALLERS // 10) if rng.random() < 0.5 else rng.randrange(CALLERS)
    return f"139{n:08d}"


def moment(rng: random.Random) -> str:
    at = START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86_400))
    return at.isoformat(timespec="milliseconds")


def call_rows(count: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    for n in range(count):
        yield (f"h{n}", f"PJSIP/citizens-{n:08x}", caller_of(rng), "zh", moment(rng),
               "routed", "[]", "inquiry", 5, "{}", "[]", f"op{1000 + rng.randrange(1700)}",
               40.0, 180.0, "[]")


def case_rows(count: int, calls: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    for n in range(count):
        at = moment(rng)
        yield (f"9{n:09d}", f"h{rng.randrange(calls)}", caller_of(rng), "housing", "Housing",
               "a leaking pipe", rng.choice(STATUSES), at, at)


def fill_sqlite(path: Path, calls: int, cases: int, seed: int) -> None:
    """Bulk rows into the migrated file (blocking: run in a thread)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    insert_call = ("INSERT INTO calls (call_id, channel, caller, language, arrived_at, outcome,"
                   " path, queue, priority, variables, route_reasons, operator, wait_seconds,"
                   " talk_seconds, queue_outcome) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
    insert_case = ("INSERT INTO cases (number, call_id, caller, category, department,"
                   " description, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)")
    for sql, rows in ((insert_call, call_rows(calls, rng)),
                      (insert_case, case_rows(cases, calls, rng))):
        batch: list[tuple[object, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                db.executemany(sql, batch)
                db.commit()
                batch.clear()
        db.executemany(sql, batch)
        db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()


def counts(path: Path) -> tuple[int, int]:
    db = sqlite3.connect(path)
    try:
        return (db.execute("SELECT COUNT(*) FROM calls").fetchone()[0],
                db.execute("SELECT COUNT(*) FROM cases").fetchone()[0])
    except sqlite3.Error:
        return 0, 0
    finally:
        db.close()


def plans(path: Path) -> list[str]:
    """How SQLite answers the call path's history queries (index searches, not scans)."""
    db = sqlite3.connect(path)
    try:
        queries = [
            "SELECT * FROM cases WHERE caller = '13900000001' ORDER BY created_at, number",
            "SELECT * FROM calls WHERE caller = '13900000001' ORDER BY arrived_at DESC LIMIT 2",
            "SELECT * FROM calls WHERE call_id = 'h1'",
        ]
        return [" | ".join(str(r[-1]) for r in db.execute(f"EXPLAIN QUERY PLAN {q}"))
                for q in queries]
    finally:
        db.close()


def open_case_callers(path: Path, count: int, seed: int) -> list[str]:
    """Callers with a case still open (repeat callers: the route step reads their operator)."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT caller FROM cases WHERE status != 'resolved' LIMIT ?",
                          (count,)).fetchall()
    finally:
        db.close()
    callers = [r[0] for r in rows]
    random.Random(seed).shuffle(callers)  # noqa: S311 - reproducible test data
    return callers[:count]


def figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(percentile(ordered, 0.5) * 1000, 3),
            "p99_ms": round(percentile(ordered, 0.99) * 1000, 3),
            "max_ms": round(ordered[-1] * 1000, 3) if ordered else 0.0}


async def measure(database_url: str, state_dir: Path, lookups: int, seed: int,
                  repeat_callers: list[str]) -> dict[str, object]:
    cfg = dataclasses.replace(bench_settings(state_dir), database_url=database_url)
    handler, store, writes = await build_handler(cfg)
    rng = random.Random(seed + 1)  # noqa: S311 - reproducible test data, not a secret
    arrival: list[float] = []
    route: list[float] = []
    with_open = repeat = 0
    try:
        for n in range(lookups):
            caller = (f"138{n:08d}" if n % 4 == 0  # a quarter never seen
                      else repeat_callers[n % len(repeat_callers)]
                      if n % 4 == 1 and repeat_callers else caller_of(rng))
            record = CallRecord(call_id=f"bench{n}", channel="PJSIP/bench", caller=caller,
                                language="zh", arrived_at=datetime.now(UTC).isoformat())
            start = time.perf_counter()
            _facts, history = await handler.caller_facts(record)
            arrival.append(time.perf_counter() - start)
            start = time.perf_counter()
            plan = await handler.plan_route(record, ROUTE, "route_inquiry", history)
            route.append(time.perf_counter() - start)
            with_open += history.open_case is not None
            repeat += any("open case" in reason for reason in plan.reasons)
    finally:
        await writes.close()
        await store.close()
    return {"lookups": lookups, "with_an_open_case": with_open,
            "plans_naming_the_open_case": repeat,
            "arrival_read": figures(arrival), "route_step": figures(route)}


def prepare(args: argparse.Namespace) -> tuple[Path, Path, float]:
    """The database file with the history asked for (built once, then reused)."""
    root = Path(args.dir or Path(tempfile.gettempdir()) / "ivr-bench-history")
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"history-{args.calls}-{args.cases}.sqlite3"
    if counts(path) == (args.calls, args.cases):
        return root, path, 0.0
    with contextlib.suppress(FileNotFoundError):
        path.unlink()

    async def migrate() -> None:  # the schema live calls read, through the store
        store = open_store(f"sqlite:///{path}", root)
        await store.open()
        await store.close()
    asyncio.run(migrate())
    started = time.perf_counter()
    fill_sqlite(path, args.calls, args.cases, args.seed)
    return root, path, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--calls", type=int, default=5_000_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--dir", default="")
    args = parser.parse_args(argv)
    root, path, filled_s = prepare(args)
    result: dict[str, object] = {
        "database": "sqlite", "calls": args.calls, "cases": args.cases,
        "file_mib": round(path.stat().st_size / 2**20), "filled_in_s": round(filled_s, 1),
        "query_plans": plans(path),
        **asyncio.run(measure(f"sqlite:///{path}", root, args.lookups, args.seed,
                              open_case_callers(path, args.lookups // 4, args.seed))),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"caller history: {result['calls']:,} calls, {result['cases']:,} cases "
          f"({result['database']}, {result['file_mib']} MiB"
          + (f", filled in {result['filled_in_s']} s" if result["filled_in_s"] else "") + ")")
    print(f"{'step':<44}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for label, key in [("arrival read (caller_facts)", "arrival_read"),
                       ("route step (plan_route)", "route_step")]:
        f = result[key]
        if not isinstance(f, dict):
            raise TypeError(key)
        print(f"{label:<44}{f['p50_ms']:>9}{f['p99_ms']:>9}{f['max_ms']:>9}")
    print(f"{result['lookups']} lookups, {result['with_an_open_case']} with an open case, "
          f"{result['plans_naming_the_open_case']} plans naming it")
    for line in plans(path):
        print(f"  plan: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
