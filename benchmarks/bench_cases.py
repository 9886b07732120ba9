"""The loop's queries at a city's scale: the deadline watch, the department queue, the case
search and the monthly three-rates report over many cases.

Run from the repository root::

    .venv/bin/python benchmarks/bench_cases.py [--json] [--cases N] [--database-url URL]

Fills a fresh database (SQLite in a temporary directory by default) with ``--cases`` cases
(default 200,000: about three days of Beijing's ~65,000 a day) spread over the last 30 days
across the shipped departments and streets, in every state of the loop: a fifth still being
worked (some overdue, some nearly due), the rest resolved, visited (a few unreachable) or
closed; two in five name a street or town. Then times, 7 times each (after one warm-up), what
the running hotline does: one check of the deadline watch (reminders, escalation, the
wallboard's alerts), a department's work queue, the dispatch desk, a case search by caller and
by "overdue", the month's rates per department, one check of the
surge watch (the last hour against the same hour of 4 past weeks), and the likely duplicates
of a case. Rows are written in bulk through the store's own table definitions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ivr import settings as settings_module
from ivr.core.cases import case_number
from ivr.core.duplicates import likely_duplicates
from ivr.core.surges import SurgeRule, windows
from ivr.edges.storage import tables
from ivr.edges.storage.store import Store, open_store
from ivr.edges.storage.tables import local_text

TZ = ZoneInfo("Asia/Shanghai")
REPEATS = 7
BATCH = 5_000


def rows(count: int, now: datetime, departments: list[str], categories: list[str],
         rng: random.Random) -> list[dict[str, Any]]:
    cfg = settings_module.load()
    places = [d.id for d in cfg.departments.values() if d.kind == "street"]
    out = []
    per_day: dict[str, int] = {}
    for _ in range(count):
        created = now - timedelta(seconds=rng.uniform(0, 30 * 86_400))
        day = created.date().isoformat()
        per_day[day] = per_day.get(day, 0) + 1
        number = case_number(created.timetuple().tm_yday, created.year, per_day[day])
        category = rng.choice(categories)
        department = rng.choice(departments)
        urgency = "urgent" if rng.random() < 0.05 else "normal"
        due = cfg.deadlines.due(category, urgency, created)
        fate = rng.random()
        row: dict[str, Any] = {
            "number": number, "call_id": None, "caller": f"138{rng.randrange(10**8):08d}",
            "category": category, "department": department, "description": "",
            "created_at": local_text(created), "updated_at": local_text(created),
            "urgency": urgency, "dispatched_at": local_text(created),
            "respond_by": due.respond_by, "resolve_by": due.resolve_by,
            "remind_at": due.remind_at, "question": "", "reply": "", "returned_from": "",
            "return_reason": "", "visit_status": "", "visit_attempts": 0,
            # Two cases in five name a street or town (the surge signal counts those).
            "place": rng.choice(places) if rng.random() < 0.4 else "",
            "suggested_department": department, "suggestion_kept": int(rng.random() < 0.8),
            "suggestion_reason": "", "merged_into": "",
        }
        responded = created + timedelta(hours=rng.uniform(0.1, 30))
        if fate < 0.2:  # still being worked
            row["status"] = "in_progress" if rng.random() < 0.7 else "dispatched"
            if row["status"] == "in_progress":
                row["responded_at"] = local_text(min(responded, now))
        else:
            resolved = responded + timedelta(days=rng.uniform(0.1, 10))
            row.update(responded_at=local_text(responded), resolved_at=local_text(resolved),
                       reply="done")
            if fate < 0.3:
                row.update(status="resolved", visit_status="pending")
            elif fate < 0.33:
                row.update(status="resolved", visit_status="unreachable", visit_attempts=3)
            else:
                row.update(status="closed", visit_status="done", visit_attempts=1,
                           visit_resolved=int(rng.random() < 0.95),
                           visit_satisfaction=rng.choices([1, 2, 3], [90, 6, 4])[0])
        out.append(row)
    keys = set().union(*(r.keys() for r in out))
    return [{k: r.get(k) for k in keys} for r in out]


async def fill(store: Store, count: int, now: datetime) -> float:
    cfg = settings_module.load()
    rng = random.Random(12345)  # noqa: S311 - synthetic data, not secrets
    data = rows(count, now, list(cfg.departments), list(cfg.skills), rng)
    started = time.perf_counter()
    for i in range(0, len(data), BATCH):
        chunk = data[i:i + BATCH]
        await store.database.write(lambda conn, c=chunk: conn.execute(tables.cases.insert(), c))
    return time.perf_counter() - started


async def timed(action: Callable[[], Awaitable[object]]) -> dict[str, float]:
    await action()  # warm-up
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(samples), "max_ms": max(samples)}


async def run(count: int, url: str | None) -> dict[str, Any]:
    now = datetime.now(TZ)
    with tempfile.TemporaryDirectory(prefix="ivr-bench-cases-") as tmp:
        store = open_store(url or f"sqlite:///{Path(tmp) / 'cases.sqlite3'}", Path(tmp))
        await store.open()
        try:
            fill_s = await fill(store, count, now)
            cases = store.cases
            month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)

            sample = (await cases.search(limit=1))[0]

            async def near(c: Any) -> None:
                likely_duplicates(sample, await c.near(sample, timedelta(hours=48)))

            async def watch() -> None:
                await cases.remind(now)
                await cases.escalate(now, now)
                await cases.alerts(now, 20)

            figures = {
                "deadline watch (remind, escalate, alerts)": await timed(watch),
                "department queue (ecology)": await timed(
                    lambda: cases.of_department("ecology")),
                "dispatch desk": await timed(cases.for_centre),
                "search by caller prefix": await timed(
                    lambda: cases.search(caller="1380", limit=51)),
                "search overdue": await timed(
                    lambda: cases.search(overdue_at=now, limit=51)),
                "rates for the month": await timed(
                    lambda: cases.department_counts(month_start, now, now)),
                "surge check (last hour vs 4 weeks)": await timed(
                    lambda: cases.place_counts(windows(now, SurgeRule()))),
                "likely duplicates of a case (48 h)": await timed(lambda: near(cases)),
            }
            alerts = await cases.alerts(now, 20)
        finally:
            await store.close()
    return {
        "cases": count, "fill_seconds": round(fill_s, 1), "backend": url or "sqlite",
        "overdue_now": alerts.overdue, "python": platform.python_version(),
        "figures": {k: {m: round(v, 1) for m, v in f.items()} for k, f in figures.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    result = asyncio.run(run(args.cases, args.database_url))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['cases']:,} cases ({result['backend']}), filled in "
          f"{result['fill_seconds']} s; {result['overdue_now']:,} overdue now")
    print(f"{'query':<44} {'median ms':>10} {'max ms':>10}")
    for name, f in result["figures"].items():
        print(f"{name:<44} {f['median_ms']:>10.1f} {f['max_ms']:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
