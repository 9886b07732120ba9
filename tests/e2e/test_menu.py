"""Citizens walk the shipped 12345 flow over real SIP: every main-menu branch by DTMF,
the report sub-menu, the case-status lookup and the survey; and the simulator agrees."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.app import Hotline
from ivr.core.flow import ArrivalFacts, Routed, simulate
from ivr.core.settings import Settings
from ivr.flows.files import load_flow_file
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import AwaitHangUp, HangUp, OperatorPhone, Phones, Press, Step, Wait
from ivr.tools.admin import flow_check

from .conftest import answered_by, finished_record, wait_until_free

pytestmark = pytest.mark.asterisk
_numbers = itertools.count(1)


def caller_number() -> str:
    return f"1380013{next(_numbers):04d}"


def keys_then_survey(keys: list[str], score: str) -> list[Step]:
    """Press 1 (Mandarin) during the greeting, then each key while its menu plays; after the
    operator has talked and hung up, answer the survey with ``score``."""
    steps: list[Step] = [Wait(1.0), Press("1")]
    for key in keys:
        steps += [Wait(1.5), Press(key)]
    return [*steps, Wait(4.5), Press(score), AwaitHangUp(40)]


def played(sandbox: Sandbox, channel: str, caller: str) -> list[str]:
    """Sounds Asterisk played to this caller's channel, from its log (channel names restart
    with Asterisk, so only lines after this call's arrival count)."""
    lines = (sandbox.root / "var/log/asterisk/messages.log").read_text(
        errors="replace").splitlines()
    arrival = f'NoOp("{channel}", "12345 call from {caller}")'
    start = max(i for i, line in enumerate(lines) if arrival in line)
    marker = f"<{channel}> Playing '"
    return [line.split(marker, 1)[1].split("'", 1)[0].rsplit(".", 1)[0]
            for line in lines[start:] if marker in line]


def simulated(cfg: Settings, keys: str) -> Routed:
    flow = load_flow_file(cfg.flow_path)
    facts = ArrivalFacts(caller="13800000000", language="zh",
                      now=datetime.now(ZoneInfo(cfg.timezone)), speech_available=False)
    outcome = simulate(flow, facts, keys).outcome
    assert isinstance(outcome, Routed)
    return outcome


@pytest.mark.parametrize(
    ("keys", "queue", "operator"),
    [
        (["2"], "inquiry", "op1002"),
        (["4"], "suggestion", "op1003"),      # level 5 rings before op1001's level 3
        (["0"], "hotline", "op1004"),         # an operator: the general queue
        (["1", "1"], "environment", "op1005"),
        (["1", "2"], "traffic", "op1005"),    # level 4 rings before op1007's level 3
        (["1", "3"], "housing", "op1006"),
        (["1", "4"], "utilities", "op1006"),
        (["1", "5"], "labour", "op1007"),
        (["1", "6"], "market", "op1007"),
        (["1", "9"], "report", "op1001"),     # "other" report
    ],
)
async def test_every_branch_reaches_its_operator_and_the_survey_is_stored(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone],
    cfg: Settings, keys: list[str], queue: str, operator: str,
) -> None:
    """Each branch routes to its skill's best operator; the 1-5 score after the call is kept;
    `ivr flow simulate` with the same keys makes the same decision."""
    await wait_until_free(hotline.ami, f"PJSIP/{operator}")
    caller = caller_number()
    result = await phones.call(keys_then_survey(keys, "4"), caller=caller)
    assert result.ok, result.output
    assert answered_by(operators, caller) == [operator]
    record = await finished_record(hotline, caller, survey=True)
    assert (record.outcome, record.queue) == ("routed", queue)
    assert record.survey_score == 4
    assert "survey:survey" in record.path
    decision = simulated(cfg, "1" + "".join(keys))
    assert (decision.skill, decision.priority) == (record.queue, record.priority)
    assert [n for n in record.path if not n.startswith("survey:")][-1] == decision.node


async def test_case_status_is_read_back_then_an_operator(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], sandbox: Sandbox,
) -> None:
    """A citizen keys in a case number, hears its status, and presses 0 for an operator."""
    case = await hotline.store.cases.create(
        caller="13900000001", category="housing", department="Housing", now=datetime.now(UTC),
    )
    await hotline.store.cases.set_status(case.number, "dispatched", datetime.now(UTC))
    await wait_until_free(hotline.ami, "PJSIP/op1003")
    caller = caller_number()
    steps: list[Step] = [
        Wait(1.0), Press("1"), Wait(1.5), Press("3"), Wait(1.0), Press(case.number + "#"),
        Wait(19.0), Press("0"), Wait(4.5), Press("5"), AwaitHangUp(40),  # readback: ~17 s
    ]
    result = await phones.call(steps, caller=caller)
    assert result.ok, result.output
    assert answered_by(operators, caller) == ["op1003"]
    record = await finished_record(hotline, caller, survey=True)
    assert record.variables["case_number"] == case.number
    assert "after_status" in record.path
    assert record.queue == "case_status"
    sounds = played(sandbox, record.channel, caller)
    assert "ivr/case-status-processing" in sounds  # dispatched reads back as "processing"
    assert f"ivr/digit-{case.number[-1]}" in sounds


async def test_unknown_case_number_gets_a_clear_prompt(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone], sandbox: Sandbox,
) -> None:
    """A valid-looking number that is no case is told so, then the caller can reach an operator."""
    await wait_until_free(hotline.ami, "PJSIP/op1003")
    caller = caller_number()
    unknown = "0000000000"  # passes the checksum, never issued
    steps: list[Step] = [
        Wait(1.0), Press("1"), Wait(1.5), Press("3"), Wait(1.0), Press(unknown + "#"),
        Wait(3.0), Press("0"), Wait(4.5), HangUp(),
    ]
    result = await phones.call(steps, caller=caller)
    assert result.ok, result.output
    record = await finished_record(hotline, caller)
    assert "case_not_found" in record.path
    assert "ivr/case-not-found" in played(sandbox, record.channel, caller)
    assert record.queue == "case_status"


async def test_caller_hangs_up_mid_menu(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone]
) -> None:
    """Hanging up during the main menu ends the call cleanly and the record says where."""
    caller = caller_number()
    result = await phones.call([Wait(1.0), Press("1"), Wait(1.5), HangUp()], caller=caller)
    assert result.ok, result.output
    assert answered_by(operators, caller) == []
    record = await finished_record(hotline, caller)
    assert record.outcome == "caller_hung_up"
    assert record.hangup_node == "main_menu"
    assert record.queue is None


async def test_no_input_and_invalid_input_retry_then_reach_an_operator(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone]
) -> None:
    """Invalid keys at the main menu are retried, then the caller is given to an operator."""
    await wait_until_free(hotline.ami, "PJSIP/op1004")
    caller = caller_number()
    steps: list[Step] = [Wait(1.0), Press("1")]
    for _ in range(3):
        steps += [Wait(1.5), Press("7"), Wait(4.0)]
    result = await phones.call([*steps, Wait(2.0), HangUp()], caller=caller)
    assert result.ok, result.output
    record = await finished_record(hotline, caller)
    assert record.queue == "hotline"
    assert record.path.count("main_menu") == 1
    assert answered_by(operators, caller) == ["op1004"]


def test_shipped_flow_passes_the_check(cfg: Settings) -> None:
    """`ivr flow check` on the shipped flow finds nothing."""
    text, code = flow_check(cfg, [str(Path(cfg.flow_path))])
    assert code == 0, text
