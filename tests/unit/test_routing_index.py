"""OperatorIndex: state changes applied one by one keep routing exact and counts right."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.core.routing import (
    DEFAULT_WIDENING,
    OperatorIndex,
    OperatorState,
    OperatorStateChanged,
    OperatorStatus,
    RoutingFacts,
    RoutingPolicy,
    decide,
)

AVAILABLE = OperatorState.AVAILABLE
ON_CALL = OperatorState.ON_CALL
WRAP_UP = OperatorState.WRAP_UP
PAUSED = OperatorState.PAUSED
FIRST_STEP = DEFAULT_WIDENING[0]


def op(
    operator_id: str,
    skills: Mapping[str, int],
    state: OperatorState = AVAILABLE,
    since: float = 0.0,
) -> OperatorStatus:
    return OperatorStatus(operator_id, state, since, skills, frozenset({"zh"}))


def best(index: OperatorIndex) -> str | None:
    found = index.best_available("report", "zh", FIRST_STEP)
    return found.status.operator_id if found is not None else None


def test_call_cycle_moves_operator_out_and_back_in() -> None:
    """An operator on a call or wrapping up is skipped, and back at the end of the line."""
    index = OperatorIndex([op("a", {"report": 5}, since=0), op("b", {"report": 5}, since=10)])
    assert best(index) == "a"
    index.apply(OperatorStateChanged("a", ON_CALL, at=20))
    assert best(index) == "b"
    index.apply(OperatorStateChanged("a", WRAP_UP, at=200))
    assert best(index) == "b"
    status = index.apply(OperatorStateChanged("a", AVAILABLE, at=230))
    assert status.calls_handled == 1
    index.apply(OperatorStateChanged("b", ON_CALL, at=240))
    assert best(index) == "a"
    index.apply(OperatorStateChanged("b", AVAILABLE, at=250))
    assert best(index) == "a"  # a has been idle since 230, b only since 250


def test_pause_needs_reason_and_blocks_routing() -> None:
    """A pause carries its reason and keeps the operator out until unpaused."""
    index = OperatorIndex([op("a", {"report": 5})])
    with pytest.raises(ValueError, match="pause reason"):
        OperatorStateChanged("a", PAUSED, at=1)
    status = index.apply(OperatorStateChanged("a", PAUSED, at=1, pause_reason="ring not answered"))
    assert (status.state, status.pause_reason, best(index)) == (PAUSED, "ring not answered", None)
    index.apply(OperatorStateChanged("a", AVAILABLE, at=2))
    assert best(index) == "a"


def test_state_change_of_unknown_operator_is_refused() -> None:
    """The index never invents an operator's skills: unknown ids need a full status."""
    with pytest.raises(KeyError, match="op404"):
        OperatorIndex().apply(OperatorStateChanged("op404", AVAILABLE, at=1))


def test_login_with_new_skills_replaces_old_filing() -> None:
    """Applying a full status (login, resync) replaces the skills the operator is filed under."""
    index = OperatorIndex([op("a", {"report": 5})])
    index.apply(op("a", {"inquiry": 5}, since=5))
    assert best(index) is None
    assert index.best_available("inquiry", "zh", FIRST_STEP) is not None
    assert (index.count("report"), index.count("inquiry")) == (0, 1)


def test_resync_out_of_time_order_keeps_longest_idle_first() -> None:
    """A resynced status older than those filed still ranks as the longest idle."""
    index = OperatorIndex([op("a", {"report": 5}, since=100), op("b", {"report": 5}, since=200)])
    index.apply(op("c", {"report": 5}, since=50))
    assert best(index) == "c"


@pytest.mark.parametrize(
    ("states", "staffed", "available", "paused"),
    [
        ([AVAILABLE, ON_CALL, WRAP_UP], 3, 1, 0),
        ([PAUSED, OperatorState.LOGGED_OUT, AVAILABLE], 1, 1, 1),
        ([], 0, 0, 0),
    ],
)
def test_counts_per_skill(
    states: list[OperatorState], staffed: int, available: int, paused: int
) -> None:
    """Counts per skill and state feed expected-wait estimates and the wallboard."""
    index = OperatorIndex(
        OperatorStatus(
            f"op{i}",
            state,
            0.0,
            {"report": 3},
            frozenset({"zh"}),
            pause_reason="break" if state is PAUSED else None,
        )
        for i, state in enumerate(states)
    )
    assert index.count("report") == staffed
    assert index.count("report", AVAILABLE) == available
    assert index.count("report", PAUSED) == paused
    assert len(index) == len(states)


# ---- a random history of changes: the index decides as a scan of the final states -----

OPERATOR_IDS = [f"op{i}" for i in range(12)]
changes = st.lists(
    st.tuples(
        st.sampled_from(OPERATOR_IDS),
        st.sampled_from(list(OperatorState)),
        st.integers(-20, 20),  # time step; negative models resyncs that arrive out of order
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(
    history=changes,
    skills=st.lists(
        st.dictionaries(st.sampled_from(["report", "inquiry"]), st.integers(1, 5)),
        min_size=len(OPERATOR_IDS),
        max_size=len(OPERATOR_IDS),
    ),
    waited=st.sampled_from([0.0, 30.0, 90.0, 180.0]),
)
def test_index_after_any_history_agrees_with_scan(
    history: list[tuple[str, OperatorState, int]],
    skills: list[dict[str, int]],
    waited: float,
) -> None:
    """After any sequence of state changes the index decides as a scan of the states."""
    initial = [
        OperatorStatus(oid, OperatorState.LOGGED_OUT, 0.0, s, frozenset({"zh", "en"}))
        for oid, s in zip(OPERATOR_IDS, skills, strict=True)
    ]
    index = OperatorIndex(initial)
    truth = {s.operator_id: s for s in initial}
    clock = 100.0
    for operator_id, state, step in history:
        clock += step
        reason = "break" if state is PAUSED else None
        truth[operator_id] = index.apply(OperatorStateChanged(operator_id, state, clock, reason))
    now = clock + 300
    policy = RoutingPolicy()
    for skill in ("report", "inquiry"):
        facts = RoutingFacts("c", skill, "zh", now - waited)
        assert decide(facts, index, now, policy) == decide(facts, truth.values(), now, policy)
