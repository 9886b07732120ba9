"""Live figures at Beijing's scale: AMI events absorbed per second, and memory after days.

Run from the repository root::

    .venv/bin/python benchmarks/bench_figures.py [--json] [--seed N] [--days N]

A synthetic app_queue event stream stands in for Asterisk: 700 operators on duty over two
dozen skill queues (each operator in 2-3 of them, so ~1,900 queue memberships), callers
arriving at 3 a second sustained and 30 a second in a burst after an incident, each call
producing what app_queue emits (join, ringing, sometimes ring-no-answer, leave, connect,
device state per queue the operator is in, complete; or join, abandon, leave). Measured:

* ingestion: events per second ``LiveFigures.apply`` absorbs, sustained and in the burst, against
  the rate Asterisk would send them at;
* the wallboard: ``figures`` and ``history`` for every skill, as one refresh would ask;
* a reconnect: ``load_snapshot`` of a QueueStatus response with 1,000 waiting callers;
* memory: traced allocations held by ``LiveFigures`` after each simulated day (24 M calls a
  year is ~66,000 a day, peaking at 3 a second), which must not grow from one day to the next.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import itertools
import json
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from ivr.core.figures import LiveFigures, Target, staffing_hint_for
from ivr.core.protocols.ami import AmiEvent

OPERATORS = 700
SKILLS = ["general", "report", "inquiry", "case_status", "suggestion"] + [
    f"dept{n:02d}" for n in range(1, 20)
]
SUSTAINED_PER_SECOND = 3.0
BURST_FACTOR = 10
WAITING_AT_RECONNECT = 1_000
DAY = 86_400
START = 1_767_196_800.0  # 2026-01-01 00:00 Beijing time
# Share of a day's calls by local hour: quiet nights, peaks mid-morning and mid-afternoon.
HOURLY = [0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.6, 1.5, 2.6, 3.0, 3.0, 2.6, 2.0, 2.4, 2.8, 3.0,
          2.6, 2.0, 1.5, 1.2, 1.0, 0.8, 0.6, 0.4]


@dataclass(frozen=True, slots=True)
class Ingestion:
    phase: str
    calls: int
    events: int
    seconds_simulated: float
    events_per_second_from_asterisk: float
    events_per_second_absorbed: float
    mean_us_per_event: float
    headroom: float


def ev(name: str, **fields: object) -> AmiEvent:
    return AmiEvent(name, {k: str(v) for k, v in fields.items()})


class Hotline:
    """Operators, their skills, and a generator of app_queue events for arriving calls."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.skills_of: dict[str, list[str]] = {}
        self.members: dict[str, list[str]] = {skill: [] for skill in SKILLS}
        for n in range(OPERATORS):
            interface = f"PJSIP/op{n:04d}"
            skills = ["general", *rng.sample(SKILLS[1:], rng.choice((1, 2)))]
            self.skills_of[interface] = skills
            for skill in skills:
                self.members[skill].append(interface)
        self.uid = itertools.count()

    def logins(self) -> list[AmiEvent]:
        return [
            ev("QueueMemberAdded", Queue=skill, Interface=iface, StateInterface=iface,
               MemberName=iface, Membership="dynamic", Penalty=0, Status=1, Paused=0,
               PausedReason="", InCall=0, Wrapuptime=0)
            for skill, members in self.members.items() for iface in members
        ]

    def call(self, at: float) -> list[tuple[float, AmiEvent]]:
        """The events of one call arriving at ``at``, stamped with when they happen."""
        rng = self.rng
        skill = rng.choice(SKILLS)
        uid = f"{at:.3f}.{next(self.uid)}"
        hold = min(rng.expovariate(1 / 15), 600)
        out = [(at, ev("QueueCallerJoin", Queue=skill, Uniqueid=uid, Position=1,
                       CallerIDNum="13800138000", Count=1))]
        if rng.random() < 0.08:
            end = at + hold
            out += [(end, ev("QueueCallerAbandon", Queue=skill, Uniqueid=uid, HoldTime=int(hold),
                             Position=1, OriginalPosition=1)),
                    (end, ev("QueueCallerLeave", Queue=skill, Uniqueid=uid, Position=1))]
            return out
        op = rng.choice(self.members[skill])
        answer = at + hold
        if rng.random() < 0.1:
            other = rng.choice(self.members[skill])
            out += [(answer - 18, ev("AgentCalled", Queue=skill, Uniqueid=uid, Interface=other)),
                    (answer - 3, ev("AgentRingNoAnswer", Queue=skill, Uniqueid=uid,
                                    Interface=other, RingTime=15))]
        talk = rng.uniform(60, 420)
        out += [
            (answer - 3, ev("AgentCalled", Queue=skill, Uniqueid=uid, Interface=op)),
            (answer, ev("QueueCallerLeave", Queue=skill, Uniqueid=uid, Position=1)),
            (answer, ev("AgentConnect", Queue=skill, Uniqueid=uid, Interface=op, MemberName=op,
                        HoldTime=int(hold), RingTime=3)),
            (answer + talk, ev("AgentComplete", Queue=skill, Uniqueid=uid, Interface=op,
                               MemberName=op, HoldTime=int(hold), TalkTime=int(talk),
                               Reason="caller")),
        ]
        for queue in self.skills_of[op]:  # device state reaches every queue the operator is in
            out += [
                (answer, ev("QueueMemberStatus", Queue=queue, Interface=op, Status=2, InCall=1,
                            Paused=0)),
                (answer + talk, ev("QueueMemberStatus", Queue=queue, Interface=op, Status=1,
                                   InCall=0, Paused=0)),
            ]
        return out

    def stream(self, start: float, end: float, rate: float | None = None
               ) -> Iterator[tuple[float, AmiEvent]]:
        """Events in time order for calls arriving in [start, end); ``rate`` per second, or
        the daily profile (``HOURLY``) scaled to 24 M calls a year."""
        pending: list[tuple[float, int, AmiEvent]] = []
        order = itertools.count()
        at = start
        per_day = 24_000_000 / 365
        while at < end:
            if rate is None:
                hour = int((at - START) // 3600) % 24
                per_second = per_day / DAY * HOURLY[hour] * 24 / sum(HOURLY)
            else:
                per_second = rate
            at += self.rng.expovariate(per_second)
            for stamp, event in self.call(at):
                heapq.heappush(pending, (stamp, next(order), event))
            while pending and pending[0][0] <= at:
                stamp, _, event = heapq.heappop(pending)
                yield stamp, event
        while pending:
            stamp, _, event = heapq.heappop(pending)
            yield stamp, event


def ingestion(hotline: Hotline, live: LiveFigures, phase: str, *, start: float,
              seconds: float, rate: float) -> Ingestion:
    events = list(hotline.stream(start, start + seconds, rate))
    calls = sum(1 for _, e in events if e.name == "QueueCallerJoin")
    apply = live.apply
    gc.collect()
    began = time.perf_counter()
    for at, event in events:
        apply(event, at)
    spent = time.perf_counter() - began
    span = events[-1][0] - events[0][0]
    absorbed = len(events) / spent
    arriving = len(events) / seconds  # events Asterisk sends per second of arrivals
    return Ingestion(phase, calls, len(events), round(span, 1), round(arriving, 1),
                     round(absorbed), round(spent / len(events) * 1e6, 2),
                     round(absorbed / arriving))


def time_us(action: Callable[[], object], repeat: int = 20) -> float:
    """Median wall time of ``action`` in microseconds."""
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1e6)
    return round(statistics.median(samples), 1)


