"""The flow engine alone: events in, commands out, for small flows written in the test."""

from __future__ import annotations

from datetime import datetime

import pytest

from ivr.core.cases import case_number_valid, luhn_check_digit
from ivr.core.flow import (
    SAFETY_SKILL,
    ArrivalFacts,
    CallerHungUp,
    CallerLeft,
    CaseLookedUp,
    CollectDigits,
    Command,
    DigitsCollected,
    Event,
    FlowRun,
    HangUpCall,
    ListenForSpeech,
    LookupCase,
    PlayPrompt,
    PromptPlayed,
    RecordSurvey,
    Routed,
    RouteToQueue,
    SetLanguage,
    SetVariable,
    SpeechHeard,
    Transferred,
    TransferTo,
    load_flow,
)
from ivr.core.flow.engine import FINAL_COMMANDS, WAITING_COMMANDS
from ivr.errors import FlowStateError

WEDNESDAY_NOON = datetime(2026, 12, 16, 12, 0)
SATURDAY_NIGHT = datetime(2026, 12, 19, 23, 30)


def run_of(nodes: str, **facts: object) -> FlowRun:
    text = f"name: t\nversion: '1'\nstart: a\nentries: {{survey: s}}\nnodes:\n{nodes}"
    values: dict[str, object] = {"caller": "13800138000", "language": "zh",
                                 "now": WEDNESDAY_NOON}
    values.update(facts)
    return FlowRun(load_flow(text, "t.yaml"), ArrivalFacts(**values))  # type: ignore[arg-type]


def assert_one_wait_last(batch: list[Command]) -> None:
    ending = [c for c in batch if isinstance(c, WAITING_COMMANDS + FINAL_COMMANDS)]
    assert ending == [batch[-1]]


MENU = """\
  a:
    kind: menu
    prompt: ivr/main-menu
    options: {"1": one, "0": op}
    keywords: {en: {"1": [report, complaint], "0": [operator]}}
    retries: 2
    on_exhausted: op
  one: {kind: route, skill: report, priority: 7}
  op: {kind: route, skill: hotline, priority: 5}
  s: {kind: survey, prompt: ivr/survey-rate, next: bye}
  bye: {kind: hangup}
"""


def test_menu_asks_for_one_key_and_routes() -> None:
    """A DTMF-only menu asks for one key; the key's option is routed with its priority."""
    run = run_of(MENU)
    assert run.start() == [CollectDigits(("ivr/main-menu",), 1, 1, 5.0, None)]
    assert run.handle(DigitsCollected("1")) == [RouteToQueue("report", 7)]
    assert run.outcome == Routed("one", "report", 7)
    assert run.path == ("a", "one")


@pytest.mark.parametrize(
    ("event", "skill"),
    [
        (SpeechHeard("I want to make a complaint"), "report"),
        (SpeechHeard("operator please"), "hotline"),
        (DigitsCollected("1"), "report"),
    ],
)
def test_keyword_menu_listens_and_accepts_speech_or_keys(event: object, skill: str) -> None:
    """With keywords in the caller's language the menu listens (grammar) and keys still work."""
    run = run_of(MENU, language="en")
    (ask,) = run.start()
    assert ask == ListenForSpeech(
        ("ivr/main-menu",), "grammar", ("operator", "report", "complaint"), 5.0
    )
    batch = run.handle(event)  # type: ignore[arg-type]
    assert isinstance(batch[-1], RouteToQueue)
    assert batch[-1].skill == skill


