"""Erlang C staffing: published values, an independent brute-force check, monotonic needs."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from ivr.core.figures import (
    LiveFigures,
    Target,
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    service_level,
    staffing_hint_for,
)
from ivr.core.protocols.ami import AmiEvent

T0 = 1_767_225_600.0


def brute_force_erlang_c(traffic: int, agents: int) -> float:
    """Textbook Erlang C with exact rational arithmetic: A^N/N! N/(N-A) / (sum + that)."""
    a = Fraction(traffic)
    terms = [a**k / math.factorial(k) for k in range(agents)]
    top = a**agents / math.factorial(agents) * Fraction(agents, agents - traffic)
    return float(top / (sum(terms) + top))


PUBLISHED = [
    pytest.param(10, 11, 0.6821, id="10E-11-agents"),
    pytest.param(2, 3, 0.4444, id="2E-3-agents"),
    pytest.param(1, 2, 0.3333, id="1E-2-agents"),
]


@pytest.mark.parametrize(("traffic", "agents", "wait"), PUBLISHED)
def test_erlang_c_matches_published_values(traffic: float, agents: int, wait: float) -> None:
    """P(wait) agrees with the tables to four decimals."""
    assert erlang_c(traffic, agents) == pytest.approx(wait, abs=5e-5)


@pytest.mark.parametrize(
    ("traffic", "agents"),
    [(1, 2), (5, 6), (10, 11), (10, 15), (48, 55), (100, 105), (150, 170), (300, 320),
     (600, 640)],
)
def test_erlang_c_matches_brute_force(traffic: int, agents: int) -> None:
    """The recurrence equals the factorial formula, including beyond where floats overflow."""
    assert erlang_c(traffic, agents) == pytest.approx(
        brute_force_erlang_c(traffic, agents), rel=1e-9
    )


def test_service_level_matches_brute_force() -> None:
    """SL = 1 - C e^(-(N-A) t / AHT) with the brute-force C."""
    traffic, agents, aht, t = 48, 55, 240.0, 20.0
    expected = 1 - brute_force_erlang_c(traffic, agents) * math.exp(-(agents - traffic) * t / aht)
    assert service_level(traffic, agents, aht, t) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("traffic", "agents"), [(900.0, 1000), (2500.0, 2600), (650.5, 700)])
def test_stable_for_hundreds_of_operators(traffic: float, agents: int) -> None:
    """No overflow or NaN with Beijing-sized queues."""
    for value in (erlang_b(traffic, agents), erlang_c(traffic, agents),
                  service_level(traffic, agents, 300, 20)):
        assert 0.0 <= value <= 1.0


EDGES = [
    pytest.param(0.0, 0, 0.0, id="no-traffic-no-wait"),
    pytest.param(10.0, 10, 1.0, id="as-many-agents-as-erlangs-everyone-waits"),
    pytest.param(10.0, 3, 1.0, id="overloaded-everyone-waits"),
]


@pytest.mark.parametrize(("traffic", "agents", "wait"), EDGES)
def test_erlang_c_edges(traffic: float, agents: int, wait: float) -> None:
    """Zero traffic never waits; N <= A always waits."""
    assert erlang_c(traffic, agents) == wait


def test_overloaded_queue_has_no_service_level_and_infinite_asa() -> None:
    """With fewer operators than erlangs the line grows without bound."""
    assert service_level(10, 10, 180, 20) == 0.0
    assert average_speed_of_answer(10, 10, 180) == math.inf
    assert average_speed_of_answer(10, 11, 180) == pytest.approx(0.6821 * 180, rel=1e-3)


def test_agents_needed_meets_target_and_one_fewer_does_not() -> None:
    """The answer is the smallest count meeting both the service level and the occupancy cap."""
    cph, aht, pct, t = 720.0, 240.0, 80.0, 20.0
    n = agents_needed(cph, aht, pct, t, max_occupancy=1.0)
    traffic = cph * aht / 3600
    assert service_level(traffic, n, aht, t) >= 0.8
    assert service_level(traffic, n - 1, aht, t) < 0.8


def test_occupancy_cap_adds_operators() -> None:
    """At 85 % occupancy a big queue needs more operators than Erlang C alone."""
    loose = agents_needed(10_000, 300, 80, 20, max_occupancy=1.0)
    capped = agents_needed(10_000, 300, 80, 20, max_occupancy=0.85)
    assert capped == math.ceil(10_000 * 300 / 3600 / 0.85) > loose


@pytest.mark.parametrize(("percent", "seconds"), [(80, 20), (90, 15), (70, 60)])
def test_agents_needed_monotonic_in_load(percent: float, seconds: float) -> None:
    """More calls never need fewer operators."""
    needs = [agents_needed(cph, 240, percent, seconds) for cph in range(0, 20_001, 250)]
    assert needs == sorted(needs)
    assert needs[0] == 0
    assert needs[-1] > 1_300


def test_agents_needed_monotonic_in_target() -> None:
    """A stricter target never needs fewer operators."""
    needs = [agents_needed(900, 240, pct, 20) for pct in (50, 70, 80, 90, 95, 99)]
    assert needs == sorted(needs)


INVALID = [
    pytest.param(-1, 240, 80, 20, 0.85, id="negative-calls"),
    pytest.param(100, 0, 80, 20, 0.85, id="zero-aht"),
    pytest.param(100, 240, 100, 20, 0.85, id="target-100"),
    pytest.param(100, 240, 0, 20, 0.85, id="target-0"),
    pytest.param(100, 240, 80, -1, 0.85, id="negative-threshold"),
    pytest.param(100, 240, 80, 20, 0, id="zero-occupancy"),
    pytest.param(math.nan, 240, 80, 20, 0.85, id="nan-calls"),
]


@pytest.mark.parametrize(("cph", "aht", "pct", "t", "occ"), INVALID)
def test_agents_needed_refuses_impossible_inputs(
    cph: float, aht: float, pct: float, t: float, occ: float
) -> None:
    """Inputs that make no staffing sense raise ValueError instead of looping or lying."""
    with pytest.raises(ValueError, match="must be"):
        agents_needed(cph, aht, pct, t, occ)


def ev(name: str, **fields: object) -> AmiEvent:
    return AmiEvent(name, {k: str(v) for k, v in fields.items()})


def test_staffing_hint_from_last_interval() -> None:
    """The hint uses the last quarter hour's arrivals and handle time against who is staffed."""
    live = LiveFigures({"report": Target(80, 20)}, wrap_up_seconds=60)
    for n in range(40):
        iface = f"PJSIP/op{n}"
        live.apply(ev("QueueMemberAdded", Queue="report", Interface=iface, Status=1, Paused=0),
                   T0)
    live.apply(ev("QueueMemberPause", Queue="report", Interface="PJSIP/op0", Paused=1,
                  PausedReason="lunch"), T0)
    for n in range(90):  # 90 calls in 15 min = 360 an hour, each 180 s talk + 60 s wrap-up
        at = T0 + n * 10
        live.apply(ev("QueueCallerJoin", Queue="report", Uniqueid=f"c{n}"), at)
        live.apply(ev("AgentConnect", Queue="report", Uniqueid=f"c{n}",
                      Interface=f"PJSIP/op{n % 39 + 1}", HoldTime=0), at)
        live.apply(ev("AgentComplete", Queue="report", Uniqueid=f"c{n}",
                      Interface=f"PJSIP/op{n % 39 + 1}", HoldTime=0, TalkTime=180), at + 1)
    hint = staffing_hint_for(live.figures("report", T0 + 1000))
    assert (hint.calls_per_hour, hint.aht_seconds, hint.aht_source) == (360.0, 240.0,
                                                                         "last interval")
    assert hint.traffic_erlangs == 24.0
    assert hint.needed == agents_needed(360, 240, 80, 20)
    assert (hint.staffed, hint.on_duty) == (39, 40)
    assert hint.shortfall == hint.needed - 39
    assert hint.expected_service_level_percent == pytest.approx(
        100 * service_level(24, 39, 240, 20)
    )


def test_staffing_hint_without_traffic_needs_nobody() -> None:
    """A quiet skill needs no operator and uses the default handle time."""
    hint = staffing_hint_for(LiveFigures({"night": Target(80, 20)}).figures("night", T0))
    assert (hint.needed, hint.aht_source, hint.expected_service_level_percent) == (
        0, "default", 100.0,
    )
