"""The shipped 12345 flow, walked through the engine by ``simulate`` as a caller would."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.core.cases import luhn_check_digit
from ivr.core.flow import (
    FINAL_COMMANDS,
    WAITING_COMMANDS,
    ActiveBulletin,
    ArrivalFacts,
    CallerLeft,
    CallFlow,
    CollectDigits,
    FlowHungUp,
    ListenForSpeech,
    PlayPrompt,
    RecordSurvey,
    Routed,
    SetLanguage,
    load_flow,
    simulate,
)
from ivr.core.flow.simulate import format_report

ROOT = Path(__file__).resolve().parents[2]
FLOW_PATH = ROOT / "dialplans" / "12345.yaml"
NIGHT = datetime(2026, 12, 18, 23, 0)
GOOD_CASE = "410123456" + luhn_check_digit("410123456")


@pytest.fixture(scope="module")
def flow() -> CallFlow:
    return load_flow(FLOW_PATH.read_text(encoding="utf-8"), str(FLOW_PATH))


def facts(**overrides: object) -> ArrivalFacts:
    values: dict[str, object] = {"caller": "13800138000", "language": "zh", "now": NIGHT}
    values.update(overrides)
    return ArrivalFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("digits", "skill", "priority"),
    [
        ("1,1,,1", "environment", 5),  # report, no speech, sub-menu 1
        ("1,1,,2", "traffic", 5),
        ("1,1,,3", "housing", 5),
        ("1,1,,4", "utilities", 6),
        ("1,1,,5", "labour", 5),
        ("1,1,,6", "market", 5),
        ("1,1,,9", "report", 5),
        ("1,2", "inquiry", 5),
        ("1,4", "suggestion", 3),
        ("1,0", "hotline", 5),
        (f"1,3,{GOOD_CASE}#,0", "case_status", 5),
    ],
)
def test_every_main_menu_branch_by_dtmf(
    flow: CallFlow, digits: str, skill: str, priority: int
) -> None:
    """Each main-menu key (and each report sub-menu key) queues the call for its skill."""
    report = simulate(flow, facts(), digits, case_lookup={GOOD_CASE: "processing"})
    assert report.outcome is not None
    assert isinstance(report.outcome, Routed)
    assert (report.outcome.skill, report.outcome.priority) == (skill, priority)
    assert report.outcome.reason == "flow"


def test_keys_without_separators_feed_one_menu_each(flow: CallFlow) -> None:
    """"12" means Mandarin then inquiry: each menu takes one key."""
    report = simulate(flow, facts(), "12")
    assert report.outcome == Routed("route_inquiry", "inquiry", 5)


def test_key_pressed_during_the_speech_turn_answers_the_sub_menu(flow: CallFlow) -> None:
    """A caller who presses 2 instead of describing the problem reaches traffic."""
    report = simulate(flow, facts(), "112")
    assert report.outcome == Routed("route_traffic", "traffic", 5)


@pytest.mark.parametrize(
    ("say", "skill", "confidence", "expected"),
    [
        ("深夜施工噪音扰民", "environment", 0.9, "environment"),
        ("公交车不到站", "traffic", 0.8, "traffic"),
        ("暖气不热", "utilities", 0.7, "utilities"),
        ("嗯", "environment", 0.2, "housing"),  # below min_confidence: sub-menu, key 3
        ("我想说一件事", None, 0.9, "housing"),  # heard, no category: sub-menu, key 3
    ],
)
def test_report_routes_by_what_was_said(
    flow: CallFlow, say: str, skill: str | None, confidence: float, expected: str
) -> None:
    """The report speech turn routes by the recognised skill, else falls back to the sub-menu."""
    report = simulate(
        flow, facts(), "1,1,3", say=say, classify=lambda _text, _lang: (skill, confidence)
    )
    assert isinstance(report.outcome, Routed)
    assert report.outcome.skill == expected
    assert ("report_menu" in report.path) is (expected == "housing")
    if confidence >= 0.5:
        assert report.variables["description"] == say


@pytest.mark.parametrize(
    ("digits", "language"),
    [("", "zh"), ("1", "zh"), ("2", "en")],
)
def test_language_choice_defaults_to_mandarin(flow: CallFlow, digits: str, language: str) -> None:
    """Nothing pressed at the language menu means Mandarin; 1 Mandarin; 2 English."""
    report = simulate(flow, facts(language="zh"), digits)
    assert report.steps[2].commands[0] == SetLanguage(language)
    assert report.language == language


def test_spoken_main_menu_keyword(flow: CallFlow) -> None:
    """Saying "查询" at the main menu (no key left) starts the case-status path."""
    report = simulate(flow, facts(), "1", say="我想查询工单")
    assert "case_number" in report.path


@pytest.mark.parametrize(
    ("bulletin", "language_key", "played"),
    [
        (None, "1", False),
        (ActiveBulletin("storm-1", {"zh": "暴雨预警", "en": "Rainstorm warning"}), "1", True),
        (ActiveBulletin("storm-1", {"zh": "暴雨预警", "en": "Rainstorm warning"}), "2", True),
        (ActiveBulletin("storm-2", {"zh": "暴雨预警"}), "2", False),  # no English text
    ],
)
def test_bulletin_played_only_when_active(
    flow: CallFlow, bulletin: ActiveBulletin | None, language_key: str, played: bool
) -> None:
    """The emergency bulletin plays after the language choice only while one is active."""
    report = simulate(flow, facts(bulletin=bulletin), f"{language_key},0")
    plays = [c for s in report.steps for c in s.commands if isinstance(c, PlayPrompt)]
    heard = any("ivr/bulletin-intro" in p.prompts for p in plays)
    assert heard is played
    if played:
        assert bulletin is not None
        assert PlayPrompt(("ivr/bulletin-intro", f"bulletins/{bulletin.id}"), False) in plays
    assert isinstance(report.outcome, Routed)


def test_a_caller_hears_their_case_recognised_by_their_number(flow: CallFlow) -> None:
    """A caller with an open case hears its status without keying its number, then the
    hint; a caller with none goes straight to the main menu."""
    with_case = simulate(flow, facts(open_cases=1, variables={"caller_case": GOOD_CASE}),
                         "1,0", case_lookup={GOOD_CASE: "processing"})
    plays = [c for s in with_case.steps for c in s.commands if isinstance(c, PlayPrompt)]
    readback = next(p for p in plays if p.prompts[0] == "ivr/case-number-is")
    assert readback.prompts[-1] == "ivr/case-status-processing"
    assert "open_cases_hint" in with_case.path
    without = simulate(flow, facts(open_cases=0, variables={"caller_case": ""}), "1,0")
    assert "caller_case_status" not in without.path
    assert "main_menu" in without.path


def test_a_caller_reopens_their_resolved_case(flow: CallFlow) -> None:
    """Resolved, but not for the citizen: they press 1 and the case is reopened."""
    report = simulate(flow, facts(variables=RESOLVED_CASE), "1,1",
                      case_lookup={GOOD_CASE: "resolved"})
    loop = [n for n in report.path if n.startswith(("caller_case", "reopen", "case_re"))]
    assert loop == ["caller_case_status", "caller_case_menu", "reopen_menu", "case_reopen",
                    "case_reopened"]
    assert report.variables["case_reopened"] == "yes"
    assert report.outcome == FlowHungUp("served", "served_by_ivr")


def test_case_status_read_back_digit_by_digit(flow: CallFlow) -> None:
    """A found case's number is read digit by digit, then its status, then goodbye."""
    report = simulate(flow, facts(), f"1,3,{GOOD_CASE}#", case_lookup={GOOD_CASE: "resolved"})
    plays = [c for s in report.steps for c in s.commands if isinstance(c, PlayPrompt)]
    readback = next(p for p in plays if p.prompts[0] == "ivr/case-number-is")
    digits = tuple(f"ivr/digit-{d}" for d in GOOD_CASE)
    assert readback.prompts == (
        "ivr/case-number-is", *digits, "ivr/case-status-is", "ivr/case-status-resolved"
    )
    assert report.outcome == FlowHungUp("served", "served_by_ivr")
    assert report.variables["case_status"] == "resolved"


