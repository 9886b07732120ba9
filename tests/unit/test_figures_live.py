"""Live figures per skill from app_queue's AMI events: calls, operators, windows, snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.core.figures import (
    CallOutcome,
    LiveFigures,
    Outcome,
    SkillFigures,
    Target,
    skill_families,
)
from ivr.core.protocols.ami import AmiEvent
from ivr.core.routing import OperatorState

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
Q = "report"
ALICE = "PJSIP/op-alice"
BOB = "PJSIP/op-bob"

Step = tuple[float, AmiEvent]


def ev(name: str, **fields: object) -> AmiEvent:
    return AmiEvent(name, {k: str(v) for k, v in fields.items()})


def join(uid: str, queue: str = Q) -> AmiEvent:
    return ev("QueueCallerJoin", Queue=queue, Uniqueid=uid, Position=1, CallerIDNum="13800138000")


def leave(uid: str, queue: str = Q) -> AmiEvent:
    return ev("QueueCallerLeave", Queue=queue, Uniqueid=uid, Position=1, Count=0)


def abandon(uid: str, hold: int, queue: str = Q) -> AmiEvent:
    return ev(
        "QueueCallerAbandon", Queue=queue, Uniqueid=uid, HoldTime=hold, Position=1,
        OriginalPosition=1,
    )


def called(uid: str, interface: str = ALICE) -> AmiEvent:
    return ev("AgentCalled", Queue=Q, Uniqueid=uid, Interface=interface, MemberName=interface)


def no_answer(uid: str, interface: str = ALICE) -> AmiEvent:
    return ev("AgentRingNoAnswer", Queue=Q, Uniqueid=uid, Interface=interface, RingTime=15)


def connect(uid: str, hold: int, interface: str = ALICE) -> AmiEvent:
    return ev(
        "AgentConnect", Queue=Q, Uniqueid=uid, Interface=interface, MemberName=interface,
        HoldTime=hold, RingTime=3,
    )


def complete(uid: str, hold: int, talk: int, interface: str = ALICE) -> AmiEvent:
    return ev(
        "AgentComplete", Queue=Q, Uniqueid=uid, Interface=interface, MemberName=interface,
        HoldTime=hold, TalkTime=talk, Reason="caller",
    )


def member(
    name: str = "QueueMemberAdded", interface: str = ALICE, status: int = 1, paused: int = 0,
    reason: str = "", wrapup: int = 0, queue: str = Q,
) -> AmiEvent:
    return ev(
        name, Queue=queue, Interface=interface, StateInterface=interface, MemberName=interface,
        Membership="dynamic", Penalty=0, Status=status, Paused=paused, PausedReason=reason,
        InCall=0, Wrapuptime=wrapup,
    )


def feed(steps: Sequence[Step], figures: LiveFigures | None = None) -> LiveFigures:
    live = figures or LiveFigures({Q: Target(80, 20)}, wrap_up_seconds=30)
    for offset, event in steps:
        live.apply(event, T0 + offset)
    return live


def summary(f: SkillFigures) -> dict[str, object]:
    return {
        "waiting": f.waiting,
        "offered": f.today.offered,
        "answered": f.today.answered,
        "abandoned": f.today.abandoned,
        "available": f.operators.available,
        "busy": f.operators.busy,
        "wrap_up": f.operators.wrap_up,
        "paused": f.operators.paused,
        "sl": f.today.service_level_percent,
    }


SEQUENCES = [
    pytest.param(
        [(0, member()), (1, join("c1")), (2, called("c1")), (6, leave("c1")),
         (6, connect("c1", 5)), (126, complete("c1", 5, 120))],
        130,
        {"waiting": 0, "offered": 1, "answered": 1, "abandoned": 0, "available": 0,
         "busy": 0, "wrap_up": 1, "paused": 0, "sl": 100.0},
        id="join-connect-complete-then-wrap-up",
    ),
    pytest.param(
        [(0, member()), (1, join("c1")), (2, called("c1")), (6, leave("c1")),
         (6, connect("c1", 5)), (126, complete("c1", 5, 120))],
        157,
        {"waiting": 0, "offered": 1, "answered": 1, "abandoned": 0, "available": 1,
         "busy": 0, "wrap_up": 0, "paused": 0, "sl": 100.0},
        id="available-after-wrap-up",
    ),
    pytest.param(
        [(0, member()), (1, join("c1")), (2, called("c1")), (7, connect("c1", 6))],
        60,
        {"waiting": 0, "offered": 1, "answered": 1, "abandoned": 0, "available": 0,
         "busy": 1, "wrap_up": 0, "paused": 0, "sl": 100.0},
        id="connect-before-leave-is-on-call",
    ),
    pytest.param(
        [(0, member()), (1, join("c1")), (31, abandon("c1", 30)), (31, leave("c1"))],
        40,
        {"waiting": 0, "offered": 1, "answered": 0, "abandoned": 1, "available": 1,
         "busy": 0, "wrap_up": 0, "paused": 0, "sl": 0.0},
        id="join-abandon",
    ),
    pytest.param(
        [(0, member()), (1, join("c1")), (2, called("c1"))],
        5,
        {"waiting": 1, "offered": 1, "answered": 0, "abandoned": 0, "available": 0,
         "busy": 1, "wrap_up": 0, "paused": 0, "sl": None},
        id="ringing-is-busy",
    ),
    pytest.param(
        [(0, member()), (1, join("c1")), (2, called("c1")), (17, no_answer("c1"))],
        20,
        {"waiting": 1, "offered": 1, "answered": 0, "abandoned": 0, "available": 1,
         "busy": 0, "wrap_up": 0, "paused": 0, "sl": None},
        id="ring-no-answer-frees-operator",
    ),
    pytest.param(
        [(0, member()), (5, member("QueueMemberPause", paused=1, reason="lunch"))],
        10,
        {"waiting": 0, "offered": 0, "answered": 0, "abandoned": 0, "available": 0,
         "busy": 0, "wrap_up": 0, "paused": 1, "sl": None},
        id="pause",
    ),
    pytest.param(
        [(0, member()), (5, member("QueueMemberPause", paused=1, reason="lunch")),
         (9, member("QueueMemberPause", paused=0))],
        10,
        {"waiting": 0, "offered": 0, "answered": 0, "abandoned": 0, "available": 1,
         "busy": 0, "wrap_up": 0, "paused": 0, "sl": None},
        id="unpause",
    ),
    pytest.param(
        [(0, member()), (5, member("QueueMemberPause", paused=1, reason="wrap-up"))],
        10,
        {"waiting": 0, "offered": 0, "answered": 0, "abandoned": 0, "available": 0,
         "busy": 0, "wrap_up": 1, "paused": 0, "sl": None},
        id="paused-for-wrap-up-is-wrap-up",
    ),
    pytest.param(
        [(0, member()), (0, member(interface=BOB)), (5, member("QueueMemberRemoved"))],
        10,
        {"waiting": 0, "offered": 0, "answered": 0, "abandoned": 0, "available": 1,
         "busy": 0, "wrap_up": 0, "paused": 0, "sl": None},
        id="member-added-and-removed",
    ),
    pytest.param(
        [(0, member()), (3, member("QueueMemberStatus", status=2))],
        10,
        {"waiting": 0, "offered": 0, "answered": 0, "abandoned": 0, "available": 0,
         "busy": 1, "wrap_up": 0, "paused": 0, "sl": None},
        id="device-in-use-is-busy",
    ),
    pytest.param(
        [(0, member()), (1, join("c1")), (400, leave("c1"))],
        401,
        {"waiting": 0, "offered": 1, "answered": 0, "abandoned": 0, "available": 1,
         "busy": 0, "wrap_up": 0, "paused": 0, "sl": None},
        id="left-unanswered-is-neither",
    ),
    pytest.param(
        [(1, join("c1")), (2, join("c1"))],
        3,
        {"waiting": 1, "offered": 1, "answered": 0, "abandoned": 0, "available": 0,
         "busy": 0, "wrap_up": 0, "paused": 0, "sl": None},
        id="repeated-join-counted-once",
    ),
]


@pytest.mark.parametrize(("steps", "now", "expected"), SEQUENCES)
def test_event_sequences(steps: list[Step], now: float, expected: dict[str, object]) -> None:
    """Each sequence of queue events leaves the skill's figures a supervisor would expect."""
    assert summary(feed(steps).figures(Q, T0 + now)) == expected


