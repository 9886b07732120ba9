"""Routing decision latency at Beijing's peak: the incremental index against a full scan.

Run from the repository root::

    .venv/bin/python benchmarks/bench_routing.py [--json] [--seed N] [--rounds N]

Builds 1,700 operators (about 650 on duty, most of them on a call, as at a peak) over two
dozen skills, and 1,000 waiting calls with mixed skills, languages, urgencies, waits and
repeat callers. Each round decides every waiting call twice, on the same states: once with
the ``OperatorIndex`` and once by scanning all operators, then churns the states through
``OperatorIndex.apply`` (calls ending and starting) and times those changes too. Both
methods are measured in the same process and run, so the ratio is meaningful here even if
the absolute figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass

from ivr.core.routing import (
    OpenCase,
    OperatorIndex,
    OperatorState,
    OperatorStateChanged,
    OperatorStatus,
    RoutingFacts,
    RoutingPolicy,
    Urgency,
    decide,
)

OPERATORS = 1_700
ON_DUTY = 650
AVAILABLE_AT_PEAK = 40
PAUSED_AT_PEAK = 25
WAITING_CALLS = 1_000
SKILLS = ["general", "report", "inquiry", "case_status", "suggestion"] + [
    f"dept{n:02d}" for n in range(1, 20)
]
DEPARTMENTS = [f"Office {n}" for n in range(1, 17)]


@dataclass(frozen=True, slots=True)
class Figures:
    """Latency figures of one method, in microseconds."""

    samples: int
    mean_us: float
    p50_us: float
    p99_us: float


def build_operators(rng: random.Random, now: float) -> list[OperatorStatus]:
    """1,700 operators, 650 on duty: a few available, some paused, the rest busy."""
    on_duty = set(rng.sample(range(OPERATORS), ON_DUTY))
    duty_order = rng.sample(sorted(on_duty), ON_DUTY)
    available = set(duty_order[:AVAILABLE_AT_PEAK])
    paused = set(duty_order[AVAILABLE_AT_PEAK : AVAILABLE_AT_PEAK + PAUSED_AT_PEAK])
    statuses = []
    for n in range(OPERATORS):
        skills = {s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(1, 3))}
        languages = frozenset({"zh", "en"}) if rng.random() < 0.1 else frozenset({"zh"})
        if n not in on_duty:
            state, reason = OperatorState.LOGGED_OUT, None
        elif n in available:
            state, reason = OperatorState.AVAILABLE, None
        elif n in paused:
            state, reason = OperatorState.PAUSED, "break"
        else:
            state, reason = rng.choice([OperatorState.ON_CALL, OperatorState.WRAP_UP]), None
        statuses.append(
            OperatorStatus(
                operator_id=f"op{10_000 + n}",
                state=state,
                since=now - rng.uniform(0, 600),
                skills=skills,
                languages=languages,
                department=rng.choice(DEPARTMENTS),
                calls_handled=rng.randint(0, 60),
                pause_reason=reason,
            )
        )
    return statuses


def build_calls(rng: random.Random, now: float) -> list[RoutingFacts]:
    """1,000 waiting calls: waits up to 5 minutes, some urgent, some repeat callers."""
    calls = []
    for n in range(WAITING_CALLS):
        repeat = rng.random() < 0.2
        calls.append(
            RoutingFacts(
                call_id=f"call{n}",
                skill=rng.choice(SKILLS),
                language="en" if rng.random() < 0.05 else "zh",
                arrived_at=now - rng.uniform(0, 300),
                caller_number=f"138{n:08d}",
                urgency=rng.choices(list(Urgency), weights=[90, 8, 2])[0],
                open_case=OpenCase(
                    f"2026-{n:06d}",
                    rng.choice(DEPARTMENTS),
                    f"op{10_000 + rng.randrange(OPERATORS)}",
                )
                if repeat
                else None,
            )
        )
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


def churn(
    rng: random.Random, index: OperatorIndex, on_duty: list[str], clock: float, changes: int
) -> list[int]:
    """Apply ``changes`` realistic state changes; return each one's time in nanoseconds."""
    timings = []
    cycle = {
        OperatorState.AVAILABLE: OperatorState.ON_CALL,
        OperatorState.ON_CALL: OperatorState.WRAP_UP,
        OperatorState.WRAP_UP: OperatorState.AVAILABLE,
        OperatorState.PAUSED: OperatorState.AVAILABLE,
    }
    for _ in range(changes):
        operator_id = rng.choice(on_duty)
        status = index.get(operator_id)
        if status is None:
            raise SystemExit(f"{operator_id} vanished from the index")
        clock += 0.01
        change = OperatorStateChanged(operator_id, cycle[status.state], clock)
        start = time.perf_counter_ns()
        index.apply(change)
        timings.append(time.perf_counter_ns() - start)
    return timings


