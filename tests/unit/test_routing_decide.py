"""decide(): who gets the call, at what priority, and why; index and full scan agree."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.core.routing import (
    OpenCase,
    OperatorIndex,
    OperatorState,
    OperatorStatus,
    RouteDecision,
    RoutingFacts,
    RoutingPolicy,
    Urgency,
    decide,
)

AVAILABLE = OperatorState.AVAILABLE
POLICY = RoutingPolicy()
NOW = 1_000.0

Operators = OperatorIndex | Iterable[OperatorStatus]


def op(
    operator_id: str,
    skills: Mapping[str, int],
    *,
    languages: Iterable[str] = ("zh",),
    state: OperatorState = AVAILABLE,
    since: float = 0.0,
    department: str | None = None,
    pause_reason: str | None = None,
) -> OperatorStatus:
    return OperatorStatus(
        operator_id,
        state,
        since,
        skills,
        frozenset(languages),
        department,
        pause_reason=pause_reason,
    )


def call(
    *,
    skill: str = "report",
    language: str = "zh",
    waited: float = 0.0,
    urgency: Urgency = Urgency.NORMAL,
    open_case: OpenCase | None = None,
) -> RoutingFacts:
    return RoutingFacts("call-1", skill, language, NOW - waited, "13800138000", urgency, open_case)


@pytest.fixture(params=["index", "scan"])
def prepare(request: pytest.FixtureRequest) -> Callable[[list[OperatorStatus]], Operators]:
    """Every decision test runs on the incremental index and on a plain full scan."""
    if request.param == "index":
        return OperatorIndex
    return list


def route(
    prepare: Callable[[list[OperatorStatus]], Operators],
    statuses: list[OperatorStatus],
    facts: RoutingFacts,
    policy: RoutingPolicy = POLICY,
) -> RouteDecision:
    return decide(facts, prepare(statuses), NOW, policy)


BEST_OPERATOR = [
    pytest.param(
        [op("a", {"report": 3}, since=100), op("b", {"report": 5}, since=500)],
        60.0,
        "b",
        id="higher-level-beats-longer-idle",
    ),
    pytest.param(
        [op("a", {"report": 5}, since=300), op("b", {"report": 5}, since=200)],
        0.0,
        "b",
        id="same-level-longest-idle-wins",
    ),
    pytest.param(
        [op("b", {"report": 5}, since=200), op("a", {"report": 5}, since=200)],
        0.0,
        "a",
        id="exact-tie-broken-by-operator-id",
    ),
    pytest.param(
        [op("a", {"inquiry": 5}, since=0), op("b", {"report": 4}, since=900)],
        0.0,
        "b",
        id="other-skill-not-taken-while-skill-holder-free",
    ),
]


@pytest.mark.parametrize(("statuses", "waited", "expected"), BEST_OPERATOR)
def test_best_operator_by_level_then_idle(
    prepare: Callable[[list[OperatorStatus]], Operators],
    statuses: list[OperatorStatus],
    waited: float,
    expected: str,
) -> None:
    """The best available operator is the highest level, then the longest idle."""
    assert route(prepare, statuses, call(waited=waited)).operator == expected


LANGUAGE = [
    pytest.param(
        "en",
        [op("a", {"report": 5}), op("b", {"report": 4}, languages=["en"])],
        "b",
        id="only-the-english-speaker",
    ),
    pytest.param("en", [op("a", {"report": 5})], None, id="nobody-speaks-english-yet"),
    pytest.param(
        "zh",
        [op("a", {"report": 5}, languages=["en"]), op("b", {"report": 4})],
        "b",
        id="expert-without-chinese-skipped",
    ),
]


@pytest.mark.parametrize(("language", "statuses", "expected"), LANGUAGE)
def test_language_respected(
    prepare: Callable[[list[OperatorStatus]], Operators],
    language: str,
    statuses: list[OperatorStatus],
    expected: str | None,
) -> None:
    """An operator who does not speak the caller's language is not chosen before 180 s."""
    assert route(prepare, statuses, call(language=language, waited=120)).operator == expected


# One operator per rung of the ladder, each idle the same time: the decision shows who is
# acceptable at each wait.
LADDER = [
    op("level3", {"report": 3}, since=10),
    op("level1", {"report": 1}, since=10),
    op("speaker", {"inquiry": 5}, since=10),
    op("foreigner", {"report": 5}, languages=["en"], since=10),
]

