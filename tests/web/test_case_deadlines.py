"""Deadlines in the web: an overdue case is flagged on the dispatch desk, the wallboard and
its department's queue, escalated once; a nearly-due case gets one reminder; a resolved case
is never flagged."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ivr.core.cases import Actor, CaseAction
from tests.web.conftest import WebHotline

CENTRE = Actor("op-centre")


async def dispatched(hotline: WebHotline, category: str, urgency: str, ago: timedelta,
                     department: str = "ecology") -> str:
    """A case dispatched ``ago`` (the store is given that moment, as the desk would have)."""
    settings = hotline.settings
    then = datetime.now(ZoneInfo(settings.timezone)) - ago
    case = await hotline.store.cases.create(caller="13900000001", category=category,
                                            urgency=urgency, now=then)
    await hotline.store.cases.act(case.number, CaseAction.DISPATCH, CENTRE, then,
                                  department=department, departments=settings.departments,
                                  deadlines=settings.deadlines)
    return case.number


async def test_an_overdue_case_is_flagged_and_escalated_once(api_as, hotline):
    """Dispatched 30 days ago with 15 working days to resolve: overdue on the wallboard (from
    the watch's last check), on the dispatch desk and in the department's queue; escalated to
    the supervisors with one history line however often the watch looks."""
    overdue = await dispatched(hotline, "environment", "normal", timedelta(days=30))
    fresh = await dispatched(hotline, "environment", "normal", timedelta(minutes=5))
    alerts = await hotline.deadlines.check()
    assert (alerts.overdue, alerts.respond_overdue, alerts.escalated) == (1, 1, 1)
    assert [c.number for c in alerts.cases] == [overdue]
    await hotline.deadlines.check()
    history = await hotline.store.cases.history(overdue)
    escalations = [e for e in history if e.action == "escalate"]
    assert len(escalations) == 1
    assert escalations[0].actor == "system"
    assert "escalated to the supervisors" in escalations[0].note

    supervisor = await api_as("supervisor")
    board = await (await supervisor.get("/wallboard/data")).json()
    assert board["cases"]["overdue"] == 1
    assert [(c["number"], c["word"], c["escalated"]) for c in board["cases"]["cases"]] == [
        (overdue, "overdue", True)]
    assert board["cases"]["cases"][0]["department_name"] == "生态环境局"

    desk = await (await supervisor.get("/dispatch")).text()
    assert f'data-case="{overdue}" data-flag="overdue"' in desk
    assert fresh not in desk

    ecology = await api_as("department", department="ecology")
    queue = await (await ecology.get("/department")).text()
    assert f'data-case="{overdue}" data-flag="overdue"' in queue
    assert f'data-case="{fresh}" data-flag=""' in queue
    listed = await (await ecology.get("/api/department/cases")).json()
    assert {c["number"]: c["flag"] for c in listed} == {overdue: "overdue", fresh: ""}

    # Resolved, it is no longer flagged anywhere.
    resp = await ecology.post(f"/api/cases/{overdue}/actions",
                              json={"action": "resolve", "text": "done"})
    assert resp.status == 200
    alerts = await hotline.deadlines.check()
    assert (alerts.overdue, alerts.cases) == (0, ())


async def test_a_nearly_due_case_gets_one_reminder(hotline):
    """An urgent utilities case (12 h to resolve) dispatched 11 h ago, already accepted: nearly
    due, reminded once in its history."""
    number = await dispatched(hotline, "utilities", "urgent", timedelta(hours=11),
                              department="urban")
    await hotline.store.cases.act(number, CaseAction.ACCEPT, Actor("urb", "urban"),
                                  datetime.now(ZoneInfo(hotline.settings.timezone)))
    alerts = await hotline.deadlines.check()
    assert (alerts.nearly_due, alerts.overdue) == (1, 0)
    assert alerts.cases[0].word == "nearly_due"
    await hotline.deadlines.check()
    reminders = [e for e in await hotline.store.cases.history(number) if e.action == "remind"]
    assert len(reminders) == 1
    assert "nearly due" in reminders[0].note