def test_unknown_case_number_gets_a_clear_prompt(flow: CallFlow) -> None:
    """A valid but unknown case number plays "not found" and offers to retry or an operator."""
    report = simulate(flow, facts(), f"1,3,{GOOD_CASE}#,0", case_lookup={})
    assert report.path[-3:] == ("case_not_found", "case_not_found_menu", "route_case_status")
    assert report.variables["case_status"] == "not_found"


def test_bad_checksum_is_asked_again_then_operator(flow: CallFlow) -> None:
    """A case number failing its check digit is refused three times, then an operator."""
    bad = GOOD_CASE[:-1] + str((int(GOOD_CASE[-1]) + 1) % 10)
    report = simulate(flow, facts(), f"1,3,{bad}#,{bad}#,{bad}#")
    asks = [c for s in report.steps for c in s.commands if isinstance(c, CollectDigits)]
    assert [a.prompts[0] for a in asks[-3:]] == [
        "ivr/enter-case-number", "ivr/invalid-case-number", "ivr/invalid-case-number"
    ]
    assert report.outcome == Routed("route_case_status", "case_status", 5)
    assert "case_number" not in report.variables


@pytest.mark.parametrize(
    ("digits", "reprompts"),
    [
        ("1,,,", ("ivr/no-input", "ivr/no-input")),
        ("1,7,8,9", ("ivr/invalid-option", "ivr/invalid-option")),
        ("1,7,,#", ("ivr/invalid-option", "ivr/no-input")),
    ],
)
def test_invalid_or_no_input_retries_then_operator(
    flow: CallFlow, digits: str, reprompts: tuple[str, str]
) -> None:
    """The main menu is asked again after bad or no input, then the caller reaches an operator."""
    report = simulate(flow, facts(), digits)
    asks = [
        c for s in report.steps for c in s.commands
        if isinstance(c, ListenForSpeech | CollectDigits) and "ivr/main-menu" in c.prompts
    ]
    assert len(asks) == 3
    assert tuple(a.prompts[0] for a in asks[1:]) == reprompts
    assert report.outcome == Routed("route_operator", "hotline", 5)