def test_member_wrap_up_time_overrides_queue_default() -> None:
    """A member's own Wrapuptime decides how long they stay in wrap-up after a call."""
    steps = [(0, member(wrapup=10)), (1, join("c1")), (3, connect("c1", 2)),
             (63, complete("c1", 2, 60))]
    live = feed(steps)
    assert live.figures(Q, T0 + 72).operators.wrap_up == 1
    assert live.figures(Q, T0 + 73).operators.available == 1
    assert live.figures(Q, T0 + 73).today.wrap_up_seconds == 10


def test_ringall_other_rings_end_when_the_call_is_answered() -> None:
    """Operators rung together for a caller stop counting as ringing once one answers."""
    steps = [(0, member()), (0, member(interface=BOB)), (1, join("c1")),
             (2, called("c1")), (2, called("c1", BOB)), (5, connect("c1", 4, BOB))]
    ops = feed(steps).figures(Q, T0 + 6).operators
    assert (ops.available, ops.ringing, ops.on_call) == (1, 0, 1)


def test_unreachable_phone_is_unavailable_not_on_duty() -> None:
    """A member whose phone is unregistered (AST_DEVICE_UNAVAILABLE) is not on duty."""
    ops = feed([(0, member(status=5)), (0, member(interface=BOB))]).figures(Q, T0 + 1).operators
    assert (ops.unavailable, ops.available, ops.on_duty, ops.staffed) == (1, 1, 1, 1)


