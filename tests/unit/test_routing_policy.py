"""The routing policy: penalties, widening schedule and its queuerules.conf rendering."""

from __future__ import annotations

import pytest

from ivr.core.routing import (
    DEFAULT_WIDENING,
    GENERAL_POOL_PENALTY,
    LANGUAGE_PENALTY,
    RoutingPolicy,
    WideningStep,
    penalty_for,
    render_queuerules,
)


@pytest.mark.parametrize(("level", "penalty"), [(5, 0), (4, 1), (3, 2), (2, 3), (1, 4)])
def test_penalty_for_level(level: int, penalty: int) -> None:
    """A member's penalty is 5 - level, so experts ring first."""
    assert penalty_for(level) == penalty


@pytest.mark.parametrize("level", [0, 6, -1])
def test_penalty_for_rejects_levels_outside_1_to_5(level: int) -> None:
    """Levels outside 1..5 are a programming error, not a penalty."""
    with pytest.raises(ValueError, match=r"outside 1\.\.5"):
        penalty_for(level)


@pytest.mark.parametrize(
    ("step", "max_penalty"),
    [
        (WideningStep(0, min_level=5), 0),
        (WideningStep(0, min_level=4), 1),
        (WideningStep(30, min_level=2), 3),
        (WideningStep(90, min_level=1, any_skill_with_language=True), LANGUAGE_PENALTY),
        (WideningStep(180, min_level=1, general_pool=True), GENERAL_POOL_PENALTY),
    ],
)
def test_step_max_penalty(step: WideningStep, max_penalty: int) -> None:
    """Each step maps to the QUEUE_MAX_PENALTY that admits exactly its operators."""
    assert step.max_penalty == max_penalty


def test_render_default_queuerules() -> None:
    """The default schedule renders as relative penaltychange lines after a stated start."""
    assert render_queuerules(RoutingPolicy()) == (
        "; Rendered from ivr.core.routing.RoutingPolicy: edit the policy, not this file.\n"
        "; Member penalty = 5 - skill level; 5 = speaks the language, other skill; "
        "6 = general pool.\n"
        "; Start: the dialplan sets QUEUE_MAX_PENALTY=1 (level 4+).\n"
        "[widening]\n"
        "penaltychange => 30,+2  ; level 2+\n"
        "penaltychange => 90,+2  ; any operator with the language\n"
        "penaltychange => 180,+1  ; general pool\n"
    )


def test_render_custom_queuerules() -> None:
    """A custom schedule and rule name render their own section and raises."""
    policy = RoutingPolicy(
        widening=(
            WideningStep(0, min_level=5),
            WideningStep(20, min_level=3),
            WideningStep(60, min_level=3),
        ),
        rule_name="report-fast",
    )
    text = render_queuerules(policy)
    assert "QUEUE_MAX_PENALTY=0 (level 5+)" in text
    assert text.endswith(
        "[report-fast]\npenaltychange => 20,+2  ; level 3+\npenaltychange => 60,+0  ; level 3+\n"
    )


def test_rendered_rules_reach_each_step_max_penalty() -> None:
    """Summing the rendered raises from the start gives each step's own max penalty."""
    text = render_queuerules(RoutingPolicy())
    penalty = DEFAULT_WIDENING[0].max_penalty
    reached = [penalty]
    for line in text.splitlines():
        if line.startswith("penaltychange"):
            penalty += int(line.split(",")[1].split()[0])
            reached.append(penalty)
    assert reached == [step.max_penalty for step in DEFAULT_WIDENING]


@pytest.mark.parametrize(
    ("waited", "index"),
    [(0.0, 0), (29.0, 0), (30.0, 1), (89.9, 1), (90.0, 2), (179.0, 2), (180.0, 3), (1e6, 3)],
)
def test_step_at(waited: float, index: int) -> None:
    """The step in force is the last one whose time has been reached."""
    assert RoutingPolicy().step_at(waited) == (index, DEFAULT_WIDENING[index])


BAD_POLICIES = [
    pytest.param({"widening": ()}, "start with a step at 0 s", id="empty"),
    pytest.param({"widening": (WideningStep(10, 4),)}, "start with a step at 0 s", id="late"),
    pytest.param(
        {"widening": (WideningStep(0, 4), WideningStep(0, 2))},
        "strictly increasing",
        id="same-time",
    ),
    pytest.param(
        {"widening": (WideningStep(0, 2), WideningStep(30, 4))}, "narrows", id="level-rises"
    ),
    pytest.param(
        {"widening": (WideningStep(0, 1, general_pool=True), WideningStep(30, 1))},
        "narrows",
        id="pool-switched-off",
    ),
    pytest.param({"emergency_priority": 11}, "emergency_priority must be 1-10", id="emergency"),
    pytest.param({"elderly_bonus": -1}, "elderly_bonus must be 0-10", id="elderly"),
    pytest.param({"repeat_caller_bonus": 12}, "repeat_caller_bonus must be 0-10", id="repeat"),
    pytest.param(
        {"previous_operator_seconds": 90}, "must end before the search leaves", id="alone-long"
    ),
    pytest.param({"rule_name": "bad name]"}, "not a queuerules.conf section", id="rule-name"),
    pytest.param({"position_every": 10}, "position_every must be 0 .off. or 15-600",
                 id="place-too-often"),
    pytest.param({"position_every": 601}, "position_every must be 0", id="place-too-rare"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_POLICIES)
def test_policy_rejects_schedules_that_do_not_widen(
    kwargs: dict[str, object], message: str
) -> None:
    """A policy that could leave a longer-waiting caller worse off is refused up front."""
    with pytest.raises(ValueError, match=message):
        RoutingPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [-1.0, 30.5, float("nan"), float("inf")])
def test_step_needs_whole_seconds(seconds: float) -> None:
    """app_queue rules count whole seconds, so a step at 30.5 s is refused."""
    with pytest.raises(ValueError, match="whole seconds"):
        WideningStep(seconds, 4)
