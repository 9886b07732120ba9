"""A citizen dials 12345 over SIP, presses a key and reaches an operator with that skill."""

from __future__ import annotations

import itertools

import pytest

from ivr.app import Hotline
from ivr.sipp import AwaitHangUp, HangUp, OperatorPhone, Phones, Press, Wait

from .conftest import answered_by, finished_record, wait_until_free

pytestmark = pytest.mark.asterisk
_numbers = itertools.count(1)


def caller_number() -> str:
    return f"1380013{next(_numbers):04d}"


@pytest.mark.parametrize(
    ("key", "queue", "operator"),
    [
        ("1", "report", "op1001"),       # the only report operator
        ("2", "inquiry", "op1002"),      # the only inquiry operator
        ("3", "case_status", "op1003"),  # level 5 rings before op1002's level 4
        ("4", "suggestion", "op1003"),   # level 5 rings before op1001's level 3
        ("0", "hotline", "op1004"),      # an operator: the general queue's first member
    ],
)
async def test_main_menu_key_reaches_an_operator_with_that_skill(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone],
    key: str, queue: str, operator: str,
) -> None:
    """Each main-menu key routes the call to its skill queue and that skill's operator answers."""
    await wait_until_free(hotline.ami, f"PJSIP/{operator}")
    caller = caller_number()
    result = await phones.call([Wait(1.0), Press(key), AwaitHangUp(30)], caller=caller)
    assert result.ok, result.output
    assert answered_by(operators, caller) == [operator]
    record = await finished_record(hotline, caller)
    assert (record.outcome, record.queue) == ("routed", queue)
    assert record.path[-1] == f"route:{queue}"


async def test_invalid_key_is_retried_then_routed(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone]
) -> None:
    """A key that is not on the menu is refused with a prompt and the menu is offered again."""
    await wait_until_free(hotline.ami, "PJSIP/op1001")
    caller = caller_number()
    steps = [Wait(1.0), Press("7"), Wait(6.0), Press("1"), AwaitHangUp(30)]
    result = await phones.call(steps, caller=caller)
    assert result.ok, result.output
    assert answered_by(operators, caller) == ["op1001"]
    record = await finished_record(hotline, caller)
    assert record.path[:3] == ["main_menu", "main_menu:invalid", "main_menu:1"]


async def test_caller_hangs_up_mid_menu(
    hotline: Hotline, phones: Phones, operators: dict[str, OperatorPhone]
) -> None:
    """Hanging up during the menu ends the call cleanly and the record says where."""
    caller = caller_number()
    result = await phones.call([Wait(2.0), HangUp()], caller=caller)
    assert result.ok, result.output
    assert answered_by(operators, caller) == []
    record = await finished_record(hotline, caller)
    assert record.outcome == "caller_hung_up"
    assert record.hangup_node == "main_menu"
    assert record.queue is None
    assert record.ended_at is not None