def test_outcomes_returned_for_call_records() -> None:
    """Answered (wait known), completed and abandoned calls come back as outcomes; other
    events return None."""
    live = feed([(0, member())])
    assert live.apply(join("c1"), T0 + 1) is None
    assert live.apply(join("c2"), T0 + 1) is None
    assert live.apply(connect("c1", 4), T0 + 5) == CallOutcome(
        Q, T0 + 1, Outcome.ANSWERED, 4.0, completed=False, uniqueid="c1", operator=ALICE)
    done = live.apply(complete("c1", 4, 100), T0 + 105)
    gone = live.apply(abandon("c2", 50), T0 + 51)
    assert done == CallOutcome(
        Q, T0 + 1, Outcome.ANSWERED, 4.0, 100.0, 30.0, uniqueid="c1", operator=ALICE
    )
    assert gone == CallOutcome(Q, T0 + 1, Outcome.ABANDONED, 50.0, uniqueid="c2")


def test_longest_wait_is_the_oldest_waiting_caller() -> None:
    """Longest wait counts from the join of the caller waiting longest, now."""
    live = feed([(10, join("a")), (20, join("b")), (30, join("c")), (35, leave("a"))])
    f = live.figures(Q, T0 + 50)
    assert (f.waiting, f.longest_wait_seconds) == (2, 30.0)


def test_operator_states_in_routing_terms() -> None:
    """Members map onto routing's operator states (ringing is on a call)."""
    steps = [(0, member()), (0, member(interface=BOB, paused=1, reason="training")),
             (1, join("c1")), (2, called("c1"))]
    assert feed(steps).operator_states(Q, T0 + 3) == {
        ALICE: OperatorState.ON_CALL, BOB: OperatorState.PAUSED,
    }


# -- service level and abandon rate -------------------------------------------------------

SERVICE_LEVELS = [
    pytest.param([5, 10, 20], [], 100.0, 0.0, 35 / 3, id="at-threshold-is-within"),
    pytest.param([5, 21], [], 50.0, 0.0, 13.0, id="one-second-late"),
    pytest.param([5, 10, 30], [40], 50.0, 25.0, 15.0, id="abandon-counts-against"),
    pytest.param([5], [3], 50.0, 50.0, 5.0, id="short-abandon-counts-too"),
    pytest.param([], [60], 0.0, 100.0, None, id="only-abandons"),
    pytest.param([], [], None, None, None, id="no-calls-no-level"),
]


@pytest.mark.parametrize(("answers", "abandons", "sl", "abandon_rate", "asa"), SERVICE_LEVELS)
def test_service_level_and_abandon_rate(
    answers: list[int], abandons: list[int], sl: float | None, abandon_rate: float | None,
    asa: float | None,
) -> None:
    """SL = answered within 20 s / (answered + abandoned); ASA averages answered waits."""
    steps: list[Step] = [(0, member())]
    for n, hold in enumerate(answers):
        steps += [(1, join(f"a{n}")), (1 + hold, connect(f"a{n}", hold))]
    for n, hold in enumerate(abandons):
        steps += [(1, join(f"b{n}")), (1 + hold, abandon(f"b{n}", hold))]
    counts = feed(steps).figures(Q, T0 + 100).today
    assert counts.service_level_percent == (pytest.approx(sl) if sl is not None else None)
    assert counts.abandon_rate_percent == abandon_rate
    assert counts.average_speed_of_answer == (pytest.approx(asa) if asa is not None else None)


