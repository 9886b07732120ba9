"""The loop's rules (``ivr.core.cases.act``): who takes which step from which status, and
what each step writes."""

from __future__ import annotations

import dataclasses

import pytest

from ivr.core.cases import (
    Actor,
    Case,
    CaseAction,
    CaseStatus,
    Satisfaction,
    act,
    change,
    visit_answered,
    visit_failed,
)
from ivr.errors import RecordNotFound, RecordRefused

AT = "2026-03-02T10:00:00+08:00"
DEPARTMENTS = ("ecology", "urban")
CENTRE = Actor("op1")
ECOLOGY = Actor("eco1", "ecology")
URBAN = Actor("urb1", "urban")


def case(status: str = "new", department: str = "", **extra: object) -> Case:
    base = Case("6061000012", "13800000001", "environment", status, AT, AT,
                department=department)
    return dataclasses.replace(base, **extra)  # type: ignore[arg-type]


def apply(c: Case, action: CaseAction, actor: Actor, **kw: str) -> Case:
    edit = act(c, action, actor, at=AT, departments=DEPARTMENTS, **kw)
    return dataclasses.replace(c, **edit.values)  # type: ignore[arg-type]


def test_a_case_goes_round_the_loop() -> None:
    """Dispatched, accepted, resolved with a reply: each step stamps its time."""
    c = apply(case(), CaseAction.DISPATCH, CENTRE, department="ecology")
    assert (c.status, c.department, c.dispatched_at) == ("dispatched", "ecology", AT)
    c = apply(c, CaseAction.ACCEPT, ECOLOGY)
    assert (c.status, c.responded_at) == ("in_progress", AT)
    c = apply(c, CaseAction.RESOLVE, ECOLOGY, text="Noise source removed.")
    assert (c.status, c.reply, c.resolved_at) == ("resolved", "Noise source removed.", AT)


def test_a_returned_case_loses_its_department_until_dispatched_again() -> None:
    """Return needs a reason; the centre dispatches it again to another department."""
    c = case("dispatched", "ecology", dispatched_at=AT)
    with pytest.raises(RecordRefused, match="needs a text"):
        act(c, CaseAction.RETURN, ECOLOGY, at=AT, text="  ")
    c = apply(c, CaseAction.RETURN, ECOLOGY, text="A gas leak: not ours")
    assert (c.status, c.department, c.returned_from, c.return_reason) == (
        "returned", "", "ecology", "A gas leak: not ours")
    assert CaseStatus(c.status).is_open
    with pytest.raises(RecordNotFound):  # no longer ecology's
        act(c, CaseAction.ACCEPT, ECOLOGY, at=AT)
    c = apply(c, CaseAction.DISPATCH, CENTRE, department="urban")
    assert (c.status, c.department, c.returned_from) == ("dispatched", "urban", "")
    assert apply(c, CaseAction.ACCEPT, URBAN).status == "in_progress"


def test_a_department_cannot_see_another_departments_case() -> None:
    """Every step on someone else's case is "not found", never "refused"."""
    c = case("dispatched", "ecology")
    for action in (CaseAction.ACCEPT, CaseAction.ASK, CaseAction.RESOLVE, CaseAction.RETURN):
        with pytest.raises(RecordNotFound):
            act(c, action, URBAN, at=AT, text="x")


@pytest.mark.parametrize(("actor", "action"), [
    (ECOLOGY, CaseAction.DISPATCH), (ECOLOGY, CaseAction.CLOSE), (ECOLOGY, CaseAction.REOPEN),
    (CENTRE, CaseAction.ACCEPT), (CENTRE, CaseAction.RETURN),
])
def test_each_side_takes_its_own_steps(actor: Actor, action: CaseAction) -> None:
    with pytest.raises(RecordRefused, match="only"):
        act(case("dispatched", "ecology"), action, actor, at=AT, text="x",
            department="urban", departments=DEPARTMENTS)