@pytest.mark.parametrize(
    ("events", "prefixes"),
    [
        ([DigitsCollected("", True)] * 3, ["ivr/no-input", "ivr/no-input"]),
        ([DigitsCollected("7")] * 3, ["ivr/invalid-option", "ivr/invalid-option"]),
        ([SpeechHeard("pizza")] * 3, ["ivr/invalid-option", "ivr/invalid-option"]),
    ],
)
def test_retries_then_operator(events: list[DigitsCollected], prefixes: list[str]) -> None:
    """Bad or missing input re-asks with an apology, and after the retries routes to an operator."""
    run = run_of(MENU, language="en" if isinstance(events[0], SpeechHeard) else "zh")
    run.start()
    asked = []
    for event in events[:-1]:
        batch = run.handle(event)
        assert_one_wait_last(batch)
        asked.append(batch[-1].prompts[0])  # type: ignore[union-attr]
    assert asked == prefixes
    assert run.handle(events[-1]) == [RouteToQueue("hotline", 5)]
    assert run.outcome == Routed("op", "hotline", 5)


def test_good_answer_clears_the_retry_count() -> None:
    """Failures are counted per node until a good answer; a later visit starts fresh."""
    run = run_of(
        """\
  a:
    kind: menu
    prompt: ivr/main-menu
    options: {"1": back}
    retries: 1
    on_exhausted: op
  back: {kind: play, prompt: ivr/goodbye, next: a}
  op: {kind: route, skill: hotline, priority: 5}
"""
    )
    run.start()
    run.handle(DigitsCollected("9"))  # one failure
    run.handle(DigitsCollected("1"))  # good: back to the menu via a prompt
    run.handle(PromptPlayed())
    batch = run.handle(DigitsCollected("9"))  # one failure again, not two
    assert isinstance(batch[-1], CollectDigits)
    assert run.outcome is None


GOOD_CASE = "410123456" + luhn_check_digit("410123456")
BAD_CASE = GOOD_CASE[:-1] + str((int(GOOD_CASE[-1]) + 1) % 10)
COLLECT_CASE = """\
  a:
    kind: collect
    prompt: ivr/enter-case-number
    variable: case_number
    min_digits: 10
    max_digits: 10
    terminator: "#"
    validation: case_number
    retries: 0
    next: ok
    on_exhausted: op
  ok: {kind: hangup, reason: ok}
  op: {kind: route, skill: hotline, priority: 5}
"""


@pytest.mark.parametrize(
    ("event", "batch"),
    [
        (DigitsCollected(GOOD_CASE + "#"),
         [SetVariable("case_number", GOOD_CASE), HangUpCall("ok")]),
        (DigitsCollected(GOOD_CASE), [SetVariable("case_number", GOOD_CASE), HangUpCall("ok")]),
        (DigitsCollected(BAD_CASE + "#"), [RouteToQueue("hotline", 5)]),
        (DigitsCollected(GOOD_CASE[:8], True), [RouteToQueue("hotline", 5)]),
        (DigitsCollected("", True), [RouteToQueue("hotline", 5)]),
    ],
)
def test_case_number_checksum(event: DigitsCollected, batch: list[Command]) -> None:
    """Only a 10-digit number whose last digit is its Luhn check digit is accepted."""
    run = run_of(COLLECT_CASE)
    assert run.start() == [CollectDigits(("ivr/enter-case-number",), 10, 10, 8.0, "#")]
    assert run.handle(event) == batch


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4101234562", case_number_valid("4101234562")),
        ("0000000000", True),
        ("1234567897", True),
        ("1234567890", False),
        ("123456789", False),  # 9 digits
        ("12345678970", False),  # 11 digits
        ("12345a7897", False),
        ("7992739871", False),
        ("0079927398", True),
        ("0079927399", False),
    ],
)
def test_case_number_is_ten_digits_with_luhn_check(number: str, valid: bool) -> None:
    """case_number_valid: 10 digits, the last being the Luhn check digit of the first nine."""
    assert case_number_valid(number) is valid


@pytest.mark.parametrize(
    ("payload", "check"), [("123456789", "7"), ("000000000", "0"), ("799273987", "5")]
)
def test_luhn_check_digit(payload: str, check: str) -> None:
    """The Luhn digit matches the textbook examples."""
    assert luhn_check_digit(payload) == check