def test_lenient_service_level_ignores_short_abandons() -> None:
    """The lenient variant leaves out callers who hung up within the threshold."""
    steps = [(0, join("a")), (5, connect("a", 5)), (0, join("b")), (3, abandon("b", 3))]
    counts = feed(steps).figures(Q, T0 + 10).today
    assert counts.service_level_percent == 50.0
    assert counts.service_level_without_short_abandons_percent == 100.0


def test_handle_time_includes_wrap_up() -> None:
    """AHT = (talk + wrap-up) / completed; average talk time leaves wrap-up out."""
    steps = [(0, member()), (1, join("a")), (2, connect("a", 1)), (102, complete("a", 1, 100)),
             (200, join("b")), (201, connect("b", 1)), (501, complete("b", 1, 300))]
    counts = feed(steps).figures(Q, T0 + 600).today
    assert (counts.average_talk_time, counts.average_handle_time) == (200.0, 230.0)


# -- windows and buckets ------------------------------------------------------------------

WINDOWS = [
    pytest.param(0, 14 * 60 + 59, 1, id="last-second-of-window-includes-minute-0"),
    pytest.param(0, 15 * 60, 0, id="minute-0-slides-out"),
    pytest.param(59, 15 * 60, 0, id="whole-minutes-slide-together"),
    pytest.param(60, 15 * 60, 1, id="minute-1-still-in"),
]


@pytest.mark.parametrize(("event_at", "now", "offered"), WINDOWS)
def test_sliding_window_boundaries(event_at: float, now: float, offered: int) -> None:
    """The 15-minute window holds the current minute and the 14 before it."""
    f = feed([(event_at, join("c1"))]).figures(Q, T0 + now)
    assert (f.window.offered, f.window_seconds) == (offered, 900)


def test_hour_long_window_on_request() -> None:
    """A one-hour window can be asked for per call; it is capped at max_window_seconds."""
    live = feed([(0, join("a")), (1800, join("b"))])
    assert live.figures(Q, T0 + 3599, window_seconds=3600).window.offered == 2
    assert live.figures(Q, T0 + 3599, window_seconds=7200).window_seconds == 3600


def test_interval_buckets_split_at_the_quarter_hour() -> None:
    """Calls at 14:59.9 and 15:00 go to different 15-minute bars; hourly bars add them up."""
    live = feed([(899.9, join("a")), (900, join("b")), (3600, join("c"))])
    bars = live.history(Q, T0 + 3600, hours=1.25)
    assert [(b.start - T0, b.counts.offered) for b in bars] == [
        (0, 1), (900, 1), (1800, 0), (2700, 0), (3600, 1),
    ]
    hours = live.history(Q, T0 + 3600, hours=2, per=3600)
    assert [(b.start - T0, b.counts.offered) for b in hours] == [(0, 2), (3600, 1)]


def test_last_interval_is_the_previous_complete_one() -> None:
    """The staffing interval is the last complete quarter hour, not the one in progress."""
    f = feed([(100, join("a")), (950, join("b")), (960, join("c"))]).figures(Q, T0 + 1000)
    assert (f.last_interval.offered, f.current_interval.offered) == (1, 2)


def test_buckets_older_than_kept_hours_are_dropped() -> None:
    """Intervals beyond keep_hours vanish from the charts; memory does not grow with time."""
    live = LiveFigures({Q: Target(80, 20)}, keep_hours=2)
    for n in range(0, 6 * 3600, 60):
        live.apply(join(f"c{n}"), T0 + n)
        live.apply(leave(f"c{n}"), T0 + n + 1)
    bars = live.history(Q, T0 + 6 * 3600 - 1, hours=4)
    assert [b.counts.offered for b in bars] == [0] * 8 + [15] * 8
    assert len(live._skills[Q].intervals.buckets) <= 8
    assert len(live._skills[Q].minutes.buckets) <= 61
    assert live.apply(join("late"), T0) is None  # too old to chart: counted today only
    assert live.figures(Q, T0 + 6 * 3600).today.offered == 361


