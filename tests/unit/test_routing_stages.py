"""The stages of a caller's wait: skill queue, language queue, general pool, and the repeat
caller's own operator first."""

from __future__ import annotations

from ivr.core.routing import RoutingPolicy, plan_stages

POLICY = RoutingPolicy()  # level 4+, level 2+ at 30 s, language at 90 s, pool at 180 s


def stages(**kw: object) -> list[str]:
    args: dict[str, object] = {
        "queue": "inquiry", "general_queue": "hotline", "language": "zh",
        "languages": ("zh", "en"), "priority": 0, "policy": POLICY
    }
    args.update(kw)
    return [s.variable() for s in plan_stages(**args)]  # type: ignore[arg-type]


def test_skill_then_language_then_general_pool() -> None:
    """queue:timeout:priority:max_penalty; each later stage goes ahead of new arrivals."""
    assert stages() == ["inquiry:90:0:1", "lang-zh:90:1:6", "hotline::2:6"]


def test_previous_operator_is_tried_alone_first_and_the_times_still_add_up() -> None:
    assert stages(previous_operator="op1002", priority=1) == [
        "op-op1002:20:1:0", "inquiry:70:1:1", "lang-zh:90:2:6", "hotline::3:6",
    ]


def test_a_language_without_its_queue_goes_from_skill_to_general_pool() -> None:
    assert stages(language="ko") == ["inquiry:180:0:1", "hotline::1:6"]


def test_emergency_priority_is_never_lowered_and_others_never_reach_it() -> None:
    assert [s.split(":")[2] for s in stages(priority=10)] == ["10", "10", "10"]
    assert [s.split(":")[2] for s in stages(priority=9)] == ["9", "9", "9"]


def test_general_queue_caller_is_offered_to_everyone_at_once() -> None:
    """The general pool is never gated by time: every logged-in operator is a member, the
    best level rings first, then the longest idle, whatever the caller's language."""
    assert stages(queue="hotline") == ["hotline::0:6"]
    assert stages(queue="hotline", language="ko") == ["hotline::0:6"]
    assert stages(queue="hotline", previous_operator="op1002") == [
        "op-op1002:20:0:0", "hotline::0:6"]


def test_previous_operator_is_not_tried_alone_when_the_policy_says_0_s() -> None:
    assert stages(previous_operator="op1002", policy=RoutingPolicy(previous_operator_seconds=0)) \
        == ["inquiry:90:0:1", "lang-zh:90:1:6", "hotline::2:6"]


def test_every_stage_says_why() -> None:
    planned = plan_stages(
        queue="inquiry", general_queue="hotline", language="en", languages=("zh", "en"),
        priority=0, policy=POLICY, previous_operator="op1003",
    )
    reasons = [s.reason for s in planned]
    assert "op1003 handled the caller's open case" in reasons[0]
    assert "level 4+ first" in reasons[1]
    assert "any operator speaking en from 90 s" in reasons[2]
    assert "the general pool from 180 s" in reasons[3]