def test_case_lookup_found_reads_status_then_goes_on() -> None:
    """A found case is read back (number digit by digit, status) before its found target."""
    run = run_of(
        """\
  a: {kind: case_status, variable: case_number, found: f, not_found: nf}
  f: {kind: hangup, reason: found}
  nf: {kind: hangup, reason: not_found}
""",
        variables={"case_number": "1234567897"},
    )
    assert run.start() == [LookupCase("1234567897")]
    batch = run.handle(CaseLookedUp("1234567897", True, "processing"))
    assert batch[0] == SetVariable("case_status", "processing")
    assert isinstance(batch[1], PlayPrompt)
    assert batch[1].prompts[-1] == "ivr/case-status-processing"
    assert batch[1].prompts[1:11] == tuple(f"ivr/digit-{d}" for d in "1234567897")
    assert run.handle(PromptPlayed()) == [HangUpCall("found")]


@pytest.mark.parametrize(
    ("status", "prompt"),
    [("resolved", "ivr/case-status-resolved"), ("on the moon", "ivr/case-status-unknown")],
)
def test_unknown_status_is_read_as_unknown(status: str, prompt: str) -> None:
    """A status outside the catalog's list is read as "unknown" rather than a missing file."""
    run = run_of(
        "  a: {kind: case_status, found: f, not_found: f}\n  f: {kind: hangup}\n",
        variables={"case_number": "1234567897"},
    )
    run.start()
    batch = run.handle(CaseLookedUp("1234567897", True, status))
    assert batch[-1].prompts[-1] == prompt  # type: ignore[union-attr]


def test_case_lookup_without_number_goes_to_not_found() -> None:
    """With no case number in the variable, the lookup is skipped as not found."""
    run = run_of(
        "  a: {kind: case_status, found: f, not_found: nf}\n"
        "  f: {kind: hangup, reason: found}\n  nf: {kind: hangup, reason: nf}\n"
    )
    assert run.start() == [HangUpCall("nf")]


BRANCH = """\
  a:
    kind: branch
    conditions:
      - {holiday: public_holidays, goto: holiday}
      - {weekday: [sat, sun], goto: weekend}
      - {time: "08:00-18:00", schedule_open: business_hours, goto: office}
      - {caller_known: true, caller_has_open_cases: true, goto: followup}
      - {language: en, goto: english}
      - {variable: vip, equals: "yes", goto: vip}
    else: other
  holiday: {kind: hangup, reason: holiday}
  weekend: {kind: hangup, reason: weekend}
  office: {kind: hangup, reason: office}
  followup: {kind: hangup, reason: followup}
  english: {kind: hangup, reason: english}
  vip: {kind: hangup, reason: vip}
  other: {kind: hangup, reason: other}
"""


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"holidays_today": frozenset({"public_holidays"})}, "holiday"),
        ({"now": SATURDAY_NIGHT}, "weekend"),
        ({"open_schedules": frozenset({"business_hours"})}, "office"),
        ({"now": datetime(2026, 12, 16, 19, 0), "open_schedules": frozenset({"business_hours"}),
          "caller_known": True, "open_cases": 1}, "followup"),
        ({"caller_known": True, "open_cases": 0}, "other"),
        ({"language": "en"}, "english"),
        ({"variables": {"vip": "yes"}}, "vip"),
        ({}, "other"),
    ],
)
def test_branch_conditions_first_match_wins(facts: dict[str, object], reason: str) -> None:
    """Holiday, weekday, time window, schedule, caller facts, language and variables decide."""
    run = run_of(BRANCH, **facts)
    assert run.start() == [HangUpCall(reason)]


