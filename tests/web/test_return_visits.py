"""Return visits (回访) without Asterisk: the calls the hotline would place (a double of the AMI
link answers the Originate), the window, bounded attempts, and an unreachable citizen who is
never counted as satisfied. The real call is tested end to end (tests/e2e/test_return_visit)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.casework.visits import ReturnVisits
from ivr.core.cases import Actor, CaseAction
from ivr.core.settings import VisitSettings
from tests.web.conftest import WebHotline

ECOLOGY = Actor("eco", "ecology")


class Gateway:
    """The AMI link as the visits use it: every Originate answered with ``response``."""

    connected = True

    def __init__(self, response: dict[str, str]) -> None:
        self.response = response
        self.originates: list[Mapping[str, object]] = []

    async def action(self, name: str, fields: Mapping[str, object] | None = None, *,
                     as_list: bool = False, timeout: float | None = None,
                     ) -> list[dict[str, str]]:
        assert name == "Originate"
        self.originates.append(dict(fields or {}))
        return [{"Response": "Success"}, {"Event": "OriginateResponse", **self.response}]


async def resolved_case(hotline: WebHotline, caller: str = "13911112222") -> str:
    settings = hotline.settings
    now = datetime.now(ZoneInfo(settings.timezone))
    case = await hotline.store.cases.create(caller=caller, category="environment", now=now)
    await hotline.store.cases.act(case.number, CaseAction.DISPATCH, Actor("op"), now,
                                  department="ecology", departments=settings.departments)
    await hotline.store.cases.act(case.number, CaseAction.RESOLVE, ECOLOGY, now,
                                  text="已处理 handled")
    return case.number


def visits(hotline: WebHotline, gateway: Gateway, **window: int) -> ReturnVisits:
    all_day = VisitSettings(window_start=window.get("start", 0),
                            window_end=window.get("end", 24 * 60), retry_after=0.0)
    settings = dataclasses.replace(hotline.settings, visits=all_day)
    return ReturnVisits(settings, hotline.store.cases, gateway, clock=hotline.clock)


async def test_an_unreachable_citizen_is_recorded_as_such_and_never_counted_satisfied(
        hotline, api_as):
    """No answer three times: three calls from the hotline's number, then unreachable; the
    case keeps no satisfaction and the page says the citizen was not reached."""
    number = await resolved_case(hotline)
    gateway = Gateway({"Response": "Failure", "Reason": "3"})
    desk = visits(hotline, gateway)
    for _ in range(4):
        await desk.check()
        await desk.drain()
    assert len(gateway.originates) == 3
    first = gateway.originates[0]
    assert first["Channel"] == "PJSIP/13911112222@callbacks"
    assert first["CallerID"] == "12345 <12345>"
    assert first["Context"] == "return-visit"
    case = await hotline.store.cases.get(number)
    assert case is not None
    assert (case.visit_status, case.visit_attempts) == ("unreachable", 3)
    assert (case.visit_satisfaction, case.visit_resolved) == (None, None)
    assert case.status == "resolved"
    actions = [e.action for e in await hotline.store.cases.history(number)]
    assert actions[-3:] == ["visit_failed", "visit_failed", "visit_unreachable"]
    operator = await api_as("supervisor")  # the case is not an operator's own
    page = await (await operator.get(f"/cases/{number}")).text()
    assert 'data-visit="unreachable"' in page
    assert "未联系上" in page


async def test_no_call_outside_the_calling_window(hotline):
    number = await resolved_case(hotline)
    gateway = Gateway({"Response": "Success"})
    now = datetime.now(ZoneInfo(hotline.settings.timezone))
    minute = now.hour * 60 + now.minute
    closed = visits(hotline, gateway, start=(minute + 60) % 1380, end=(minute + 60) % 1380 + 30)
    assert await closed.check() == []
    assert gateway.originates == []
    case = await hotline.store.cases.get(number)
    assert case is not None
    assert (case.visit_status, case.visit_attempts) == ("pending", 0)


async def test_the_citizens_keys_are_saved_with_the_case(hotline):
    """What the call handler runs once the citizen answers: 2 (not resolved), 3
    (dissatisfied): the case goes back to the department, the answers stay with it."""
    number = await resolved_case(hotline)
    gateway = Gateway({"Response": "Success"})
    desk = visits(hotline, gateway)
    assert await desk.check() == [number]
    await desk.drain()
    heard: list[str] = []
    keys = iter(["2", "3"])

    async def citizen(prompt: str, listen: str) -> str:
        heard.append(prompt)
        return next(keys) if listen else ""

    assert await desk.ask(number, citizen) == "reopened"
    assert heard == ["ivr/visit-resolved", "ivr/visit-satisfied", "ivr/visit-thanks"]
    case = await hotline.store.cases.get(number)
    assert case is not None
    assert (case.status, case.department, case.visit_status) == (
        "in_progress", "ecology", "done")
    assert (case.visit_resolved, case.visit_satisfaction) == (0, 3)
    assert case.resolve_by is not None  # fresh deadlines for the department
