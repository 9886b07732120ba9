"""The one routing decision every live call runs (``plan_call``): priorities, stages,
announcements and reasons, from call facts, the policy and the queue's live load."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ivr.core.routing import (
    Announcement,
    OpenCase,
    QueueLoad,
    Roster,
    RoutingFacts,
    RoutingPolicy,
    Urgency,
    plan_call,
)


@dataclass(frozen=True)
class Op:
    id: str
    skills: dict[str, int] = field(default_factory=dict)


ROSTER = Roster.build(
    ["hotline", "inquiry", "utilities"], "hotline", ["zh", "en"],
    [Op("op1002", {"inquiry": 5}), Op("op1004", {"hotline": 4}), Op("op1008", {"inquiry": 2})],
)
POLICY = RoutingPolicy()  # emergency 10, elderly +1, repeat +1, previous operator 20 s
BUSY = OpenCase("6352000018", "inquiry", "new", "op1002", operator_free=False)
FREE = OpenCase("6352000018", "inquiry", "new", "op1002", operator_free=True)
QUIET = QueueLoad(waiting=0, available=1, staffed=1, average_handle=300.0)


def facts(**kw: object) -> RoutingFacts:
    args: dict[str, object] = {"skill": "inquiry", "language": "zh", "flow_node": "route_inquiry",
                               "flow_priority": 5}
    args.update(kw)
    return RoutingFacts(**args)  # type: ignore[arg-type]


PRIORITIES = [
    pytest.param({}, POLICY, 5, id="normal: the flow's priority"),
    pytest.param({"urgency": Urgency.EMERGENCY}, POLICY, 10, id="emergency"),
    pytest.param({"urgency": Urgency.ELDERLY}, POLICY, 6, id="elderly +1"),
    pytest.param({"open_case": BUSY}, POLICY, 6, id="repeat caller +1"),
    pytest.param({"urgency": Urgency.ELDERLY, "open_case": BUSY}, POLICY, 7, id="both add up"),
    pytest.param({"urgency": Urgency.EMERGENCY, "open_case": BUSY}, POLICY, 10,
                 id="emergency is the top"),
    pytest.param({"flow_priority": 9, "urgency": Urgency.ELDERLY}, POLICY, 9,
                 id="never reaches emergency"),
    pytest.param({"flow_priority": 10, "open_case": BUSY}, POLICY, 10, id="never lowered"),
    pytest.param({"flow_priority": 3, "open_case": BUSY},
                 RoutingPolicy(repeat_caller_bonus=3), 6, id="configured bonus"),
    pytest.param({"urgency": Urgency.ELDERLY}, RoutingPolicy(elderly_bonus=0), 5,
                 id="bonus 0: no effect"),
    pytest.param({"urgency": Urgency.EMERGENCY}, RoutingPolicy(emergency_priority=8), 8,
                 id="configured emergency"),
    pytest.param({"open_case": BUSY, "flow_priority": 7}, RoutingPolicy(emergency_priority=8), 7,
                 id="below a lower emergency"),
]


@pytest.mark.parametrize(("given", "policy", "priority"), PRIORITIES)
def test_priority(given: dict[str, object], policy: RoutingPolicy, priority: int) -> None:
    """Who goes ahead: the flow's base priority, raised by the configured rules."""
    plan = plan_call(facts(**given), ROSTER, QUIET, policy)
    assert plan.priority == priority
    assert plan.stages[0].priority == priority


STAGES = [
    pytest.param({}, ["inquiry:90:5:1", "lang-zh:90:6:6", "hotline::7:6"], id="widens"),
    pytest.param({"urgency": Urgency.EMERGENCY},
                 ["inquiry:90:10:1", "lang-zh:90:10:6", "hotline::10:6"], id="emergency stays"),
    pytest.param({"open_case": FREE},
                 ["op-op1002:20:6:0", "inquiry:70:6:1", "lang-zh:90:7:6", "hotline::8:6"],
                 id="previous operator free: alone first"),
    pytest.param({"open_case": BUSY}, ["inquiry:90:6:1", "lang-zh:90:7:6", "hotline::8:6"],
                 id="previous operator busy: not tried"),
    pytest.param({"skill": "parking"}, ["hotline::5:6"],
                 id="unknown skill: the general queue, everyone at once"),
    pytest.param({"language": "ko"}, ["inquiry:180:5:1", "hotline::6:6"],
                 id="no language queue"),
]


@pytest.mark.parametrize(("given", "stages"), STAGES)
def test_stages(given: dict[str, object], stages: list[str]) -> None:
    """The queues the dialplan runs, as IVR_STAGE_<n> = queue:timeout:priority:max_penalty."""
    plan = plan_call(facts(**given), ROSTER, QUIET, POLICY)
    assert [s.variable() for s in plan.stages] == stages
    assert plan.queue == ("hotline" if given.get("skill") == "parking" else "inquiry")


ANNOUNCEMENTS = [
    pytest.param(QueueLoad(0, 1, 1, 300.0), None, id="an operator is free: nothing said"),
    pytest.param(QueueLoad(0, 0, 1, 300.0), Announcement(1, 5), id="all busy: place and wait"),
    pytest.param(QueueLoad(3, 0, 2, 120.0), Announcement(4, 4), id="behind three"),
    pytest.param(QueueLoad(1, 1, 3, 60.0), Announcement(2, 1), id="at least a minute"),
    pytest.param(QueueLoad(2, 0, 0, 300.0), Announcement(3, None), id="nobody staffs it"),
    pytest.param(QueueLoad(0, 0, 2, None), Announcement(1, None), id="no measured handle time"),
    pytest.param(QueueLoad(), Announcement(1, None), id="no figures at all"),
]