@pytest.mark.parametrize(
    ("open_schedules", "expected"),
    [
        (frozenset({"water"}), TransferTo("01066189999")),
        (frozenset(), RouteToQueue("utilities", 5)),
    ],
)
def test_transfer_only_while_its_schedule_is_open(
    open_schedules: frozenset[str], expected: Command
) -> None:
    """A time-bound transfer goes out while its schedule is open, else to its closed target."""
    run = run_of(
        "  a: {kind: transfer, number: '01066189999', schedule: water, closed: op}\n"
        "  op: {kind: route, skill: utilities, priority: 5}\n",
        open_schedules=open_schedules,
    )
    assert run.start() == [expected]
    if isinstance(expected, TransferTo):
        assert run.outcome == Transferred("a", "01066189999")


def test_set_node_sets_variables_and_language() -> None:
    """A set node emits its variables and language change, then goes on in the same batch."""
    run = run_of(
        "  a: {kind: set, variables: {channel: hotline}, language: en, next: b}\n"
        "  b: {kind: play, prompt: ivr/greeting, next: c}\n  c: {kind: hangup}\n"
    )
    assert run.start() == [
        SetVariable("channel", "hotline"), SetLanguage("en"),
        PlayPrompt(("ivr/greeting",), True),
    ]
    assert run.language == "en"


def test_key_that_interrupts_a_prompt_answers_the_next_menu() -> None:
    """Type-ahead: a key that cut a prompt short is the answer to the menu that follows."""
    menu = MENU.replace("  a:", "  m:")
    run = run_of("  a: {kind: play, prompt: ivr/greeting, next: m}\n" + menu)
    run.start()
    assert run.handle(PromptPlayed(interrupted_by="1")) == [RouteToQueue("report", 7)]
    assert run.path == ("a", "m", "one")


SPEECH = """\
  a:
    kind: speech
    prompt: ivr/describe-problem
    min_confidence: 0.6
    routes: {traffic: t}
    next: heard
    fallback: menu
  t: {kind: route, skill: traffic, priority: 5}
  heard: {kind: route, skill: report, priority: 5}
  menu: {kind: menu, prompt: ivr/report-menu, options: {"2": t}, on_exhausted: heard}
"""


@pytest.mark.parametrize(
    ("event", "last"),
    [
        (SpeechHeard("红绿灯坏了", "traffic", 0.9), RouteToQueue("traffic", 5)),
        (SpeechHeard("有个事", None, 0.9), RouteToQueue("report", 5)),
        (SpeechHeard("红绿灯", "traffic", 0.3), CollectDigits(("ivr/report-menu",), 1, 1, 5.0,
                                                              None)),
        (SpeechHeard("", None, 0.0), CollectDigits(("ivr/report-menu",), 1, 1, 5.0, None)),
        (DigitsCollected("2"), RouteToQueue("traffic", 5)),
    ],
)
def test_speech_turn(event: SpeechHeard | DigitsCollected, last: Command) -> None:
    """Recognised skill routes; unknown skill goes next; silence or doubt falls back to keys."""
    run = run_of(SPEECH)
    assert run.start() == [ListenForSpeech(("ivr/describe-problem",), "free", (), 10.0, "problem")]
    batch = run.handle(event)
    assert batch[-1] == last
    if isinstance(event, SpeechHeard) and event.confidence >= 0.6 and event.transcript:
        assert SetVariable("description", event.transcript) in batch


def test_survey_records_score() -> None:
    """The survey entry asks 1-5, records the score and thanks the caller."""
    text = "name: t\nversion: '1'\nstart: a\nentries: {survey: s}\nnodes:\n" + MENU
    run = FlowRun(load_flow(text, "t"), ArrivalFacts("1", "zh", WEDNESDAY_NOON), entry="survey")
    assert run.start() == [CollectDigits(("ivr/survey-rate",), 1, 1, 6.0, None)]
    assert run.handle(DigitsCollected("4")) == [
        SetVariable("survey_score", "4"), RecordSurvey(4),
        PlayPrompt(("ivr/survey-thanks",), True),
    ]
    assert run.handle(PromptPlayed()) == [HangUpCall("flow_end")]