def test_today_starts_at_local_midnight() -> None:
    """In Beijing time (UTC+8) "today" restarts at 16:00 UTC."""
    live = LiveFigures({Q: Target(80, 20)}, tz=ZoneInfo("Asia/Shanghai"))
    midnight_local = T0 + 16 * 3600
    live.apply(join("a"), midnight_local - 1)
    live.apply(join("b"), midnight_local)
    assert live.figures(Q, midnight_local - 0.5).today.offered == 1
    assert live.figures(Q, midnight_local + 10).today.offered == 1
    assert live.figures(Q, midnight_local + 10).window.offered == 2


# -- snapshot after an AMI reconnect -------------------------------------------------------

def status_response(entries: list[tuple[str, int]], members: list[tuple[str, int, int]]
                    ) -> list[AmiEvent]:
    out = [ev("QueueParams", Queue=Q, Max=0, Strategy="rrmemory", Calls=len(entries))]
    out += [
        ev("QueueMember", Queue=Q, Name=iface, Location=iface, StateInterface=iface,
           Membership="dynamic", Penalty=0, CallsTaken=0, InCall=0, Status=status,
           Paused=paused, PausedReason="break" if paused else "", Wrapuptime=0)
        for iface, status, paused in members
    ]
    out += [
        ev("QueueEntry", Queue=Q, Position=n + 1, Channel=f"PJSIP/x-{uid}", Uniqueid=uid,
           CallerIDNum="13800138000", Wait=wait, Priority=0)
        for n, (uid, wait) in enumerate(entries)
    ]
    return [
        ev("", Response="Success", Message="Queue status will follow"),
        *out,
        ev("QueueStatusComplete", EventList="Complete", ListItems=len(out)),
    ]


def test_snapshot_replaces_rather_than_adds() -> None:
    """After a reconnect the snapshot is the truth: no caller or operator counted twice."""
    live = feed([(0, member()), (0, member(interface=BOB)), (10, join("c1")), (20, join("c2"))])
    response = status_response([("c1", 90), ("c3", 40)], [(ALICE, 2, 0), ("PJSIP/op-carol", 1, 1)])
    loaded = live.load_snapshot(response, T0 + 100)
    f = live.figures(Q, T0 + 100)
    assert (f.waiting, f.longest_wait_seconds, f.today.offered) == (2, 90.0, 3)
    assert (f.operators.busy, f.operators.paused, f.operators.available) == (1, 1, 0)
    assert (loaded.waiting, loaded.members, loaded.offered_late) == (2, 2, 1)
    live.load_snapshot(response, T0 + 100)
    assert summary(live.figures(Q, T0 + 100)) == summary(f)
    assert live.ignored == {}  # QueueStatusComplete and the like are not malformed


def test_snapshot_does_not_resurrect_a_caller_who_just_left() -> None:
    """A leave that overtook the QueueStatus response keeps that caller gone."""
    live = feed([(10, join("c1")), (20, join("c2")), (30, leave("c2"))])
    loaded = live.load_snapshot(status_response([("c1", 20), ("c2", 10)], []), T0 + 30)
    assert (live.figures(Q, T0 + 30).waiting, loaded.skipped_gone) == (1, 1)


def test_snapshot_counts_a_lost_join_once() -> None:
    """A caller first seen in the snapshot is offered once, even when its join arrives later."""
    live = feed([])
    live.load_snapshot(status_response([("c9", 5)], []), T0 + 100)
    live.apply(join("c9"), T0 + 101)
    f = live.figures(Q, T0 + 102)
    assert (f.waiting, f.today.offered, f.longest_wait_seconds) == (1, 1, 7.0)


def test_snapshot_clears_queues_asterisk_no_longer_has() -> None:
    """A queue missing from the full QueueStatus response has nobody waiting or logged in."""
    live = feed([(0, member(queue="old")), (1, join("c1", queue="old"))])
    live.load_snapshot(status_response([], []), T0 + 2)
    f = live.figures("old", T0 + 2)
    assert (f.waiting, f.operators.on_duty, f.today.offered) == (0, 0, 1)


def test_empty_snapshot_changes_nothing() -> None:
    """A QueueStatus that returned no queue at all (a failed action) keeps the live state."""
    live = feed([(0, member()), (1, join("c1"))])
    before = summary(live.figures(Q, T0 + 5))
    live.load_snapshot([ev("QueueStatusComplete", ListItems=0)], T0 + 5)
    assert summary(live.figures(Q, T0 + 5)) == before
    assert live.ignored == {"snapshot: no queue in the response": 1}