BUSY_LINE = {5: 3, 6: 1, 10: 1, None: 1}  # six waiting: QUEUE_PRIO -> callers
PLACES = [
    pytest.param({}, 6 + 1, id="normal (5): behind everyone at 5 and above, and the unknown"),
    pytest.param({"urgency": Urgency.ELDERLY}, 3 + 1, id="elderly (6): behind 6, 10, unknown"),
    pytest.param({"urgency": Urgency.EMERGENCY}, 2 + 1, id="emergency (10): behind 10, unknown"),
    pytest.param({"flow_priority": 3}, 6 + 1, id="lower (3): behind all"),
]


@pytest.mark.parametrize(("given", "position"), PLACES)
def test_place_counts_only_the_callers_served_first(
    given: dict[str, object], position: int
) -> None:
    """app_queue serves higher priorities first and equals in arrival order: the announced
    place counts those; a caller of unknown priority counts as ahead (no false promise)."""
    load = QueueLoad(waiting=6, available=0, staffed=2, average_handle=60.0,
                     waiting_by_priority=BUSY_LINE)
    announcement = plan_call(facts(**given), ROSTER, load, POLICY).announcement
    assert announcement is not None
    assert announcement.position == position


def test_a_free_operator_and_only_lower_priorities_waiting_means_answered_at_once() -> None:
    """An emergency with an operator free and only normal callers waiting is not told a
    place: it is the next call app_queue offers."""
    load = QueueLoad(waiting=3, available=1, staffed=2, average_handle=60.0,
                     waiting_by_priority={5: 3})
    assert plan_call(facts(urgency=Urgency.EMERGENCY), ROSTER, load, POLICY).announcement is None


@pytest.mark.parametrize(("load", "announcement"), ANNOUNCEMENTS)
def test_announcement(load: QueueLoad, announcement: Announcement | None) -> None:
    """A caller who will wait hears their place; a wait only when live figures give one."""
    assert plan_call(facts(), ROSTER, load, POLICY).announcement == announcement


def test_no_announcement_when_the_previous_operator_is_free() -> None:
    """The repeat caller's own operator is free and rung first: no place in line to tell."""
    busy = QueueLoad(waiting=4, available=0, staffed=2, average_handle=300.0)
    assert plan_call(facts(open_case=FREE), ROSTER, busy, POLICY).announcement is None


def test_reasons_say_what_decided_and_why() -> None:
    """Every rule that changed the call is in its reasons, in the order it applied."""
    plan = plan_call(
        facts(urgency=Urgency.ELDERLY, evidence="独居老人", open_case=FREE), ROSTER, QUIET, POLICY,
    )
    assert plan.reasons[:3] == (
        "flow node route_inquiry: skill inquiry, priority 5",
        "elderly caller '独居老人': priority 5 -> 6",
        "repeat caller with open case 6352000018 (inquiry, new): priority 6 -> 7",
    )
    why = " | ".join(plan.reasons)
    assert "skilled operators: op1002 level 5, op1008 level 2" in why
    assert "widening: level 4+ operators speaking zh at once; level 2+" in why
    assert "stage 1: op1002 handled the caller's open case and is free" in why
    emergency = plan_call(facts(urgency=Urgency.EMERGENCY, evidence="煤气味"), ROSTER, QUIET,
                          POLICY)
    assert "emergency cue '煤气味': priority 5 -> 10" in emergency.reasons
    unknown = plan_call(facts(skill="parking"), ROSTER, QUIET, POLICY)
    assert "skill parking is not configured: general queue hotline" in unknown.reasons


def test_a_large_roster_names_the_best_five_and_counts_the_rest() -> None:
    """At Beijing size a reason stays one line: the five best, then how many more."""
    roster = Roster.build(["inquiry"], "inquiry", ["zh"],
                          [Op(f"op{n:04d}", {"inquiry": 1 + n % 5}) for n in range(1700)])
    plan = plan_call(facts(), roster, QUIET, POLICY)
    [reason] = [r for r in plan.reasons if r.startswith("queue inquiry")]
    assert reason.endswith("op0004 level 5, op0009 level 5, op0014 level 5, op0019 level 5, "
                           "op0024 level 5 and 1695 more")


@pytest.mark.parametrize(("value", "urgency"), [
    ("emergency", Urgency.EMERGENCY), ("elderly", Urgency.ELDERLY), ("normal", Urgency.NORMAL),
    ("", Urgency.NORMAL), (None, Urgency.NORMAL), ("panic", Urgency.NORMAL),
])
def test_urgency_from_a_call_variable(value: str | None, urgency: Urgency) -> None:
    """The flow's ``urgency`` variable; anything unknown is a normal call."""
    assert Urgency.of(value) is urgency


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"skill": ""}, "skill"), ({"language": ""}, "language"), ({"flow_priority": 11}, "0-10"),
])
def test_impossible_facts_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        facts(**kwargs)