WIDENING = [
    pytest.param(0.0, 0, None, "waited 0 s: level 4+ operators speaking zh", id="0s-level4"),
    pytest.param(29.9, 0, None, "waited 30 s: level 4+", id="29.9s-still-level4"),
    pytest.param(30.0, 1, "level3", "widened to level 2+ operators", id="30s-level2"),
    pytest.param(90.0, 2, "level3", "widened to any operator speaking zh", id="90s-language"),
    pytest.param(180.0, 3, "level3", "widened to the general pool", id="180s-general-pool"),
]


@pytest.mark.parametrize(("waited", "step", "expected", "reason"), WIDENING)
def test_widening_steps(
    prepare: Callable[[list[OperatorStatus]], Operators],
    waited: float,
    step: int,
    expected: str | None,
    reason: str,
) -> None:
    """Acceptable operators widen at 0/30/90/180 s of waiting and the reason says so."""
    decision = route(prepare, LADDER, call(waited=waited))
    assert (decision.step_index, decision.operator) == (step, expected)
    assert any(reason in r for r in decision.reasons), decision.reasons


WIDENED_RANKING = [
    pytest.param(
        [op("speaker", {"inquiry": 5}), op("level1", {"report": 1}, since=500)],
        90.0,
        "level1",
        id="90s-skill-holder-before-mere-speaker",
    ),
    pytest.param([op("speaker", {"inquiry": 5})], 89.0, None, id="89s-speaker-not-yet"),
    pytest.param([op("speaker", {"inquiry": 5})], 90.0, "speaker", id="90s-speaker"),
    pytest.param(
        [op("foreigner", {"report": 5}, languages=["en"])], 179.0, None, id="179s-foreigner-not-yet"
    ),
    pytest.param(
        [op("foreigner", {"report": 5}, languages=["en"])],
        180.0,
        "foreigner",
        id="180s-foreigner-in-general-pool",
    ),
    pytest.param(
        [
            op("foreigner", {"x": 5}, languages=["en"], since=0),
            op("speaker", {"inquiry": 1}, since=900),
        ],
        400.0,
        "speaker",
        id="pool-prefers-speaker-of-the-language",
    ),
]


@pytest.mark.parametrize(("statuses", "waited", "expected"), WIDENED_RANKING)
def test_widened_steps_rank_skill_then_language(
    prepare: Callable[[list[OperatorStatus]], Operators],
    statuses: list[OperatorStatus],
    waited: float,
    expected: str | None,
) -> None:
    """Widening adds operators behind skill holders, and the caller's language first."""
    assert route(prepare, statuses, call(waited=waited)).operator == expected


REPEAT = OpenCase("2026-0001", None, "op1003")

PRIORITIES = [
    pytest.param(Urgency.EMERGENCY, None, 10, "emergency cue: priority 10", id="emergency"),
    pytest.param(Urgency.ELDERLY, None, 5, "elderly caller: priority 5", id="elderly"),
    pytest.param(
        Urgency.NORMAL, REPEAT, 3, "repeat caller with open case 2026-0001: priority 3", id="repeat"
    ),
    pytest.param(Urgency.NORMAL, None, 0, "normal call: priority 0", id="normal"),
    pytest.param(
        Urgency.EMERGENCY,
        REPEAT,
        10,
        "emergency cue: priority 10",
        id="repeat-never-lowers-emergency",
    ),
]


@pytest.mark.parametrize(("urgency", "case", "priority", "reason"), PRIORITIES)
def test_priorities(
    prepare: Callable[[list[OperatorStatus]], Operators],
    urgency: Urgency,
    case: OpenCase | None,
    priority: int,
    reason: str,
) -> None:
    """QUEUE_PRIO is emergency > elderly > repeat caller > normal, with its cue as reason."""
    decision = route(prepare, [], call(urgency=urgency, open_case=case))
    assert decision.priority == priority
    assert reason in decision.reasons


def test_priorities_configurable(prepare: Callable[[list[OperatorStatus]], Operators]) -> None:
    """A policy can change the priority of each urgency and of repeat callers."""
    policy = RoutingPolicy(
        priorities={Urgency.EMERGENCY: 99, Urgency.ELDERLY: 7, Urgency.NORMAL: 1},
        repeat_caller_priority=8,
    )
    decisions = [
        route(prepare, [], call(urgency=u, open_case=c), policy)
        for u, c in [(Urgency.EMERGENCY, None), (Urgency.ELDERLY, REPEAT), (Urgency.NORMAL, None)]
    ]
    assert [d.priority for d in decisions] == [99, 8, 1]