def test_malformed_snapshot_entry_is_skipped_and_counted() -> None:
    """A QueueEntry without a Uniqueid is left out of the waiting callers and counted."""
    response = [*status_response([("c1", 5)], []), ev("QueueEntry", Queue=Q, Wait=3)]
    live = feed([])
    live.load_snapshot(response, T0 + 10)
    assert live.figures(Q, T0 + 10).waiting == 1
    assert live.ignored == {"snapshot QueueEntry: missing Uniqueid": 1}


# -- malformed and unknown events -----------------------------------------------------------

MALFORMED = [
    pytest.param(ev("QueueCallerJoin", Uniqueid="x"), "QueueCallerJoin: missing Queue",
                 id="join-without-queue"),
    pytest.param(ev("QueueCallerJoin", Queue=Q), "QueueCallerJoin: missing Uniqueid",
                 id="join-without-uniqueid"),
    pytest.param(ev("AgentConnect", Queue=Q, Uniqueid="x", Interface=ALICE, HoldTime="soon"),
                 "AgentConnect: bad HoldTime", id="non-numeric-hold"),
    pytest.param(ev("QueueCallerAbandon", Queue=Q, Uniqueid="x", HoldTime="-4"),
                 "QueueCallerAbandon: bad HoldTime", id="negative-hold"),
    pytest.param(ev("AgentComplete", Queue=Q, Interface=ALICE, HoldTime=1),
                 "AgentComplete: missing TalkTime", id="complete-without-talk"),
    pytest.param(ev("AgentConnect", Queue=Q, Uniqueid="x", HoldTime=1),
                 "AgentConnect: missing Interface", id="connect-without-operator"),
    pytest.param(ev("QueueMemberStatus", Queue=Q, Interface=ALICE, Status="on"),
                 "QueueMemberStatus: bad Status", id="non-numeric-status"),
    pytest.param(ev("Newchannel", Channel="PJSIP/x"), "not a queue event", id="unrelated"),
    pytest.param(ev("", Queue=Q), "not a queue event", id="nameless"),
]


@pytest.mark.parametrize(("event", "reason"), MALFORMED)
def test_malformed_events_are_counted_and_ignored(event: AmiEvent, reason: str) -> None:
    """A malformed or unrelated event changes no figure, is counted by reason, never raises."""
    live = feed([(0, member()), (1, join("c1"))])
    before = summary(live.figures(Q, T0 + 5))
    assert live.apply(event, T0 + 2) is None
    assert summary(live.figures(Q, T0 + 5)) == before
    assert live.ignored == {reason: 1}


@pytest.mark.parametrize("at", [float("nan"), float("inf"), -1.0, 1e15])
def test_event_at_impossible_time_is_ignored(at: float) -> None:
    """An event stamped NaN, before 1970 or after 3000 cannot be bucketed and is ignored."""
    live = feed([])
    live.apply(join("c1"), at)
    live.load_snapshot(status_response([("c2", 1)], []), at)
    assert live.figures(Q, T0).waiting == 0
    assert dict(live.ignored) == {"QueueCallerJoin: bad time": 1, "snapshot: bad time": 1}


EVENT_NAMES = st.sampled_from([
    "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled", "AgentConnect",
    "AgentComplete", "AgentRingNoAnswer", "AgentDump", "QueueMemberAdded", "QueueMemberRemoved",
    "QueueMemberStatus", "QueueMemberPause", "QueueMember", "QueueEntry", "QueueParams", "X",
])
FIELD_NAMES = st.sampled_from([
    "Queue", "Uniqueid", "Interface", "StateInterface", "MemberName", "HoldTime", "TalkTime",
    "Status", "Paused", "PausedReason", "InCall", "Wrapuptime", "Wait", "Location", "Name",
])
VALUES = st.one_of(
    st.sampled_from(["", "0", "1", "2", "6", "-1", "nan", "inf", "1e400", "1e300", "1e12", Q,
                     ALICE, "c1"]),
    st.text(max_size=8),
)
EVENTS = st.builds(
    AmiEvent, EVENT_NAMES, st.dictionaries(FIELD_NAMES, VALUES, max_size=8)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 10_000), EVENTS), max_size=30))