def test_dtmf_flood_in_a_menu_uses_the_first_key(flow: CallFlow) -> None:
    """500 keys pressed at the main menu count as one choice (the first); the rest is ignored."""
    report = simulate(flow, facts(), "1," + "3" * 500)
    after_menu = report.path[report.path.index("main_menu") + 1]
    assert after_menu == "case_number"


def test_overlong_case_number_is_cut_at_max_digits(flow: CallFlow) -> None:
    """Keys beyond the 10 digits of a case number are ignored, so the number still checks."""
    report = simulate(
        flow, facts(), f"1,3,{GOOD_CASE}{'9' * 40}#", case_lookup={GOOD_CASE: "processing"}
    )
    assert report.variables["case_number"] == GOOD_CASE
    assert "after_status" in report.path


# Input that brings a call to each waiting node of the shipped flow.
RESOLVED_CASE = {"caller_case": GOOD_CASE, "caller_case_resolved": "yes"}
REACH: dict[str, tuple[str, str | None, dict[str, object]]] = {
    "greeting": ("", None, {}),
    "choose_language": ("", None, {}),
    "bulletin": ("1", None, {"bulletin": ActiveBulletin("b", {"zh": "停水"})}),
    "caller_case_status": ("1", None, {"open_cases": 1, "variables": {"caller_case": GOOD_CASE}}),
    "open_cases_hint": ("1", None, {"open_cases": 1, "variables": {"caller_case": GOOD_CASE}}),
    "reopen_menu": ("1", None, {"variables": RESOLVED_CASE, "resolved": True}),
    "case_reopened": ("1,1", None, {"variables": RESOLVED_CASE, "resolved": True}),
    "main_menu": ("1", None, {}),
    "report_describe": ("1,1", None, {}),
    "report_menu": ("1,1,", None, {}),
    "case_number": ("1,3", None, {}),
    "case_lookup": (f"1,3,{GOOD_CASE}#", None, {}),
    "case_not_found": (f"1,3,{GOOD_CASE}#", None, {"unknown": True}),
    "case_not_found_menu": (f"1,3,{GOOD_CASE}#", None, {"unknown": True}),
    "after_status": (f"1,3,{GOOD_CASE}#", None, {}),
    "goodbye": (f"1,3,{GOOD_CASE}#,", None, {}),
    "survey": ("", "survey", {}),
}