def run(seed: int, rounds: int) -> dict[str, object]:
    """Measure both methods over ``rounds`` rounds of 1,000 decisions each."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    now = 100_000.0
    policy = RoutingPolicy()
    statuses = build_operators(rng, now)
    calls = build_calls(rng, now)
    index = OperatorIndex(statuses)
    on_duty = [s.operator_id for s in statuses if s.state is not OperatorState.LOGGED_OUT]

    indexed_ns: list[int] = []
    scanned_ns: list[int] = []
    apply_ns: list[int] = []
    chosen = 0
    for _ in range(rounds):
        snapshot = list(index)  # what a naive router would hold: every operator's status
        for facts in calls:
            start = time.perf_counter_ns()
            by_index = decide(facts, index, now, policy)
            middle = time.perf_counter_ns()
            by_scan = decide(facts, snapshot, now, policy)
            end = time.perf_counter_ns()
            indexed_ns.append(middle - start)
            scanned_ns.append(end - middle)
            if by_index != by_scan:
                raise SystemExit(f"index and scan disagree on {facts.call_id}")
            chosen += by_index.operator is not None
        apply_ns.extend(churn(rng, index, on_duty, now, changes=WAITING_CALLS))
        now += 10.0

    indexed, scanned, applied = figures(indexed_ns), figures(scanned_ns), figures(apply_ns)
    return {
        "operators": OPERATORS,
        "on_duty": ON_DUTY,
        "waiting_calls": WAITING_CALLS,
        "skills": len(SKILLS),
        "rounds": rounds,
        "decisions_with_an_operator": chosen,
        "python": platform.python_version(),
        "index_decide": indexed,
        "full_scan_decide": scanned,
        "index_apply": applied,
        "ratio_mean": scanned.mean_us / indexed.mean_us,
        "ratio_p50": scanned.p50_us / indexed.p50_us,
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
        print(
            json.dumps(
                result,
                default=lambda f: {k: getattr(f, k) for k in Figures.__slots__},
                indent=2,
            )
        )
        return 0
    print(
        f"routing decision: {OPERATORS} operators ({ON_DUTY} on duty), "
        f"{WAITING_CALLS} waiting calls, {len(SKILLS)} skills, {args.rounds} rounds, "
        f"Python {result['python']}"
    )
    print(f"{'method':<28}{'samples':>9}{'mean us':>10}{'p50 us':>10}{'p99 us':>10}")
    for label, key in [
        ("decide, OperatorIndex", "index_decide"),
        ("decide, full scan", "full_scan_decide"),
        ("OperatorIndex.apply", "index_apply"),
    ]:
        f = result[key]
        if not isinstance(f, Figures):
            raise TypeError(key)
        print(f"{label:<28}{f.samples:>9}{f.mean_us:>10.1f}{f.p50_us:>10.1f}{f.p99_us:>10.1f}")
    print(
        f"full scan / index: {result['ratio_mean']:.0f}x (mean), "
        f"{result['ratio_p50']:.0f}x (p50); "
        f"{result['decisions_with_an_operator']} decisions found an operator"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
