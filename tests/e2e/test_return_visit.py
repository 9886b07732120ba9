"""The return visit (回访) on the real test bed: the hotline calls the citizen of a resolved
case through the callback gateway with its own number as caller ID; a SIPp citizen answers
and keys their evaluation over RTP; the answers are saved with the case. And a citizen calling
12345 about their resolved case hears its status recognised by their number, and reopens it."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.app import Hotline
from ivr.core.cases import Actor, Case, CaseAction
from ivr.core.settings import VisitSettings
from ivr.testbed.sipp import AnsweringCitizen, AwaitHangUp, Phones, Press, Wait
from tests.e2e.conftest import finished_record

GATEWAY_PORT = 5098  # sip.callback_contact: where the hotline's outbound calls go


async def resolved_case(hotline: Hotline, caller: str) -> str:
    settings = hotline.settings
    now = datetime.now(ZoneInfo(settings.timezone))
    cases = hotline.store.cases
    case = await cases.create(caller=caller, category="environment", now=now)
    await cases.act(case.number, CaseAction.DISPATCH, Actor("op1001"), now,
                    department="ecology", departments=settings.departments)
    await cases.act(case.number, CaseAction.RESOLVE, Actor("eco", "ecology"), now,
                    text="夜间施工已停止 night works stopped")
    return case.number


async def visited(hotline: Hotline, number: str, timeout: float = 30.0) -> Case:
    for _ in range(int(timeout * 5)):
        case = await hotline.store.cases.get(number)
        assert case is not None
        if case.visit_status in ("done", "unreachable"):
            return case
        await asyncio.sleep(0.2)
    raise AssertionError(f"no return-visit result for {number}: {case}")


async def test_the_citizen_answers_the_return_visit_and_keys_resolved_and_satisfied(
    hotline: Hotline, phones: Phones,
) -> None:
    """Resolved by the department; the hotline rings 13833330001 from 12345; the citizen
    presses 1 (resolved) during the first question and 2 (basically satisfied) during the
    second; the case is closed with that evaluation."""
    all_day = VisitSettings(window_start=0, window_end=24 * 60, retry_after=60.0)
    hotline.visits.reconfigure(dataclasses.replace(hotline.settings, visits=all_day))
    citizen = AnsweringCitizen(phones, GATEWAY_PORT, [
        Wait(2.0), Press("1"), Wait(2.5), Press("2"), AwaitHangUp(30),
    ])
    await citizen.start()
    try:
        number = await resolved_case(hotline, "13833330001")
        assert await hotline.visits.check() == [number]
        case = await visited(hotline, number)
        assert await citizen.finished(30)
    finally:
        await citizen.stop()
    assert (case.visit_status, case.visit_resolved, case.visit_satisfaction) == ("done", 1, 2)
    assert case.status == "closed"
    assert case.visit_attempts == 1
    assert citizen.calls() == ["12345"]  # the hotline's number as caller ID
    assert citizen.called() == ["13833330001"]
    history = await hotline.store.cases.history(number)
    assert history[-1].action == "visit"
    assert "resolved, basically satisfied" in history[-1].note


async def test_a_citizen_calling_about_a_resolved_case_hears_it_and_reopens_it(
    hotline: Hotline, phones: Phones,
) -> None:
    """13833330002's case was resolved; they call 12345, choose Mandarin, hear the case read
    back without keying its number, and press 1: it goes back to the department."""
    no_calls = VisitSettings(window_start=0, window_end=1)  # no return visit meanwhile
    hotline.visits.reconfigure(dataclasses.replace(hotline.settings, visits=no_calls))
    number = await resolved_case(hotline, "13833330002")
    steps = [Wait(1.0), Press("1"), Wait(2.5), Press("1"), AwaitHangUp(40)]
    assert (await phones.call(steps, caller="13833330002")).ok
    record = await finished_record(hotline, "13833330002", timeout=10)
    assert record.variables["caller_case"] == number
    assert record.variables["case_status"] == "resolved"
    assert "caller_case_status" in record.path
    assert record.variables["case_reopened"] == "yes"
    case = await hotline.store.cases.get(number)
    assert case is not None
    assert (case.status, case.department, case.resolved_at) == ("in_progress", "ecology", None)
    last = (await hotline.store.cases.history(number))[-1]
    assert (last.action, last.actor) == ("reopen", "citizen")
