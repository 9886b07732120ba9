"""The general pool is the fastest path to a human: a caller who asks for an operator (key 0),
or whom the dialplan sends there because the application is down, is offered at once to any
available logged-in operator (the best level first, then the longest idle), with or without
the general queue's skill.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from ivr.app import Hotline
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.testbed.sipp import AwaitHangUp, HangUp, OperatorPhone, Phones, Press, Step, Wait

from .conftest import wait_until_free

pytestmark = pytest.mark.asterisk
HOTLINE_SKILLED = "op1004"  # the only operator with the general queue's skill (level 4)


@pytest_asyncio.fixture
async def busy_hotline_operator(
    phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> AsyncIterator[OperatorPhone]:
    """op1004's phone, answering and then talking for 30 s (the first caller keeps them)."""
    await wait_until_free(ami, f"PJSIP/{HOTLINE_SKILLED}")
    await operators[HOTLINE_SKILLED].stop()
    talker = OperatorPhone(phones, HOTLINE_SKILLED, 5084, ring=0.3, talk=30.0)
    await talker.start()
    yield talker
    await talker.stop()
    await operators[HOTLINE_SKILLED].start()


def connects(ami: AmiClient) -> list[tuple[str, str, int]]:
    """(caller, operator interface, seconds waited) of each AgentConnect from now on."""
    seen: list[tuple[str, str, int]] = []
    ami.on_event(
        lambda e: seen.append((e.get("CallerIDNum"), e.get("Interface"),
                               int(e.get("HoldTime") or 0)))
        if e.name == "AgentConnect" else None
    )
    return seen


async def in_call(ami: AmiClient, interface: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = await ami.action("QueueStatus", as_list=True)
        if any(m.get("Event") == "QueueMember" and m.get("StateInterface") == interface
               and m.get("InCall") == "1" for m in messages):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{interface} never took the first call")


async def first_busy_then_next(
    phones: Phones, ami: AmiClient, steps: list[Step], second_steps: list[Step],
    first: str, second: str,
) -> tuple[str, int]:
    """The first caller takes the hotline operator; returns who answered the second and
    how long the second waited in the queue."""
    seen = connects(ami)
    a = asyncio.create_task(phones.call([*steps, Wait(40.0), HangUp()], caller=first))
    await in_call(ami, f"PJSIP/{HOTLINE_SKILLED}")
    b = await phones.call(second_steps, caller=second)
    assert b.ok, b.output
    await a
    assert (first, f"PJSIP/{HOTLINE_SKILLED}") in [(c, i) for c, i, _ in seen], seen
    [(interface, held)] = [(i, h) for c, i, h in seen if c == second]
    return interface.removeprefix("PJSIP/"), held


async def test_key_0_goes_to_an_idle_operator_without_the_skill_at_once(
    hotline: Hotline, phones: Phones, busy_hotline_operator: OperatorPhone, ami: AmiClient,
    cfg: Settings,
) -> None:
    """Key 0 while the only hotline-skilled operator is on a call: another operator, who has
    not the hotline skill, answers within the ring time, not after a widening rule."""
    keys: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("0")]
    # The second caller hangs up in the survey after their short call.
    operator, held = await first_busy_then_next(
        phones, ami, keys, [*keys, Wait(6.0), HangUp()], "13822250001", "13822250002")
    assert operator != HOTLINE_SKILLED
    assert "hotline" not in cfg.operators[operator].skills
    assert held <= 3, f"waited {held} s with operators idle"


async def test_with_the_application_down_the_fallback_answers_at_once_too(
    phones: Phones, busy_hotline_operator: OperatorPhone, ami: AmiClient, cfg: Settings,
) -> None:
    """No application at all: the dialplan's fallback to the general queue offers the second
    caller to an idle operator at once, while the hotline-skilled one is busy."""
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", cfg.agi.port)) != 0, "an application is listening"
    # No application, no survey: Asterisk hangs up after the operator does.
    operator, held = await first_busy_then_next(
        phones, ami, [Wait(0.5)], [Wait(0.5), AwaitHangUp(20)], "13822250003", "13822250004")
    assert operator != HOTLINE_SKILLED
    assert held <= 3, f"waited {held} s with operators idle"
