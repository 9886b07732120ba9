"""Erlang C staffing: how many operators a skill needs now to meet its service level.

Erlang C models one queue with Poisson arrivals, exponential handle times, callers who never
hang up and ``agents`` interchangeable operators. Real callers do hang up and operators hold
several skills, so the hint is a yardstick for the wallboard, not a schedule.

Erlang B is computed with its recurrence ``B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1))``,
which stays within [0, 1] for any load: factorials or ``A**n`` overflow a float near 170
operators, and a hotline queue has hundreds. Erlang C follows from B without loss:
``C = N B / (N - A (1 - B))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ivr.core.figures._counts import Target

if TYPE_CHECKING:
    from ivr.core.figures._live import SkillFigures


def _check(name: str, value: float, *, positive: bool = False) -> None:
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


def erlang_b(traffic_erlangs: float, agents: int) -> float:
    """Probability that a call finding ``agents`` lines all busy is blocked (lost calls)."""
    _check("traffic_erlangs", traffic_erlangs)
    if agents < 0:
        raise ValueError(f"agents must be >= 0, got {agents!r}")
    blocked = 1.0
    for n in range(1, agents + 1):
        blocked = traffic_erlangs * blocked / (n + traffic_erlangs * blocked)
    return blocked


def _c_from_b(traffic: float, agents: int, blocked: float) -> float:
    return agents * blocked / (agents - traffic * (1.0 - blocked))


def erlang_c(traffic_erlangs: float, agents: int) -> float:
    """Probability that a caller has to wait, with ``traffic_erlangs`` offered to ``agents``.

    1.0 when ``agents <= traffic_erlangs`` (the line grows without bound); 0.0 without traffic.
    """
    blocked = erlang_b(traffic_erlangs, agents)
    if traffic_erlangs == 0:
        return 0.0
    if agents <= traffic_erlangs:
        return 1.0
    return _c_from_b(traffic_erlangs, agents, blocked)


def _service_level(traffic: float, agents: int, wait_probability: float, aht: float,
                   target_seconds: float) -> float:
    if traffic == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    level = 1.0 - wait_probability * math.exp(-(agents - traffic) * target_seconds / aht)
    return min(1.0, max(0.0, level))


def service_level(
    traffic_erlangs: float, agents: int, aht_seconds: float, target_seconds: float
) -> float:
    """Share of callers (0..1) answered within ``target_seconds`` (Erlang C)."""
    _check("aht_seconds", aht_seconds, positive=True)
    _check("target_seconds", target_seconds)
    return _service_level(
        traffic_erlangs, agents, erlang_c(traffic_erlangs, agents), aht_seconds, target_seconds
    )


def average_speed_of_answer(traffic_erlangs: float, agents: int, aht_seconds: float) -> float:
    """Expected wait over all callers, in seconds (``inf`` when overloaded)."""
    _check("aht_seconds", aht_seconds, positive=True)
    if traffic_erlangs > 0 and agents <= traffic_erlangs:
        return math.inf
    if traffic_erlangs == 0:
        return 0.0
    return erlang_c(traffic_erlangs, agents) * aht_seconds / (agents - traffic_erlangs)


def agents_needed(
    calls_per_hour: float,
    aht_seconds: float,
    target_percent: float,
    target_seconds: float,
    max_occupancy: float = 0.85,
) -> int:
    """The fewest operators meeting ``target_percent`` within ``target_seconds``.

    Also keeps occupancy (traffic / operators) at or below ``max_occupancy``: Erlang C alone
    would run a large queue at 95 % occupancy, which operators cannot sustain for a shift.
    0 without calls. ``target_percent`` must be below 100: Erlang C never promises everyone.
    """
    _check("calls_per_hour", calls_per_hour)
    _check("aht_seconds", aht_seconds, positive=True)
    _check("target_seconds", target_seconds)
    if not 0 < target_percent < 100:
        raise ValueError(f"target_percent must be in (0, 100), got {target_percent!r}")
    if not 0 < max_occupancy <= 1:
        raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy!r}")
    traffic = calls_per_hour * aht_seconds / 3600.0
    if traffic == 0:
        return 0
    least = max(math.floor(traffic) + 1, math.ceil(traffic / max_occupancy - 1e-9))
    target = target_percent / 100.0
    blocked = 1.0
    agents = 0
    while True:
        agents += 1
        blocked = traffic * blocked / (agents + traffic * blocked)
        if agents < least:
            continue
        waits = _c_from_b(traffic, agents, blocked)
        if _service_level(traffic, agents, waits, aht_seconds, target_seconds) >= target:
            return agents


@dataclass(frozen=True, slots=True)
class StaffingHint:
    """Operators one skill needs now against those it has.

    ``calls_per_hour`` is the last complete interval's arrival rate; ``aht_seconds`` its
    average handle time (or today's, or the default; ``aht_source`` says which). ``staffed``
    counts operators on duty and not paused; ``shortfall`` is ``needed - staffed`` (negative:
    spare operators). ``expected_service_level_percent`` is Erlang C's forecast with the
    operators staffed now.
    """

    skill: str
    target: Target
    calls_per_hour: float
    aht_seconds: float
    aht_source: str
    traffic_erlangs: float
    needed: int
    staffed: int
    on_duty: int
    expected_service_level_percent: float

    @property
    def shortfall(self) -> int:
        return self.needed - self.staffed


def staffing_hint_for(
    figures: SkillFigures,
    *,
    default_aht_seconds: float = 300.0,
    max_occupancy: float = 0.85,
) -> StaffingHint:
    """The hint for one skill's figures (pure; see ``StaffingHint``)."""
    rate = figures.last_interval.offered * 3600.0 / figures.interval_seconds
    aht, source = figures.last_interval.average_handle_time, "last interval"
    if not aht:
        aht, source = figures.today.average_handle_time, "today"
    if not aht:
        aht, source = default_aht_seconds, "default"
    # A target of 100 % cannot be met by Erlang C; ask for the closest it can give.
    percent = min(figures.target.percent, 99.9)
    needed = agents_needed(rate, aht, percent, figures.target.seconds, max_occupancy)
    traffic = rate * aht / 3600.0
    staffed = figures.operators.staffed
    return StaffingHint(
        skill=figures.skill,
        target=figures.target,
        calls_per_hour=rate,
        aht_seconds=aht,
        aht_source=source,
        traffic_erlangs=traffic,
        needed=needed,
        staffed=staffed,
        on_duty=figures.operators.on_duty,
        expected_service_level_percent=100.0
        * service_level(traffic, staffed, aht, figures.target.seconds),
    )