@pytest.mark.parametrize("at", ["start", "after_one_failure"])
def test_caller_hang_up_ends_cleanly_with_the_node(at: str) -> None:
    """CallerHungUp at any wait ends the run; the outcome names the node; nothing more is sent."""
    run = run_of(MENU)
    run.start()
    if at == "after_one_failure":
        run.handle(DigitsCollected("8"))
    assert run.handle(CallerHungUp()) == []
    assert run.outcome == CallerLeft("a")
    with pytest.raises(FlowStateError):
        run.handle(DigitsCollected("1"))


def test_hang_up_racing_the_route_keeps_the_route() -> None:
    """A hang-up that arrives after the call was routed is ignored; the outcome stays."""
    run = run_of(MENU)
    run.start()
    run.handle(DigitsCollected("1"))
    assert run.handle(CallerHungUp()) == []
    assert run.outcome == Routed("one", "report", 7)


@pytest.mark.parametrize(
    "event", [PromptPlayed(), CaseLookedUp("1", True, "closed")]
)
def test_unexpected_event_is_the_drivers_error(event: object) -> None:
    """An event the run is not waiting for raises FlowStateError (a local bug, not the caller)."""
    run = run_of(MENU)
    run.start()
    with pytest.raises(FlowStateError):
        run.handle(event)  # type: ignore[arg-type]


def test_handle_before_start_or_start_twice_is_an_error() -> None:
    """The run must be started exactly once before events are fed."""
    run = run_of(MENU)
    with pytest.raises(FlowStateError):
        run.handle(DigitsCollected("1"))
    run.start()
    with pytest.raises(FlowStateError):
        run.start()


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("12345" + "9" * 5000, "1234599999"),
        ("123#456", "123"),
        ("*1*2*3", "123"),
    ],
)
def test_digit_flood_is_bounded(raw: str, stored: str) -> None:
    """A digit string is cut at the terminator and at max_digits; stars are dropped."""
    run = run_of(
        "  a: {kind: collect, prompt: ivr/enter-case-number, variable: n, min_digits: 1,"
        " max_digits: 10, terminator: '#', next: b, on_exhausted: op}\n"
        "  b: {kind: hangup}\n  op: {kind: route, skill: hotline, priority: 5}\n"
    )
    run.start()
    assert run.handle(DigitsCollected(raw))[0] == SetVariable("n", stored)


@pytest.mark.parametrize(
    "nodes",
    [
        "  a: {kind: set, variables: {x: '1'}, next: b}\n"
        "  b: {kind: set, variables: {y: '1'}, next: a}\n",
        "  a: {kind: play, prompt: ivr/greeting}\n",
    ],
)
def test_broken_flow_at_run_time_still_reaches_an_operator(nodes: str) -> None:
    """A spinning loop or a hole never drops the caller: the safety net queues them."""
    run = run_of(nodes)
    batch = run.start()
    if isinstance(batch[-1], PlayPrompt):
        batch = run.handle(PromptPlayed())
    assert batch[-1] == RouteToQueue(SAFETY_SKILL, 5)
    assert isinstance(run.outcome, Routed)
    assert run.outcome.reason.startswith("safety")


@pytest.mark.parametrize(
    "make",
    [
        lambda: DigitsCollected("12x"),
        lambda: PromptPlayed("12"),
        lambda: SpeechHeard("x", None, 1.5),
        lambda: RecordSurvey(6),
        lambda: RouteToQueue("hotline", 11),
        lambda: CollectDigits(("p",), 3, 2, 5.0, None),
        lambda: ListenForSpeech(("p",), "grammar", (), 5.0),
    ],
)
def test_events_and_commands_are_validated_when_built(make: object) -> None:
    """Malformed events and commands cannot be constructed."""
    with pytest.raises(ValueError, match=r"."):
        make()  # type: ignore[operator]