@pytest.mark.parametrize(("status", "action"), [
    ("new", CaseAction.ACCEPT), ("resolved", CaseAction.ACCEPT),
    ("in_progress", CaseAction.ACCEPT), ("closed", CaseAction.DISPATCH),
    ("in_progress", CaseAction.DISPATCH), ("new", CaseAction.REOPEN),
])
def test_steps_are_taken_from_their_statuses_only(status: str, action: CaseAction) -> None:
    actor = CENTRE if not action.by_department else ECOLOGY
    with pytest.raises(RecordRefused, match="is taken from"):
        act(case(status, "ecology"), action, actor, at=AT, department="urban",
            departments=DEPARTMENTS)


def test_a_question_waits_for_the_centres_answer() -> None:
    """Asking keeps the status, counts as a response, and the centre's answer clears it."""
    c = apply(case("dispatched", "ecology"), CaseAction.ASK, ECOLOGY, text="Which building?")
    assert (c.status, c.question, c.responded_at) == ("dispatched", "Which building?", AT)
    c = apply(c, CaseAction.ANSWER, CENTRE, text="Building 3")
    assert c.question == ""
    with pytest.raises(RecordRefused, match="no question"):
        act(c, CaseAction.ANSWER, CENTRE, at=AT, text="again")


def test_dispatch_needs_a_configured_department() -> None:
    with pytest.raises(RecordRefused, match="no department"):
        act(case(), CaseAction.DISPATCH, CENTRE, at=AT, department="nowhere",
            departments=DEPARTMENTS)


def test_reopen_clears_the_resolution() -> None:
    c = apply(case("resolved", "ecology", resolved_at=AT), CaseAction.REOPEN, CENTRE)
    assert (c.status, c.resolved_at) == ("in_progress", None)


def test_overlong_text_is_refused() -> None:
    with pytest.raises(RecordRefused, match="at most"):
        act(case("dispatched", "ecology"), CaseAction.RESOLVE, ECOLOGY, at=AT,
            text="x" * 2001)


def test_the_centres_plain_edit_redispatches_a_returned_case() -> None:
    """``change`` (PATCH) follows ``may_become``: returned -> dispatched, not -> resolved."""
    c = case("returned", "", returned_from="ecology")
    edit = change(c, {"department": "urban"}, "dispatched", "", AT)
    assert edit is not None
    assert (edit.values["status"], edit.values["dispatched_at"]) == ("dispatched", AT)
    with pytest.raises(RecordRefused):
        change(c, {}, "resolved", "", AT)


def test_resolving_makes_a_return_visit_due() -> None:
    c = apply(case("in_progress", "ecology"), CaseAction.RESOLVE, ECOLOGY, text="fixed")
    assert (c.visit_status, c.visit_attempts) == ("pending", 0)


def test_the_citizen_says_not_resolved_and_the_case_is_reopened() -> None:
    """Not resolved: back to the department (in progress); resolved: closed; answers kept."""
    resolved = case("resolved", "ecology", resolved_at=AT, visit_status="calling",
                    visit_attempts=1)
    edit = visit_answered(resolved, resolved=False, satisfaction=Satisfaction.DISSATISFIED,
                          at=AT)
    assert edit.values["status"] == "in_progress"
    assert (edit.values["visit_resolved"], edit.values["visit_satisfaction"]) == (0, 3)
    assert edit.action == "visit_reopen"
    edit = visit_answered(resolved, resolved=True, satisfaction=Satisfaction.SATISFIED, at=AT)
    assert (edit.values["status"], edit.values["visit_status"]) == ("closed", "done")


def test_an_unreachable_citizen_is_never_counted_satisfied() -> None:
    """Each failed attempt is retried until the attempts are spent: then unreachable, with no
    satisfaction and no resolution recorded."""
    calling = case("resolved", "ecology", visit_status="calling", visit_attempts=1)
    edit = visit_failed(calling, why="no answer", at=AT, max_attempts=3, retry_at="later")
    assert (edit.values["visit_status"], edit.values["visit_next_at"]) == ("pending", "later")
    last = dataclasses.replace(calling, visit_attempts=3)
    edit = visit_failed(last, why="busy", at=AT, max_attempts=3, retry_at="later")
    assert edit.values["visit_status"] == "unreachable"
    assert "visit_satisfaction" not in edit.values
    assert "visit_resolved" not in edit.values
    with pytest.raises(RecordRefused):
        visit_answered(dataclasses.replace(last, visit_status="unreachable"), resolved=True,
                       satisfaction=Satisfaction.SATISFIED, at=AT)
