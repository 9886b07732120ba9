"""The three rates and the ranking (``ivr.core.rates``)."""

from __future__ import annotations

from ivr.core.rates import DepartmentCounts, ranking


def test_rates_leave_unreachable_citizens_out_of_both_denominators() -> None:
    c = DepartmentCounts("ecology", dispatched=4, responded_on_time=3, visited=2,
                         unreachable=2, citizen_resolved=1, satisfied=1)
    assert (c.response_rate, c.resolution_rate, c.satisfaction_rate) == (75.0, 50.0, 50.0)


def test_no_cases_means_no_rate_not_zero_or_full() -> None:
    c = DepartmentCounts("idle")
    assert (c.response_rate, c.resolution_rate, c.satisfaction_rate, c.score) == (
        None, None, None, None)


def test_ranking_best_first_ties_share_a_rank_and_idle_ones_last() -> None:
    good = DepartmentCounts("a", dispatched=2, responded_on_time=2, visited=2,
                            citizen_resolved=2, satisfied=2)
    same = DepartmentCounts("b", dispatched=1, responded_on_time=1, visited=1,
                            citizen_resolved=1, basically_satisfied=1)
    worse = DepartmentCounts("c", dispatched=2, responded_on_time=1)
    idle = DepartmentCounts("d")
    ranked = ranking([idle, worse, same, good])
    assert [(r.rank, r.counts.department) for r in ranked] == [
        (1, "a"), (1, "b"), (3, "c"), (4, "d")]