def test_without_speech_menus_are_dtmf_only_and_speech_turns_fall_back() -> None:
    """With no recogniser for the call, keyword menus ask for keys and speech goes to keys."""
    run = run_of(MENU, language="en", speech_available=False)
    assert run.start() == [CollectDigits(("ivr/main-menu",), 1, 1, 5.0, None)]
    speech = run_of(SPEECH, speech_available=False)
    assert speech.start() == [CollectDigits(("ivr/report-menu",), 1, 1, 5.0, None)]
    assert speech.path == ("a", "menu")


CONFIRM_TRAFFIC = ListenForSpeech(
    ("ivr/confirm-traffic",), "grammar",
    ("是", "是的", "对", "对的", "没错", "不是", "不对", "错了"), 5.0, "confirm",
)
KEY_MENU = CollectDigits(("ivr/report-menu",), 1, 1, 5.0, None)


@pytest.mark.parametrize(
    ("answer", "last", "confirmed"),
    [
        (DigitsCollected("1"), RouteToQueue("traffic", 5), "yes"),
        (SpeechHeard("是的", None, 0.9, "accept"), RouteToQueue("traffic", 5), "yes"),
        (DigitsCollected("2"), KEY_MENU, "no"),
        (SpeechHeard("不是", None, 0.9, "accept"), KEY_MENU, "no"),
        # "是" heard, but too weakly to act on: not a yes.
        (SpeechHeard("是", None, 0.1, "reject"), KEY_MENU, "no_answer"),
        (DigitsCollected("", timed_out=True), KEY_MENU, "no_answer"),
        (SpeechHeard("", None, 0.0), KEY_MENU, "no_answer"),
    ],
)
def test_unsure_speech_is_confirmed_before_routing(
    answer: Event, last: Command, confirmed: str
) -> None:
    """In the confirm band the caller is asked "you said traffic, right?"; only a yes routes,
    and a no, silence or a mumble gives the key menu."""
    run = run_of(SPEECH)
    run.start()
    batch = run.handle(SpeechHeard("红绿灯", "traffic", 0.6, "confirm"))
    assert batch[-1] == CONFIRM_TRAFFIC
    assert SetVariable("speech_band", "confirm") in batch
    after = run.handle(answer)
    assert after[-1] == last
    assert SetVariable("speech_confirmed", confirmed) in after


@pytest.mark.parametrize(
    ("event", "last"),
    [
        (SpeechHeard("红绿灯坏了", "traffic", 0.95, "accept"), RouteToQueue("traffic", 5)),
        (SpeechHeard("红绿灯", "traffic", 0.95, "reject"), KEY_MENU),
        # Heard, no skill, not sure: keys, not the catch-all "next".
        (SpeechHeard("嗯嗯", None, 0.0, "confirm"), KEY_MENU),
    ],
)
def test_speech_bands_route_silently_only_when_sure(event: SpeechHeard, last: Command) -> None:
    run = run_of(SPEECH)
    run.start()
    assert run.handle(event)[-1] == last


def test_menu_keyword_below_accept_is_asked_again_by_keys() -> None:
    """A menu keyword heard without strong evidence is not acted on: the menu again, keys only."""
    menu = """\
  m:
    kind: menu
    prompt: ivr/main-menu
    options: {"1": one}
    keywords: {zh: {"1": [投诉]}}
    on_exhausted: one
  one: {kind: route, skill: report, priority: 7}
"""
    run = run_of(menu.replace("  m:", "  a:"))
    first = run.start()
    assert isinstance(first[-1], ListenForSpeech)
    batch = run.handle(SpeechHeard("投诉", None, 0.5, "confirm"))
    assert batch[-1] == CollectDigits(("ivr/main-menu",), 1, 1, 5.0, None)
    assert run.handle(DigitsCollected("1"))[-1] == RouteToQueue("report", 7)
    run = run_of(menu.replace("  m:", "  a:"))
    run.start()
    assert run.handle(SpeechHeard("投诉", None, 0.95, "accept"))[-1] == RouteToQueue("report", 7)