PREVIOUS_OPERATOR = [
    pytest.param(
        op("op1003", {"report": 2}, since=900),
        "op1003",
        "repeat caller: prefers op1003 who handled case 2026-0001, available now",
        id="available-beats-a-free-expert",
    ),
    pytest.param(
        op("op1003", {"report": 2}, state=OperatorState.ON_CALL),
        "expert",
        "repeat caller: prefers op1003 who handled case 2026-0001, but they are on a "
        "call; best available instead",
        id="on-call-falls-back",
    ),
    pytest.param(
        op("op1003", {"report": 2}, state=OperatorState.PAUSED, pause_reason="lunch"),
        "expert",
        "repeat caller: prefers op1003 who handled case 2026-0001, but they "
        "are paused (lunch); best available instead",
        id="paused-falls-back",
    ),
    pytest.param(
        op("op1003", {"report": 2}, languages=["en"]),
        "expert",
        "repeat caller: prefers op1003 who handled case 2026-0001, but they do not "
        "speak zh; best available instead",
        id="other-language-falls-back",
    ),
    pytest.param(
        op("op9999", {"report": 2}),
        "expert",
        "repeat caller: prefers op1003 who handled case 2026-0001, but they are "
        "unknown here; best available instead",
        id="unknown-falls-back",
    ),
]


@pytest.mark.parametrize(("previous", "expected", "reason"), PREVIOUS_OPERATOR)
def test_repeat_caller_prefers_previous_operator(
    prepare: Callable[[list[OperatorStatus]], Operators],
    previous: OperatorStatus,
    expected: str,
    reason: str,
) -> None:
    """A repeat caller gets their case's operator when available, else a stated fallback."""
    statuses = [previous, op("expert", {"report": 5}, since=0)]
    decision = route(prepare, statuses, call(open_case=REPEAT))
    assert (decision.operator, decision.preferred_operator) == (expected, "op1003")
    assert reason in decision.reasons


def test_repeat_caller_prefers_case_department(
    prepare: Callable[[list[OperatorStatus]], Operators],
) -> None:
    """With the previous operator busy, the open case's department is preferred to levels."""
    statuses = [
        op("expert", {"report": 5}, since=0, department="Information Office"),
        op("colleague", {"report": 4}, since=500, department="Complaints Office"),
    ]
    case = OpenCase("2026-0002", "Complaints Office", None)
    decision = route(prepare, statuses, call(open_case=case))
    assert decision.operator == "colleague"
    assert "chose colleague: report level 4, Complaints Office, idle 500 s" in decision.reasons


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (OperatorState.PAUSED, "training"),
        (OperatorState.WRAP_UP, None),
        (OperatorState.ON_CALL, None),
        (OperatorState.LOGGED_OUT, None),
    ],
)
@pytest.mark.parametrize("waited", [0.0, 500.0])
def test_unavailable_operators_never_chosen(
    prepare: Callable[[list[OperatorStatus]], Operators],
    state: OperatorState,
    reason: str | None,
    waited: float,
) -> None:
    """Paused, wrapping-up, on-call and logged-out operators never get a call, at any wait."""
    statuses = [op("busy", {"report": 5}, state=state, pause_reason=reason)]
    decision = route(prepare, statuses, call(waited=waited))
    assert decision.operator is None
    assert any(r.startswith("no acceptable operator available: waits") for r in decision.reasons)


def test_decision_shape(prepare: Callable[[list[OperatorStatus]], Operators]) -> None:
    """The decision names the queue, the schedule, the step's max penalty and next widening."""
    decision = route(prepare, LADDER, call(waited=45.0))
    assert decision.queue == "report"
    assert decision.widening == POLICY.widening
    assert decision.step == POLICY.widening[1]
    assert (decision.max_penalty, decision.next_widening_at, decision.waited) == (3, 90, 45.0)


def test_arrival_in_the_future_counts_as_no_wait(
    prepare: Callable[[list[OperatorStatus]], Operators],
) -> None:
    """Clock skew between nodes never yields a negative wait."""
    decision = route(prepare, LADDER, call(waited=-5.0))
    assert (decision.waited, decision.step_index) == (0.0, 0)


