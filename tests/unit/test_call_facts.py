"""Asterisk's facts about a call made into its one final record (ivr.core.call_facts)."""

from __future__ import annotations

from ivr.core.call_facts import (
    INTERRUPTED,
    WITHOUT_APPLICATION,
    CallFacts,
    operators_by_agent,
    parse_queue_log_line,
    reconcile_call,
)
from ivr.core.records import CallRecord

AGENTS = operators_by_agent({"op1004": ("PJSIP/op1004", "Zhao Lei"),
                             "op1001": ("PJSIP/op1001", "Wang Fang")})
UID = "1796298152.42"


def facts_of(*lines: str) -> CallFacts:
    facts = CallFacts(UID)
    for line in lines:
        entry = parse_queue_log_line(line)
        assert entry is not None, line
        facts.add(entry)
    return facts


ANSWERED = (
    f"1796298160|{UID}|hotline|NONE|ENTERQUEUE||13800990003|1",
    f"1796298163|{UID}|hotline|PJSIP/op1004|CONNECT|3|1796298160.43|1",
    f"1796298173|{UID}|hotline|PJSIP/op1004|COMPLETEAGENT|3|10|1",
)


def recorded(**fields: object) -> CallRecord:
    return CallRecord(UID, "PJSIP/citizen-0001", "13800990003", "zh",
                      "2026-12-03T11:00:00.000+00:00", **fields)  # type: ignore[arg-type]


def test_a_call_the_application_never_saw_gets_a_record_with_who_answered() -> None:
    record = reconcile_call(facts_of(*ANSWERED), None, AGENTS, "zh")
    assert record is not None
    assert (record.call_id, record.caller, record.outcome, record.queue) == (
        UID, "13800990003", WITHOUT_APPLICATION, "hotline")
    assert (record.operator, record.wait_seconds, record.talk_seconds) == ("op1004", 3.0, 10.0)
    assert record.answered_at is not None
    assert record.ended_at is not None
    assert record.ended_at > record.answered_at > record.arrived_at


def test_a_call_cut_off_mid_menu_is_completed_not_doubled() -> None:
    left = recorded(path=["greeting", "menu"], variables={"node": "n1"})
    record = reconcile_call(facts_of(*ANSWERED), left, AGENTS, "zh")
    assert record is not None
    assert (record.outcome, record.operator, record.talk_seconds) == (INTERRUPTED, "op1004",
                                                                       10.0)
    assert record.path == ["greeting", "menu"]  # what the application knew is kept
    assert record.caller == left.caller
    assert record.call_id == left.call_id
    # Once applied, the same facts change nothing: any node may run it again.
    assert reconcile_call(facts_of(*ANSWERED), record, AGENTS, "zh") is None


def test_what_the_application_saw_live_wins() -> None:
    live = recorded(outcome="routed", queue="water", operator="op1001", wait_seconds=2.5,
                    talk_seconds=9.0, answered_at="2026-12-03T11:00:05.000+00:00",
                    ended_at="2026-12-03T11:00:14.000+00:00")
    assert reconcile_call(facts_of(*ANSWERED), live, AGENTS, "zh") is None


def test_a_routed_call_whose_end_the_application_missed() -> None:
    routed = recorded(outcome="routed", queue="water", ended_at="2026-12-03T11:00:01.000+00:00")
    record = reconcile_call(facts_of(*ANSWERED), routed, AGENTS, "zh")
    assert record is not None
    assert (record.outcome, record.operator, record.talk_seconds) == ("routed", "op1004", 10.0)
    assert record.ended_at is not None
    assert record.ended_at > routed.ended_at


def test_abandoned_in_the_queue() -> None:
    facts = facts_of(f"1796298160|{UID}|hotline|NONE|ENTERQUEUE||13800990003|1",
                     f"1796298167|{UID}|hotline|NONE|ABANDON|1|1|7")
    record = reconcile_call(facts, None, AGENTS, "zh")
    assert record is not None
    assert (record.outcome, record.operator, record.wait_seconds) == ("abandoned", None, 7.0)
    routed = reconcile_call(facts, recorded(outcome="routed", queue="water"), AGENTS, "zh")
    assert routed is not None
    assert routed.outcome == "abandoned"


def test_a_channel_gone_ends_a_record_left_in_progress() -> None:
    facts = CallFacts(UID, gone_at=1796298200.0)
    record = reconcile_call(facts, recorded(), AGENTS, "zh")
    assert record is not None
    assert (record.outcome, record.ended_at) == (INTERRUPTED, "2026-12-03T11:43:20.000+00:00")
    # A call nobody recorded that never queued: nothing to write.
    assert reconcile_call(facts, None, AGENTS, "zh") is None


def test_facts_still_open_change_nothing() -> None:
    facts = facts_of(*ANSWERED[:2])
    assert not facts.final
    assert reconcile_call(facts, recorded(), AGENTS, "zh") is None


def test_member_names_map_when_unique_and_unknown_members_are_shown_as_logged() -> None:
    by_name = facts_of(*(line.replace("PJSIP/op1004", "Zhao Lei") for line in ANSWERED))
    assert reconcile_call(by_name, None, AGENTS, "zh").operator == "op1004"  # type: ignore[union-attr]
    clash = operators_by_agent({"a": ("PJSIP/a", "Li"), "b": ("PJSIP/b", "Li")})
    assert "Li" not in clash
    other = facts_of(*(line.replace("PJSIP/op1004", "PJSIP/x9") for line in ANSWERED))
    assert reconcile_call(other, None, AGENTS, "zh").operator == "PJSIP/x9"  # type: ignore[union-attr]


def test_stages_count_the_whole_wait() -> None:
    facts = facts_of(
        f"1796298160|{UID}|water|NONE|ENTERQUEUE||13800990003|1",
        f"1796298190|{UID}|water|NONE|EXITWITHTIMEOUT|1|1|30",
        f"1796298190|{UID}|lang-zh|NONE|ENTERQUEUE||13800990003|1",
        f"1796298195|{UID}|lang-zh|PJSIP/op1001|CONNECT|5|x|1",
        f"1796298205|{UID}|lang-zh|PJSIP/op1001|COMPLETECALLER|5|10|1",
    )
    assert facts.queues == ["water", "lang-zh"]
    assert (facts.wait_seconds, facts.talk_seconds, facts.agent) == (35.0, 10.0, "PJSIP/op1001")