def snapshot_response(hotline: Hotline, rng: random.Random) -> list[AmiEvent]:
    out = []
    for skill, members in hotline.members.items():
        out.append(ev("QueueParams", Queue=skill, Max=0, Strategy="rrmemory"))
        out += [
            ev("QueueMember", Queue=skill, Name=iface, Location=iface, StateInterface=iface,
               Membership="dynamic", Penalty=0, CallsTaken=0, InCall=0,
               Status=rng.choice((1, 2, 2, 2, 6)), Paused=0, PausedReason="", Wrapuptime=0)
            for iface in members
        ]
    out += [
        ev("QueueEntry", Queue=rng.choice(SKILLS), Position=1, Channel=f"PJSIP/c{n}",
           Uniqueid=f"snap{n}", CallerIDNum="13800138000", Wait=rng.randint(0, 300), Priority=0)
        for n in range(WAITING_AT_RECONNECT)
    ]
    return out


def memory_by_day(seed: int, days: int) -> list[dict[str, float]]:
    """Traced bytes held by LiveFigures at the end of each simulated day."""
    rng = random.Random(seed)  # noqa: S311 - reproducible traffic, not a secret
    hotline = Hotline(rng)
    tracemalloc.start()
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    live = LiveFigures({skill: Target(80, 20) for skill in SKILLS}, wrap_up_seconds=30)
    for event in hotline.logins():
        live.apply(event, START)
    out = []
    calls = events = 0
    for day in range(days):
        stream = hotline.stream(START + day * DAY, START + (day + 1) * DAY)
        for at, event in stream:
            live.apply(event, at)
            events += 1
            calls += event.name == "QueueCallerJoin"
        gc.collect()
        # The generator's pending heap is gone; what remains is held by LiveFigures.
        held = tracemalloc.get_traced_memory()[0] - base
        out.append({"day": day + 1, "calls": calls, "events": events,
                    "held_mib": round(held / 2**20, 2)})
    tracemalloc.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--days", type=int, default=2, help="days simulated for memory")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)  # noqa: S311 - reproducible traffic, not a secret
    hotline = Hotline(rng)
    live = LiveFigures({skill: Target(80, 20) for skill in SKILLS}, wrap_up_seconds=30)
    logins = hotline.logins()
    for event in logins:
        live.apply(event, START)
    peak = START + 9 * 3600
    runs = [
        ingestion(hotline, live, "sustained 3 calls/s", start=peak, seconds=600,
                  rate=SUSTAINED_PER_SECOND),
        ingestion(hotline, live, "burst 30 calls/s", start=peak + 900, seconds=120,
                  rate=SUSTAINED_PER_SECOND * BURST_FACTOR),
    ]
    now = peak + 1100
    wallboard = {
        "skills": len(SKILLS),
        "memberships": len(logins),
        "figures_all_skills_us": time_us(lambda: live.all_figures(now)),
        "history_4h_all_skills_us": time_us(
            lambda: [live.history(s, now, hours=4) for s in SKILLS]),
        "staffing_hints_all_skills_us": time_us(
            lambda: [staffing_hint_for(live.figures(s, now)) for s in SKILLS]),
    }
    response = snapshot_response(hotline, rng)
    reconnect = {
        "messages": len(response),
        "load_snapshot_ms": round(time_us(lambda: live.load_snapshot(response, now), 5) / 1000,
                                  2),
    }
    memory = memory_by_day(args.seed, args.days)
    result = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "operators": OPERATORS,
        "ingestion": [asdict(r) for r in runs],
        "wallboard": wallboard,
        "reconnect": reconnect,
        "memory_by_day": memory,
        "ignored": dict(live.ignored),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"Live figures: {OPERATORS} operators, {len(SKILLS)} skills, "
          f"{len(logins)} queue memberships (Python {platform.python_version()})")
    for r in runs:
        print(f"  {r.phase:<22} {r.calls:>6} calls {r.events:>7} events: Asterisk sends "
              f"{r.events_per_second_from_asterisk:>7.0f}/s, absorbed "
              f"{r.events_per_second_absorbed:>9,}/s ({r.mean_us_per_event} us/event, "
              f"{r.headroom}x headroom)")
    print(f"  wallboard refresh: figures {wallboard['figures_all_skills_us']} us, "
          f"4 h charts {wallboard['history_4h_all_skills_us']} us, "
          f"staffing hints {wallboard['staffing_hints_all_skills_us']} us (all skills)")
    print(f"  reconnect: QueueStatus snapshot of {reconnect['messages']} messages loaded in "
          f"{reconnect['load_snapshot_ms']} ms")
    for day in memory:
        print(f"  after day {day['day']}: {day['calls']:,} calls, {day['events']:,} events, "
              f"{day['held_mib']} MiB held")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