def waiting_nodes(flow: CallFlow) -> set[str]:
    kinds = {"Play", "Menu", "Collect", "Speech", "CaseStatusNode", "Survey", "BulletinNode"}
    return {nid for nid, node in flow.nodes.items() if type(node).__name__ in kinds}


def test_hang_up_table_covers_every_waiting_node(flow: CallFlow) -> None:
    """Every node where a caller can be waiting has a hang-up case below."""
    assert set(REACH) == waiting_nodes(flow)


@pytest.mark.parametrize("node", sorted(REACH))
def test_hang_up_at_every_node_is_recorded_with_the_node(flow: CallFlow, node: str) -> None:
    """A caller hanging up at any node ends the flow cleanly and records that node."""
    digits, entry, extra = REACH[node]
    options = dict(extra)
    unknown = bool(options.pop("unknown", False))
    resolved = bool(options.pop("resolved", False))
    cases = {} if unknown else {GOOD_CASE: "resolved" if resolved else "processing"}
    report = simulate(
        flow, facts(**options), digits, case_lookup=cases, entry=entry, hangup_at=node
    )
    assert report.outcome == CallerLeft(node)
    assert report.path[-1] == node
    assert report.steps[-1].commands == ()


@pytest.mark.parametrize(("key", "score"), [("5", 5), ("1", 1), ("3", 3)])
def test_survey_entry_records_the_score(flow: CallFlow, key: str, score: int) -> None:
    """Re-entered at "survey" after the operator, a 1-5 key is recorded and the call ends."""
    report = simulate(flow, facts(), key, entry="survey")
    recorded = [c for s in report.steps for c in s.commands if isinstance(c, RecordSurvey)]
    assert recorded == [RecordSurvey(score)]
    assert report.outcome == FlowHungUp("survey_done", "survey_done")
    assert report.variables["survey_score"] == key


@pytest.mark.parametrize("digits", ["", "9,7", "0,"])
def test_survey_without_a_valid_score_lets_the_caller_go(flow: CallFlow, digits: str) -> None:
    """No or invalid ratings are asked once more, then the call ends with nothing recorded."""
    report = simulate(flow, facts(), digits, entry="survey")
    assert not [c for s in report.steps for c in s.commands if isinstance(c, RecordSurvey)]
    assert report.outcome == FlowHungUp("survey_done", "survey_done")


def test_format_report_shows_steps_and_decision(flow: CallFlow) -> None:
    """The printed report lists the steps and ends with the decision, path and variables."""
    text = format_report(simulate(flow, facts(), "1,1,,4"))
    assert "decision: queue utilities, priority 6 (at route_utilities)" in text
    assert "path: greeting > choose_language > lang_zh" in text
    assert "pressed 4" in text
    assert "variables:" in text


SKILLS = {
    "hotline", "report", "inquiry", "case_status", "suggestion", "environment", "traffic",
    "housing", "utilities", "labour", "market",
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    digits=st.text(alphabet="0123456789*#,", max_size=40),
    say=st.one_of(st.none(), st.text(max_size=20)),
    open_cases=st.integers(0, 3),
    speech=st.booleans(),
    entry=st.sampled_from([None, "survey"]),
)
def test_any_caller_input_ends_in_a_decision(
    digits: str, say: str | None, open_cases: int, speech: bool, entry: str | None
) -> None:
    """Whatever a caller presses or says, the call ends routed to a known skill or hung up."""
    flow = load_flow(FLOW_PATH.read_text(encoding="utf-8"), str(FLOW_PATH))
    report = simulate(
        flow, facts(open_cases=open_cases, speech_available=speech), digits, say=say,
        case_lookup={GOOD_CASE: "closed"}, entry=entry,
    )
    assert report.outcome is not None
    if isinstance(report.outcome, Routed):
        assert report.outcome.skill in SKILLS
        assert report.outcome.reason == "flow"
    for step in report.steps:
        ending = [c for c in step.commands if isinstance(c, WAITING_COMMANDS + FINAL_COMMANDS)]
        assert ending == [step.commands[-1]]
