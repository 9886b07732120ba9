"""Priorities on the real Asterisk, as the one routing decision (``plan_call``) sets them:
an emergency goes ahead of everyone, an elderly caller ahead of normal callers, and the
stored reasons say why.

The flow here is a small one of the test's own: its ``set`` nodes write the ``urgency``
variable the way speech does when it hears an emergency or elderly cue, so the test needs
keys only (the Mandarin and English models are not installable here).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.app import Hotline
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.operators.desk import OperatorDesk
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import AwaitHangUp, OperatorPhone, Phones, Press, Step, Wait

from .conftest import finished_record, wait_until_free

pytestmark = pytest.mark.asterisk

FLOW = """\
name: priorities-test
version: "1"
languages: [zh, en]
start: menu
nodes:
  menu:
    kind: menu
    prompts: [ivr/main-menu]
    options: {"1": route_inquiry, "2": elderly, "3": emergency, "0": route_operator}
    timeout: 5
    retries: 1
    on_exhausted: route_operator
  elderly: {kind: set, variables: {urgency: elderly, intent_evidence: 独居老人},
            next: route_inquiry}
  emergency: {kind: set, variables: {urgency: emergency, intent_evidence: 煤气味},
              next: route_inquiry}
  route_inquiry: {kind: route, skill: inquiry, priority: 5}
  route_operator: {kind: route, skill: hotline, priority: 5}
"""


@pytest_asyncio.fixture
async def urgent(cfg: Settings, sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Hotline]:
    flow = tmp_path / "priorities.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    app = Hotline(dataclasses.replace(cfg, flow_path=flow))
    await app.start()
    await app.ami.wait_connected(10)
    yield app
    await app.stop()


def press(key: str, then: float) -> list[Step]:
    """Press ``key`` in the menu; after the operator (this flow has no survey) Asterisk hangs
    up, within ``then`` seconds."""
    return [Wait(1.0), Press(key), AwaitHangUp(then)]


async def test_emergency_then_elderly_then_normal_whatever_the_order_they_arrived_in(
    urgent: Hotline, phones: Phones, operators: dict[str, OperatorPhone], ami: AmiClient,
) -> None:
    """With the only inquiry operator away, a normal caller, an elderly one, an emergency and
    another normal caller wait, in that order of arrival. Each is told the place they really
    have (the callers served first); when the operator is back they are answered emergency,
    elderly, then the normal callers in arrival order; records and reasons say why."""
    callers = {"13822240001": "1", "13822240002": "2", "13822240003": "3", "13822240004": "1"}
    desk = OperatorDesk(urgent.settings, ami)
    await wait_until_free(ami, "PJSIP/op1002")
    await desk.pause("op1002", "meeting")
    calls = []
    try:
        for caller, key in callers.items():
            # Apart enough for each to have heard their place and joined the queue.
            calls.append(asyncio.create_task(phones.call(press(key, 100.0), caller=caller)))
            await asyncio.sleep(12.0)
    finally:
        await desk.unpause("op1002")
    for call in calls:
        result = await call
        assert result.ok, result.output
    assert operators["op1002"].calls()[:4] == [
        "13822240003", "13822240002", "13822240001", "13822240004"]
    records = [await finished_record(urgent, n) for n in callers]
    assert [r.priority for r in records] == [5, 6, 10, 5]
    assert "elderly caller '独居老人': priority 5 -> 6" in records[1].route_reasons
    assert "emergency cue '煤气味': priority 5 -> 10" in records[2].route_reasons
    # The elderly caller and the emergency go ahead of those waiting: each heard "you are
    # next"; the last normal caller has the three others ahead.
    assert [r.variables["queue_position"] for r in records] == ["1", "1", "1", "4"]