def test_arbitrary_events_never_raise(steps: list[tuple[float, AmiEvent]]) -> None:
    """Whatever arrives, in whatever order, figures and snapshots stay computable."""
    live = LiveFigures({Q: Target(80, 20)})
    for offset, event in steps:
        live.apply(event, T0 + offset)
    live.load_snapshot([event for _, event in steps], T0 + 10_000)
    for skill in live.skills():
        f = live.figures(skill, T0 + 10_001)
        assert f.waiting >= 0
        assert f.longest_wait_seconds >= 0
        live.history(skill, T0 + 10_001)


def test_metric_families_for_prometheus() -> None:
    """/metrics shows each skill's gauges; underivable figures are left out."""
    live = feed([(0, member()), (1, join("c1")), (5, connect("c1", 4)), (6, join("c2")),
                 (7, ev("QueueCallerJoin", Uniqueid="x"))])
    live.apply(join("c3", queue='we"ird'), T0 + 8)
    families = {f.name: f for f in skill_families(live.all_figures(T0 + 10), live.ignored)}
    assert (("report",), 1) in families["ivr_skill_waiting_calls"].samples
    assert (("report",), 4) in families["ivr_skill_longest_wait_seconds"].samples
    assert (("report", "on_call"), 1) in families["ivr_skill_operators"].samples
    assert families["ivr_skill_operators"].labels == ("skill", "state")
    assert (("report", "offered"), 2) in families["ivr_skill_calls_today"].samples
    assert (("report", "window"), 100) in families["ivr_skill_service_level_percent"].samples
    assert (('we"ird',), 1) in families["ivr_skill_waiting_calls"].samples
    assert not families["ivr_skill_average_handle_time_seconds"].samples
    ignored = families["ivr_figures_ignored_events"].samples
    assert (("QueueCallerJoin: missing Queue",), 1) in ignored
    assert {f.kind for f in families.values()} == {"gauge"}


# -- callers' priorities (their place in line) ---------------------------------------------

def test_waiting_callers_are_counted_by_their_queue_priority() -> None:
    """The application notes each routed call's QUEUE_PRIO per stage before it joins (the
    join events do not say); a caller nobody noted is counted as unknown."""
    live = LiveFigures({Q: Target(80, 20)})
    live.note_priorities("c1", {Q: 5, "lang-zh": 6})
    live.note_priorities("c2", {Q: 10})
    live.note_priorities("c3", {"other": 7, Q: 5})
    for n, uid in enumerate(("c1", "c2", "c3", "c4")):
        live.apply(join(uid), T0 + n)
    assert live.waiting_by_priority(Q) == {5: 2, 10: 1, None: 1}
    live.apply(leave("c2"), T0 + 4)
    assert live.waiting_by_priority(Q) == {5: 2, None: 1}
    live.apply(join("c1", "lang-zh"), T0 + 5)  # the next stage of c1's wait
    assert live.waiting_by_priority("lang-zh") == {6: 1}
    assert live.waiting_by_priority("nowhere") == {}


def test_noted_priorities_are_bounded_and_dropped_when_answered() -> None:
    """Calls that never join do not pile up; an answered call's note is dropped."""
    live = LiveFigures({Q: Target(80, 20)})
    for n in range(10_005):
        live.note_priorities(f"c{n}", {Q: 5})
    live.apply(join("c0"), T0)  # forgotten: the oldest of more than 10,000
    live.apply(join("c10004"), T0)
    assert live.waiting_by_priority(Q) == {None: 1, 5: 1}
    live.apply(connect("c10004", 3), T0 + 3)
    live.apply(join("c10004"), T0 + 4)  # back in line (a transfer to the queue): not noted
    assert live.waiting_by_priority(Q) == {None: 2}


def test_snapshot_keeps_or_brings_the_priorities() -> None:
    """After a reconnect each QueueEntry's Priority is the caller's priority."""
    live = LiveFigures({Q: Target(80, 20)})
    live.note_priorities("c1", {Q: 6})
    live.apply(join("c1"), T0)
    response = status_response([("c1", 10), ("c2", 5)], [])
    live.load_snapshot(response, T0 + 20)
    assert live.waiting_by_priority(Q) == {0: 2}  # the snapshot says 0 for both


# -- idle while waiting --------------------------------------------------------------------