# ---- index and scan agree on every generated situation --------------------------------

SKILLS = ["report", "inquiry", "general"]
statuses_strategy = st.lists(
    st.builds(
        op,
        st.sampled_from([f"op{i}" for i in range(30)]),
        st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=3),
        languages=st.sets(st.sampled_from(["zh", "en"]), max_size=2),
        state=st.sampled_from([AVAILABLE, AVAILABLE, OperatorState.ON_CALL]),
        since=st.integers(0, 50).map(float),
        department=st.sampled_from([None, "", "A", "B"]),
    ),
    max_size=40,
    unique_by=lambda s: s.operator_id,
)
calls_strategy = st.builds(
    call,
    skill=st.sampled_from(SKILLS),
    language=st.sampled_from(["zh", "en"]),
    waited=st.integers(0, 250).map(float),
    urgency=st.sampled_from(list(Urgency)),
    open_case=st.one_of(
        st.none(),
        st.builds(
            OpenCase,
            st.just("2026-0009"),
            st.sampled_from([None, "", "A", "B"]),
            st.sampled_from([None, "op1", "op2", "op3"]),
        ),
    ),
)


@settings(max_examples=300, deadline=None)
@given(statuses=statuses_strategy, facts=calls_strategy)
def test_index_agrees_with_full_scan(statuses: list[OperatorStatus], facts: RoutingFacts) -> None:
    """The incremental index decides exactly as a scan of every operator does."""
    indexed = decide(facts, OperatorIndex(statuses), NOW, POLICY)
    scanned = decide(facts, iter(statuses), NOW, POLICY)
    assert indexed == scanned
    assert indexed.reasons


def test_reasons_explain_the_whole_decision() -> None:
    """The stored reasons name the queue, the priority cue, the wait, the rule and the level."""
    statuses = [
        op("op1001", {"report": 3}, since=900, department="Complaints Office"),
        op("op1003", {"report": 5}, state=OperatorState.WRAP_UP, since=990),
    ]
    case = OpenCase("2026-0001", "Complaints Office", "op1003")
    decision = decide(
        call(waited=95.0, urgency=Urgency.ELDERLY, open_case=case), statuses, NOW, POLICY
    )
    assert decision.reasons == (
        "skill report: queue report",
        "elderly caller: priority 5",
        "waited 95 s: widened to any operator speaking zh; widens at 180 s",
        "repeat caller: prefers op1003 who handled case 2026-0001, but they are wrapping up "
        "a call; best available instead",
        "repeat caller: operators of Complaints Office (case 2026-0001) first",
        "chose op1001: report level 3, Complaints Office, idle 100 s",
    )


def test_status_from_configured_operator() -> None:
    """A configured operator (id, languages, skills) becomes a routable status."""

    class Configured:
        id = "op1001"
        languages = ("zh", "en")
        skills = {"report": 5, "suggestion": 3}  # noqa: RUF012 - read-only stand-in

    status = OperatorStatus.for_operator(Configured(), AVAILABLE, 5.0, department="Complaints")
    assert (status.operator_id, status.languages, status.level("report")) == (
        "op1001",
        frozenset({"zh", "en"}),
        5,
    )
    assert status.level("inquiry") is None


CALLBACK_OFFER = [
    pytest.param([], 299.0, RoutingPolicy(), False, id="before-the-limit"),
    pytest.param([], 300.0, RoutingPolicy(), True, id="at-the-limit"),
    pytest.param([op("a", {"report": 5})], 400.0, RoutingPolicy(), False, id="operator-free"),
    pytest.param([], 9_999.0, RoutingPolicy(offer_callback_after=None), False, id="never"),
]


@pytest.mark.parametrize(("statuses", "waited", "policy", "offered"), CALLBACK_OFFER)
def test_callback_offered_after_maximum_wait(
    prepare: Callable[[list[OperatorStatus]], Operators],
    statuses: list[OperatorStatus],
    waited: float,
    policy: RoutingPolicy,
    offered: bool,
) -> None:
    """A caller still waiting after the policy's maximum wait is offered a callback."""
    decision = route(prepare, statuses, call(waited=waited), policy)
    assert decision.offer_callback is offered
    assert any("offer a callback" in r for r in decision.reasons) is offered
