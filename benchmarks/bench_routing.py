"""Routing decision latency at Beijing's size: ``plan_call``, the decision every live call runs.

Run from the repository root::

    .venv/bin/python benchmarks/bench_routing.py [--json] [--seed N] [--rounds N]

Builds a roster of 1,700 operators (1-3 skills each, levels 1-5) over two dozen skills once,
as the AGI driver does per configuration (``Roster.build``, timed), then plans 1,000 calls per
round with mixed skills, languages, urgencies, repeat callers (some of whose previous operator
is free) and queue loads, exactly as a live call's route step calls it: facts, roster, the
queue's live load and the routing policy in, the plan (queue, priority, stages, announcement,
reasons) out. What the route step also does (reading the caller's history, setting the
channel variables) is measured end to end by ``ivr bench agi``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, field

from ivr.core.routing import (
    OpenCase,
    QueueLoad,
    Roster,
    RoutingFacts,
    RoutingPolicy,
    Urgency,
    plan_call,
)

OPERATORS = 1_700
CALLS = 1_000
SKILLS = ["hotline", "report", "inquiry", "case_status", "suggestion"] + [
    f"dept{n:02d}" for n in range(1, 20)
]


@dataclass(frozen=True, slots=True)
class Figures:
    """Latency figures of one step, in microseconds."""

    samples: int
    mean_us: float
    p50_us: float
    p99_us: float


@dataclass(frozen=True, slots=True)
class _Operator:
    id: str
    skills: dict[str, int] = field(default_factory=dict)


def build_roster(rng: random.Random) -> list[_Operator]:
    """1,700 operators with 1-3 skills each at levels 1-5."""
    return [
        _Operator(f"op{10_000 + n}",
                  {s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(1, 3))})
        for n in range(OPERATORS)
    ]


def build_calls(rng: random.Random) -> list[tuple[RoutingFacts, QueueLoad]]:
    """1,000 calls: some urgent, 20% repeat callers, loads from quiet to a long line."""
    calls = []
    for n in range(CALLS):
        repeat = rng.random() < 0.2
        facts = RoutingFacts(
            skill=rng.choice([*SKILLS, "unknown"]),
            language="en" if rng.random() < 0.05 else "zh",
            flow_node="route", flow_priority=rng.choice([3, 5, 5, 5, 6]),
            urgency=rng.choices(list(Urgency), weights=[90, 8, 2])[0],
            evidence="words",
            open_case=OpenCase(f"{6_352_000_000 + n}", "inquiry", "new",
                               f"op{10_000 + rng.randrange(OPERATORS)}",
                               operator_free=rng.random() < 0.3) if repeat else None,
        )
        load = QueueLoad(waiting=rng.randint(0, 40), available=rng.randint(0, 3),
                         staffed=rng.randint(0, 60),
                         average_handle=rng.choice([None, 240.0, 310.0]))
        calls.append((facts, load))
    return calls


def figures(samples_ns: list[int]) -> Figures:
    """Mean, median and 99th percentile of nanosecond samples, in microseconds."""
    ordered = sorted(samples_ns)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Figures(
        samples=len(ordered),
        mean_us=statistics.fmean(ordered) / 1_000,
        p50_us=statistics.median(ordered) / 1_000,
        p99_us=p99 / 1_000,
    )


def run(seed: int, rounds: int) -> dict[str, object]:
    """Build the roster ``rounds`` times and plan every call once per round."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    policy = RoutingPolicy()
    operators = build_roster(rng)
    calls = build_calls(rng)
    build_ns: list[int] = []
    plan_ns: list[int] = []
    announced = 0
    for _ in range(rounds):
        start = time.perf_counter_ns()
        roster = Roster.build([*SKILLS], "hotline", ["zh", "en"], operators)
        build_ns.append(time.perf_counter_ns() - start)
        for facts, load in calls:
            start = time.perf_counter_ns()
            plan = plan_call(facts, roster, load, policy)
            plan_ns.append(time.perf_counter_ns() - start)
            announced += plan.announcement is not None
    return {
        "operators": OPERATORS,
        "calls": CALLS,
        "skills": len(SKILLS),
        "rounds": rounds,
        "plans_with_an_announcement": announced,
        "python": platform.python_version(),
        "plan_call": figures(plan_ns),
        "roster_build": figures(build_ns),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures as a table, or as JSON with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.seed, args.rounds)
    if args.json:
        print(json.dumps(result, default=lambda f: {k: getattr(f, k) for k in Figures.__slots__},
                         indent=2))
        return 0
    print(f"routing decision (plan_call): {OPERATORS} operators, {CALLS} calls, "
          f"{len(SKILLS)} skills, {args.rounds} rounds, Python {result['python']}")
    print(f"{'step':<34}{'samples':>9}{'mean us':>10}{'p50 us':>10}{'p99 us':>10}")
    for label, key in [("plan_call (one call's plan)", "plan_call"),
                       ("Roster.build (per configuration)", "roster_build")]:
        f = result[key]
        if not isinstance(f, Figures):
            raise TypeError(key)
        print(f"{label:<34}{f.samples:>9}{f.mean_us:>10.1f}{f.p50_us:>10.1f}{f.p99_us:>10.1f}")
    print(f"{result['plans_with_an_announcement']} plans announced a place in line")
    return 0


if __name__ == "__main__":
    sys.exit(main())
