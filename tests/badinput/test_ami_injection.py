"""AMI: hostile values never add a header line or an action; malformed events change no figure.

Actions are written the way panoramisk writes them and read back with a model of Asterisk's
manager.c (``manager_read_actions``): one action, the same headers, each value intact or the
action refused with ``AmiError``. Events go through ``AmiEvent.from_message`` into
``LiveFigures.apply``, which must count what it cannot use and leave the figures as they were.
"""

from __future__ import annotations

import re

import pytest

from ivr.core.figures import LiveFigures, Target
from ivr.core.protocols.ami import (
    MAX_LINE_BYTES,
    MAX_VALUE,
    AmiEvent,
    action_fields,
    channel_variable,
)
from ivr.errors import AmiError
from tests.badinput.asterisk import app_separate_args, manager_read_actions, panoramisk_bytes
from tests.badinput.corpus import CALLER_TEXT, CALLER_TEXT_VALUES, DTMF_FLOODS

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def one_line(value: str) -> str:
    """What a value may become: controls -> spaces, unencodable -> U+FFFD; nothing removed."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", value))


def fields_or_refusal(name: str, fields: dict[str, object]) -> dict[str, str] | AmiError:
    try:
        return action_fields(name, fields)
    except AmiError as exc:
        return exc


def originate(caller: str) -> dict[str, object]:
    """An Originate as the callback desk builds it, with caller data in every free field."""
    return {
        "Channel": "Local/cb-1@callback-queue",
        "Context": "callback-dial",
        "Exten": caller,
        "Priority": 1,
        "CallerID": f"{caller} <{caller}>",
        "Async": "true",
        "Variable": ",".join([
            channel_variable("IVR_CALLBACK_ID", "cb-1"),
            channel_variable("IVR_NOTE", caller),
            channel_variable("__IVR_CALLBACK_QUEUE", "report"),
        ]),
    }


@pytest.mark.parametrize("value", CALLER_TEXT)
def test_action_stays_one_action_with_the_same_headers(value: str) -> None:
    """Asterisk reads exactly the headers we sent, once each, with the values we sent."""
    raw = originate(value)
    fields = fields_or_refusal("Originate", raw)
    if isinstance(fields, AmiError):
        assert "refused" in str(fields)
        longest = max(len(f"{k}: {one_line(str(v))}\r\n".encode()) for k, v in raw.items())
        assert longest > MAX_LINE_BYTES
        return
    actions = manager_read_actions(panoramisk_bytes(fields))
    assert len(actions) == 1
    headers = actions[0]
    assert sorted(k for k, _ in headers) == sorted(fields)
    for key, read in headers:
        assert read == fields[key].lstrip(" "), key  # Asterisk skips blanks after the colon
    assert dict(headers)["Action"] == "Originate"
    assert dict(headers)["Exten"] == one_line(value).lstrip(" ")


@pytest.mark.parametrize("value", CALLER_TEXT)
def test_values_are_never_cut_short(value: str) -> None:
    """A value is sent whole (controls turned into spaces) or the action is refused."""
    fields = fields_or_refusal("QueuePause", {"Interface": "PJSIP/op1", "Reason": value})
    if isinstance(fields, AmiError):
        assert len(f"Reason: {one_line(value)}\r\n".encode()) > MAX_LINE_BYTES
        return
    assert fields["Reason"] == one_line(value)


@pytest.mark.parametrize("value", CALLER_TEXT)
def test_originate_variables_split_back_into_the_same_variables(value: str) -> None:
    """Commas, quotes, brackets and backslashes in a value never make or swallow a variable."""
    fields = fields_or_refusal("Originate", originate(value))
    if isinstance(fields, AmiError):
        assert len(value.encode("utf-8", "replace")) > MAX_LINE_BYTES // 4
        return
    entries = app_separate_args(fields["Variable"])
    pairs = [entry.split("=", 1) for entry in entries]
    assert pairs == [
        ["IVR_CALLBACK_ID", "cb-1"],
        ["IVR_NOTE", one_line(value)],
        ["__IVR_CALLBACK_QUEUE", "report"],
    ]


def test_unescaped_variable_would_have_leaked() -> None:
    """The danger the escaping is for: a raw comma or bracket changes the variables."""
    assert app_separate_args("IVR_NOTE=a,EVIL=1,Q=report") == ["IVR_NOTE=a", "EVIL=1", "Q=report"]
    assert app_separate_args("IVR_NOTE=x(,Q=report") == ["IVR_NOTE=x(,Q=report"]
    assert app_separate_args(channel_variable("IVR_NOTE", "a,EVIL=1")) == ["IVR_NOTE=a,EVIL=1"]


def test_the_longest_line_asterisk_reads_is_accepted() -> None:
    """A header line of exactly MAX_LINE_BYTES goes; one byte more is refused, not cut."""
    value = "x" * (MAX_LINE_BYTES - len("Reason: \r\n"))
    fields = action_fields("QueuePause", {"Reason": value})
    assert manager_read_actions(panoramisk_bytes(fields)) == [
        [("Action", "QueuePause"), ("Reason", value)]
    ]
    with pytest.raises(AmiError, match="1024"):
        action_fields("QueuePause", {"Reason": value + "x"})


def test_an_overlong_line_would_have_become_a_header() -> None:
    """Why long lines are refused: older Asterisk reads the tail as a header of its own."""
    value = "x" * (MAX_LINE_BYTES - len("Reason: ")) + "Action: Logoff"
    raw = panoramisk_bytes({"Action": "QueuePause", "Reason": value})
    assert ("Action", "Logoff") in manager_read_actions(raw)[0]
    with pytest.raises(AmiError):
        action_fields("QueuePause", {"Reason": value})


@pytest.mark.parametrize("digits", DTMF_FLOODS)
def test_dtmf_floods_in_a_field(digits: str) -> None:
    """A thousand keys is one header or a refusal."""
    fields = fields_or_refusal("Originate", {"Exten": digits})
    if isinstance(fields, AmiError):
        assert len(digits) > MAX_LINE_BYTES - len("Exten: \r\n")
        return
    assert manager_read_actions(panoramisk_bytes(fields)) == [
        [("Action", "Originate"), ("Exten", digits)]
    ]


@pytest.mark.parametrize(
    "key",
    ["Queue\r\nAction", "", " ", "A" * 65, "Act:ion", "ActionID", "action", "Queue\x00", "队列"],
)
def test_bad_header_names_are_refused(key: str) -> None:
    """Header names are ours: anything odd is our bug and raises ValueError."""
    with pytest.raises(ValueError, match="AMI header"):
        action_fields("QueueAdd", {key: "x"})


# ------------------------------------------------------------------------------ events


@pytest.mark.parametrize("value", CALLER_TEXT)
def test_event_values_are_one_line_and_bounded(value: str) -> None:
    """Whatever panoramisk hands us, an event field is one line of at most MAX_VALUE chars."""
    event = AmiEvent.from_message({"Event": "QueueCallerJoin", "CallerIDName": value, None: 1})
    name = event.get("CallerIDName")
    assert "\n" not in name
    assert "\r" not in name
    assert len(name) <= MAX_VALUE
    assert name == one_line(value)[:MAX_VALUE]
    assert event.name == "QueueCallerJoin"


T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
Q = "report"
ALICE = "PJSIP/op-alice"


def ev(name: str, **fields: object) -> AmiEvent:
    return AmiEvent(name, {k: str(v) for k, v in fields.items()})


def busy_floor() -> LiveFigures:
    """A queue with an operator on a call, another available, and a caller waiting."""
    live = LiveFigures({Q: Target(80, 20)})
    steps = [
        ev("QueueMemberAdded", Queue=Q, Interface=ALICE, MemberName="Alice", Status=1, Paused=0),
        ev("QueueMemberAdded", Queue=Q, Interface="PJSIP/op-bob", Status=1, Paused=0),
        ev("QueueCallerJoin", Queue=Q, Uniqueid="c1"),
        ev("QueueCallerJoin", Queue=Q, Uniqueid="c2"),
        ev("AgentConnect", Queue=Q, Uniqueid="c1", Interface=ALICE, HoldTime=3),
    ]
    for i, event in enumerate(steps):
        live.apply(event, T0 + i)
    assert not live.ignored
    return live


def observable(live: LiveFigures) -> object:
    """Everything a wallboard, a report or the router can read from the figures."""
    now = T0 + 60
    return (
        live.skills(),
        live.all_figures(now),
        {s: live.operator_states(s, now) for s in live.skills()},
        {s: live.history(s, now, hours=1) for s in live.skills()},
        live.events_applied,
    )


HUGE = "9" * 5000
MALFORMED_EVENTS = [
    pytest.param(ev("QueueCallerJoin", Queue="ghost"), id="join_without_uniqueid_new_queue"),
    pytest.param(ev("QueueCallerJoin", Uniqueid="c9"), id="join_without_queue"),
    pytest.param(ev("QueueCallerJoin", Queue="   ", Uniqueid="c9"), id="blank_queue"),
    pytest.param(ev("QueueCallerLeave", Queue="ghost"), id="leave_without_uniqueid"),
    pytest.param(ev("QueueCallerAbandon", Queue="ghost", Uniqueid="zz"),
                 id="abandon_unknown_caller_without_holdtime"),
    pytest.param(ev("QueueCallerAbandon", Queue=Q, Uniqueid="c2", HoldTime="soon"),
                 id="abandon_non_numeric_hold"),
    pytest.param(ev("QueueCallerAbandon", Queue=Q, Uniqueid="c2", HoldTime=HUGE),
                 id="abandon_huge_hold"),
    pytest.param(ev("QueueCallerAbandon", Queue=Q, Uniqueid="c2", HoldTime="nan"),
                 id="abandon_nan_hold"),
    pytest.param(ev("QueueCallerAbandon", Queue=Q, Uniqueid="c2", HoldTime="-inf"),
                 id="abandon_minus_inf_hold"),
    pytest.param(ev("AgentCalled", Queue="ghost", Uniqueid="c2"), id="called_without_interface"),
    pytest.param(ev("AgentRingNoAnswer", Queue="ghost", Uniqueid="c2"),
                 id="no_answer_without_interface"),
    pytest.param(ev("AgentDump", Queue="ghost"), id="dump_without_interface"),
    pytest.param(ev("AgentConnect", Queue="ghost", Uniqueid="c9", Interface="PJSIP/new"),
                 id="connect_unknown_caller_without_holdtime"),
    pytest.param(ev("AgentConnect", Queue=Q, Uniqueid="c2", Interface="PJSIP/new",
                    HoldTime="1e400"), id="connect_overflowing_hold"),
    pytest.param(ev("AgentComplete", Queue="ghost", Interface="PJSIP/new", HoldTime=1),
                 id="complete_without_talk"),
    pytest.param(ev("AgentComplete", Queue=Q, Interface=ALICE, TalkTime=HUGE),
                 id="complete_huge_talk"),
    pytest.param(ev("AgentComplete", Queue=Q, Interface=ALICE, TalkTime="12", HoldTime="x"),
                 id="complete_garbage_hold"),
    pytest.param(ev("QueueMemberStatus", Queue="ghost", Interface="PJSIP/new", Status="on"),
                 id="status_garbage_for_a_new_member"),
    pytest.param(ev("QueueMemberStatus", Queue=Q, Interface="PJSIP/new", Status=HUGE),
                 id="status_huge_for_a_new_member"),
    pytest.param(ev("QueueMemberStatus", Queue=Q, Interface=ALICE, Status="٣"),
                 id="status_non_ascii_digit"),
    pytest.param(ev("QueueMemberPause", Queue=Q, Interface="PJSIP/op-bob", Status=6,
                    Paused=1, PausedReason="lunch", Wrapuptime="forever"),
                 id="pause_with_garbage_wrapup_after_good_fields"),
    pytest.param(ev("QueueMemberAdded", Queue=Q, Interface="PJSIP/new", Wrapuptime="-5"),
                 id="added_negative_wrapup"),
    pytest.param(ev("QueueMemberRemoved", Queue=Q), id="removed_without_interface"),
    pytest.param(ev("QueueMemberPenalty", Queue="ghost"), id="penalty_without_interface"),
    pytest.param(ev("Newchannel", Channel="x\r\nEvent: QueueCallerJoin"), id="unrelated"),
    pytest.param(ev(""), id="nameless"),
    pytest.param(AmiEvent.from_message({"event": "QueueCallerJoin", "queue": Q}),
                 id="lower_case_keys"),
]


@pytest.mark.parametrize("event", MALFORMED_EVENTS)
def test_malformed_event_changes_nothing_and_is_counted(event: AmiEvent) -> None:
    """No exception, one more ``ignored``, and not a single figure, queue or operator changed."""
    live = busy_floor()
    before = observable(live)
    assert live.apply(event, T0 + 30) is None
    assert observable(live) == before
    assert sum(live.ignored.values()) == 1


@pytest.mark.parametrize("value", CALLER_TEXT)
def test_hostile_text_in_every_field_never_raises(value: str) -> None:
    """Hostile text in any field of any queue event: applied or ignored, never an exception."""
    live = busy_floor()
    for name in ("QueueCallerJoin", "QueueCallerAbandon", "AgentConnect", "AgentComplete",
                 "QueueMemberStatus", "QueueMemberPause", "AgentCalled", "QueueMemberRemoved"):
        fields = dict.fromkeys(
            ("Queue", "Uniqueid", "Interface", "HoldTime", "TalkTime", "Status", "Paused",
             "Wrapuptime", "MemberName"), value,
        )
        applied, ignored = live.events_applied, sum(live.ignored.values())
        live.apply(AmiEvent.from_message({"Event": name, **fields}), T0 + 30)
        assert live.events_applied + sum(live.ignored.values()) == applied + ignored + 1
    for skill in live.skills():
        figures = live.figures(skill, T0 + 60)
        assert figures.waiting >= 0
        assert figures.operators.on_duty >= 0


def test_corpus_queue_names_are_kept_apart() -> None:
    """Queue names with quotes, commas or RTL marks are just names: one skill each."""
    live = LiveFigures()
    names = [v for v in CALLER_TEXT_VALUES.values() if one_line(v).strip()]
    for i, name in enumerate(names):
        live.apply(AmiEvent.from_message(
            {"Event": "QueueCallerJoin", "Queue": name, "Uniqueid": f"c{i}"}), T0 + i)
    assert live.events_applied == len(names)
    assert sum(live.figures(s, T0 + 999).waiting for s in live.skills()) == len(names)