IDLE_CASES = [
    pytest.param([(0, member(paused=1, reason="break")), (10, join("c1")),
                  (40, abandon("c1", 30))], 0.0,
                 id="nobody-available-costs-nothing"),
    pytest.param([(0, member()), (10, join("c1")), (40, abandon("c1", 30))], 30.0,
                 id="an-idle-member-the-whole-wait"),
    pytest.param([(0, member()), (10, join("c1")), (12, called("c1")), (15, connect("c1", 5))],
                 2.0, id="idle-until-rung-then-nothing"),
    pytest.param([(0, member(paused=1, reason="break")), (10, join("c1")), (11, join("c2")),
                  (20, member("QueueMemberPause")), (30, abandon("c1", 20)),
                  (35, abandon("c2", 24))], 10.0 + 10.0 + 5.0,
                 id="two-callers-from-the-unpause-on"),
    pytest.param([(0, member()), (1, join("c0")), (2, called("c0")), (3, connect("c0", 2)),
                  (63, complete("c0", 2, 60)), (70, join("c1")), (100, abandon("c1", 30))],
                 1.0 + 7.0, id="from-the-end-of-the-wrap-up"),  # c0 until rung; c1 from 93
]


@pytest.mark.parametrize(("steps", "idle"), IDLE_CASES)
def test_seconds_waited_while_an_operator_of_the_queue_was_available(
    steps: list[Step], idle: float
) -> None:
    """The cost of gating: caller-seconds in a queue while one of its members was free."""
    live = feed(steps)
    f = live.figures(Q, T0 + 200)
    assert f.today.idle_wait_seconds == pytest.approx(idle)
    assert f.current_interval.idle_wait_seconds == pytest.approx(idle)


def test_the_idle_wait_of_a_caller_still_waiting_counts_up_to_now() -> None:
    live = feed([(0, member()), (10, join("c1"))])
    assert live.figures(Q, T0 + 25).today.idle_wait_seconds == pytest.approx(15.0)
    assert live.figures(Q, T0 + 40).today.idle_wait_seconds == pytest.approx(30.0)
    families = {f.name: f for f in skill_families(live.all_figures(T0 + 40))}
    assert (("report", "today"), 30) in families["ivr_skill_idle_wait_seconds"].samples


def test_a_wait_in_a_stage_queue_counts_for_the_callers_skill() -> None:
    """lang-zh is a stage of an inquiry caller's wait: its idle seconds are inquiry's, and
    the caller waiting there is shown under inquiry."""
    live = LiveFigures({Q: Target(80, 20), "inquiry": Target(80, 30)})
    live.note_priorities("c1", {"inquiry": 5, "lang-zh": 6}, "inquiry")
    for offset, event in [(0, member(queue="lang-zh")), (0, join("c1", "inquiry")),
                          (30, leave("c1", "inquiry")), (30, join("c1", "lang-zh"))]:
        live.apply(event, T0 + offset)
    live.settle(T0 + 50)
    assert live.figures("inquiry", T0 + 50).today.idle_wait_seconds == pytest.approx(20.0)
    assert live.figures("lang-zh", T0 + 50).today.idle_wait_seconds == 0
    waiting = live.stage_waiting(lambda q: q.startswith("lang-"), T0 + 50)
    assert waiting == {"inquiry": (1, 20.0)}  # the longest wait in the stage queue


def test_an_answer_in_a_stage_queue_counts_once_for_the_callers_skill() -> None:
    """Offered in inquiry, answered in lang-zh after 95 s in all: inquiry's answer, with
    the whole wait (out of target), and its talk; lang-zh keeps only its own offer."""
    live = LiveFigures({"inquiry": Target(80, 30)})
    live.note_priorities("c1", {"inquiry": 5, "lang-zh": 6}, "inquiry")
    lang = {"Queue": "lang-zh"}
    for offset, event in [
        (0, join("c1", "inquiry")), (90, leave("c1", "inquiry")), (90, join("c1", "lang-zh")),
        (95, ev("AgentConnect", **lang, Uniqueid="c1", Interface=ALICE, HoldTime=5)),
        (155, ev("AgentComplete", **lang, Uniqueid="c1", Interface=ALICE, HoldTime=5,
                 TalkTime=60)),
    ]:
        live.apply(event, T0 + offset)
    inquiry = live.figures("inquiry", T0 + 160).today
    assert (inquiry.offered, inquiry.answered, inquiry.answered_in_target) == (1, 1, 0)
    assert inquiry.wait_answered_seconds == 95.0
    assert (inquiry.completed, inquiry.talk_seconds) == (1, 60.0)
    stage = live.figures("lang-zh", T0 + 160).today
    assert (stage.offered, stage.answered, stage.completed) == (1, 0, 0)
