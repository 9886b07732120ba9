"""Case work: the departments' work queues and the centre's dispatch desk (接诉即办).

A department's account (role ``department``) sees its own department's cases at
``/department`` and works one at ``/department/cases/{number}``: accept, ask the centre a
question, reply with what was done and mark it resolved, or return a case that is not its own
with a reason. The centre (operators and up) sees at ``/dispatch`` what waits for it (new and
returned cases, departments' questions) and dispatches, answers, reopens or closes at
``/cases/{number}``. The same steps are ``POST /api/cases/{number}/actions``. Who may take
which step is the core's rule (``ivr.core.cases.act``); a department's account asking for
another department's case gets "not found". Every step is written to the case's history (who,
when) and to the audit log.

Pages are server-rendered forms (no script needed), Chinese first, English second.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from ivr.core.cases import Actor, Case, CaseAction, visible_to
from ivr.core.duplicates import Duplicate, likely_duplicates
from ivr.core.records import CallRecord, RecordingStatus, Role, User
from ivr.core.suggest import for_case
from ivr.core.words import Words, say
from ivr.errors import IvrError, RecordNotFound, Refused
from ivr.web.auth import json_body, require
from ivr.web.errors import json_error, message_of
from ivr.web.i18n import N_, config_language, name_in_language
from ivr.web.i18n import gettext as _
from ivr.web.keys import SERVICES
from ivr.web.paging import MAX_LIMIT, sliced
from ivr.web.recordings import may_play
from ivr.web.services import WebServices

VISIT_LABELS: Final = {
    "pending": N_("Return visit due"), "calling": N_("Calling the citizen"),
    "done": N_("Citizen answered"), "unreachable": N_("Citizen unreachable"),
}
SATISFACTION_LABELS: Final = {1: N_("Satisfied"), 2: N_("Basically satisfied"),
                              3: N_("Dissatisfied")}
FLAG_LABELS: Final = {
    "overdue": N_("Overdue"), "respond_overdue": N_("Not responded in time"),
    "nearly_due": N_("Nearly due"),
}
STATUS_LABELS: Final = {
    "new": N_("New"), "dispatched": N_("Dispatched"), "in_progress": N_("In progress"),
    "returned": N_("Returned"), "resolved": N_("Resolved"), "closed": N_("Closed"),
    "merged": N_("Merged"),
}
ACTION_LABELS: Final = {
    "create": N_("Filed"), "update": N_("Edited"), "set_status": N_("Status set"),
    "dispatch": N_("Dispatched"), "answer": N_("Answered"), "reopen": N_("Reopened"),
    "close": N_("Closed"), "accept": N_("Accepted"), "ask": N_("Asked the centre"),
    "resolve": N_("Resolved"), "return": N_("Returned"), "remind": N_("Reminder"),
    "escalate": N_("Escalated"), "visit": N_("Return visit"),
    "visit_reopen": N_("Visit: not resolved"), "visit_failed": N_("Visit failed"),
    "visit_unreachable": N_("Unreachable"), "merge": N_("Merged into another"),
    "merged_in": N_("Duplicate merged in"),
}


# The words at the head of a step's history note stored as plain text (before the core
# wrote its notes as ``Words``): read back from the text.
NOTE_WORDS: Final = {"answered": N_("answered"), "reopened": N_("reopened"),
                     "closed": N_("closed"), "accepted": N_("accepted"),
                     "asked the centre": N_("asked the centre"), "resolved": N_("resolved"),
                     "description changed": N_("description changed")}


def note_text(note: str, department_name: Any) -> str:
    """A history note in the user's language: the core's words (``ivr.core.words``, the
    departments by name), what a person wrote as they wrote it. A note stored as plain text
    by an earlier version: the core's words at its head translated (and a dispatch's word on
    the suggestion after it), what a person wrote after them (``: ...``) as it is."""
    if isinstance(note, Words):
        return say(note, _, lambda kind, ident: department_name(ident)
                   if kind == "department" else ident)
    head, sep, rest = note.partition(": ")
    if head.startswith("dispatched to "):
        head = _("dispatched to %(department)s",
                 department=department_name(head.removeprefix("dispatched to ")))
        word, more, after = rest.partition(": ")
        if word == "as suggested":
            rest = _("as suggested") + more + after
        elif word.startswith("suggested ") and word.endswith(", changed"):
            rest = _("suggested %(department)s, changed", department=department_name(
                word.removeprefix("suggested ").removesuffix(", changed"))) + more + after
    elif head.startswith("returned by "):
        head = _("returned by %(department)s",
                 department=department_name(head.removeprefix("returned by ")))
    elif head in NOTE_WORDS:
        head = _(NOTE_WORDS[head])
    else:
        return note
    return head + sep + rest


def reasons_text(stored: str) -> str:
    """Stored suggestion reasons (``ivr.core.suggest``: "zh / en" each, "; " between) in the
    user's language."""
    english = config_language() == "en"
    return "; ".join(
        (part.partition(" / ")[2] if english else part.partition(" / ")[0]) or part
        for part in stored.split("; ") if part)


CALLS_SHOWN: Final = 20  # the caller's latest calls on a case's page (the centre's)
FLAGGED_SHOWN: Final = 100  # overdue and nearly-due cases listed on the dispatch desk
DUPLICATE_WINDOW: Final = timedelta(hours=48)  # likely duplicates filed this close together


def actor_of(user: User) -> Actor:
    """The actor of the core's rules for a web account: an operator sees only their own
    cases (``ivr.core.cases.Owner``), supervisors and admins every case."""
    return Actor(user.username, user.department if user.role == Role.DEPARTMENT else None,
                 own_only=user.role == Role.OPERATOR, operator_id=user.operator_id)


async def is_theirs(services: WebServices, user: User, number: str) -> bool:
    """Whether case ``number`` is ``user``'s to see and work (always, above an operator)."""
    owner = actor_of(user).owner
    return owner is None or number in await services.store.cases.owned([number], owner)


def not_theirs(number: str) -> web.HTTPException:
    """403 for an operator asking for a case that is not theirs."""
    return json_error(web.HTTPForbidden, "not_yours",
                      _("Case %(number)s is not yours: it was neither opened by you nor "
                        "for a call you answered.", number=number))


async def _only_theirs(services: WebServices, user: User, cases: list[Case]) -> list[Case]:
    owner = actor_of(user).owner
    if owner is None:
        return cases
    mine = await services.store.cases.owned([c.number for c in cases], owner)
    return [c for c in cases if c.number in mine]


def _services(request: web.Request) -> WebServices:
    return request.app[SERVICES]


def case_json(case: Case, services: WebServices) -> dict[str, Any]:
    department = services.settings.departments.get(case.department)
    return {
        "number": case.number, "caller": case.caller, "category": case.category,
        "status": case.status, "created_at": case.created_at, "updated_at": case.updated_at,
        "respond_by": case.respond_by, "resolve_by": case.resolve_by,
        "escalated_at": case.escalated_at,
        "flag": case.standing(_now(services)).word,
        "call_id": case.call_id, "department": case.department,
        "department_name": department.name() if department else "",
        "description": case.description, "satisfaction": case.satisfaction,
        "urgency": case.urgency, "dispatched_at": case.dispatched_at,
        "responded_at": case.responded_at, "resolved_at": case.resolved_at,
        "question": case.question, "reply": case.reply, "returned_from": case.returned_from,
        "return_reason": case.return_reason, "visit_status": case.visit_status,
        "visit_attempts": case.visit_attempts, "visit_resolved": case.visit_resolved,
        "visit_satisfaction": case.visit_satisfaction, "visit_at": case.visit_at,
        "place": case.place, "suggested_department": case.suggested_department,
        "suggestion_reason": case.suggestion_reason, "suggestion_kept": case.suggestion_kept,
        "merged_into": case.merged_into,
    }


def proposal(services: WebServices, case: Case) -> tuple[str, str] | None:
    """The department the centre is proposed for ``case`` and why (Chinese / English): the
    one suggested when it was filed, or, for a case filed without one or returned by it, a
    fresh suggestion that leaves out the department that returned it."""
    stored = case.suggested_department
    if stored and stored != case.returned_from and stored in services.settings.departments:
        return stored, case.suggestion_reason
    found = for_case(services.settings, case.category, case.description,
                     exclude=case.returned_from)
    return (found.department, found.reason_text()) if found else None


def _now(services: WebServices) -> datetime:
    return services.clock.now(ZoneInfo(services.settings.timezone))


async def take_step(
    services: WebServices, user: User, number: str, action: CaseAction, *, text: str,
    department: str,
) -> Case:
    """Take ``action`` on case ``number`` as ``user`` and audit it (the core decides)."""
    now = _now(services)
    case = await services.store.cases.act(
        number, action, actor_of(user), now, text=text, department=department,
        departments=tuple(services.settings.departments),
        deadlines=services.settings.deadlines,
    )
    await services.store.audit.record(
        user.username, f"case.{action.value}", number,
        {"department": department} if department else {}, services.clock.now(),
    )
    return case


async def merge_cases(services: WebServices, user: User, number: str, into: str) -> Case:
    """Merge case ``number`` into case ``into`` as ``user`` and audit it (the core decides)."""
    case = await services.store.cases.merge(number, into.strip(), actor_of(user),
                                            _now(services))
    await services.store.audit.record(user.username, "case.merge", number, {"into": into},
                                      services.clock.now())
    return case


async def likely(services: WebServices, case: Case) -> list[Duplicate]:
    """The likely duplicates of ``case`` (``ivr.core.duplicates``)."""
    if case.merged_into or not case.is_open:
        return []
    near = await services.store.cases.near(case, DUPLICATE_WINDOW)
    return likely_duplicates(case, near, window=DUPLICATE_WINDOW)


async def case_calls(services: WebServices, case: Case, duplicates: list[Case]
                     ) -> list[tuple[str, CallRecord | None]]:
    """The calls recorded for the case: the one it was filed from and those of the
    duplicates merged into it (case number, the call; None when it is not stored)."""
    return [(c.number, await services.store.calls.get(c.call_id))
            for c in (case, *duplicates) if c.call_id]


# -- API -------------------------------------------------------------------------------------


def _body_text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("%(field)r must be a string.", field=key))
    return value


async def api_act(request: web.Request) -> web.Response:
    user = await require(request, Role.OPERATOR, Role.DEPARTMENT)
    body = await json_body(request)
    services = _services(request)
    if not await is_theirs(services, user, request.match_info["number"]):
        raise not_theirs(request.match_info["number"])
    try:
        action = CaseAction.parse(_body_text(body, "action"))
    except Refused as exc:
        raise json_error(web.HTTPBadRequest, "bad_field", message_of(exc)) from exc
    case = await take_step(services, user, request.match_info["number"], action,
                           text=_body_text(body, "text"),
                           department=_body_text(body, "department"))
    return web.json_response(case_json(case, services))


async def api_merge(request: web.Request) -> web.Response:
    user = await require(request, Role.OPERATOR)
    body = await json_body(request)
    services = _services(request)
    into = _body_text(body, "into")
    if not into:
        raise json_error(web.HTTPBadRequest, "missing_field", "'into' (the main case) is "
                         "required.")
    case = await merge_cases(services, user, request.match_info["number"], into)
    return web.json_response(case_json(case, services))


async def api_duplicates(request: web.Request) -> web.Response:
    await require(request, Role.OPERATOR)
    services = _services(request)
    number = request.match_info["number"]
    case = await services.store.cases.get(number)
    if case is None:
        raise json_error(web.HTTPNotFound, "not_found", f"No case {number}.")
    return web.json_response({
        "likely": [{**case_json(d.case, services), "similarity": d.similarity}
                   for d in await likely(services, case)],
        "merged": [case_json(c, services)
                   for c in await services.store.cases.duplicates_of(number)],
    })


async def api_department_cases(request: web.Request) -> web.Response:
    user = await require(request, Role.DEPARTMENT)
    services = _services(request)
    cases = await services.store.cases.of_department(user.department or "", limit=100_000)
    return sliced(request, [case_json(c, services) for c in cases], MAX_LIMIT)


async def api_dispatch_queue(request: web.Request) -> web.Response:
    user = await require(request, Role.OPERATOR)
    services = _services(request)
    waiting = await _only_theirs(services, user, await services.store.cases.for_centre())
    return sliced(request, [case_json(c, services) for c in waiting], MAX_LIMIT)


# -- pages -----------------------------------------------------------------------------------


def _translated(labels: Mapping[Any, str]) -> dict[Any, str]:
    return {key: _(label) for key, label in labels.items()}


def _page_context(services: WebServices) -> dict[str, Any]:
    """Labels and names in the request's language (``ivr.web.i18n``); ``departments`` is
    [(id, its name in that language, its English name, kind)]."""
    departments = services.settings.departments
    language = config_language()
    return {
        "status_labels": _translated(STATUS_LABELS), "action_labels": _translated(ACTION_LABELS),
        "flag_labels": _translated(FLAG_LABELS), "visit_labels": _translated(VISIT_LABELS),
        "satisfaction_labels": _translated(SATISFACTION_LABELS),
        "departments": [(d.id, d.name(language), d.name("en"), d.kind)
                        for d in departments.values()],
        "department_names": {d.id: d.name(language) for d in departments.values()},
        "note_text": lambda note: note_text(
            note, lambda i: departments[i].name(language) if i in departments else i),
        "skills": {s.id: name_in_language(s.names, s.id)
                   for s in services.settings.skills.values()},
    }


async def department_page(request: web.Request) -> web.StreamResponse:
    user = await require(request, Role.DEPARTMENT)
    services = _services(request)
    department = services.settings.departments.get(user.department or "")
    queue = await services.store.cases.of_department(user.department or "")
    done = await services.store.cases.of_department_done(user.department or "")
    now = _now(services)
    return aiohttp_jinja2.render_template("department.html", request, {
        **_page_context(services), "department": department, "queue": queue, "done": done,
        "flags": {c.number: c.standing(now).word for c in queue},
    })


async def _case_page(
    request: web.Request, user: User, number: str, *, error: str = "", status: int = 200,
) -> web.StreamResponse:
    services = _services(request)
    case = await services.store.cases.get(number)
    if case is None or not visible_to(case, actor_of(user)):
        raise web.HTTPNotFound(text=aiohttp_jinja2.render_string(
            "error.html", request, {"status": 404, "title": _("Not found"),
                                    "message": _("No case %(number)s.", number=number)}),
            content_type="text/html")
    if not await is_theirs(services, user, number):
        raise web.HTTPForbidden(text=aiohttp_jinja2.render_string(
            "error.html", request, {"status": 403, "title": _("Not allowed"),
                                    "message": _("Case %(number)s is not yours: it was neither "
                                                 "opened by you nor for a call you answered.",
                                                 number=number)}),
            content_type="text/html")
    history = await services.store.cases.history(number)
    calls = [] if user.role == Role.DEPARTMENT else await services.store.calls.latest_of_caller(
        case.caller, CALLS_SHOWN)
    if user.role == Role.OPERATOR:  # an operator sees their own calls only
        calls = [c for c in calls if c.operator and c.operator == user.operator_id]
    proposed = None if user.role == Role.DEPARTMENT else proposal(services, case)
    by_department = user.role == Role.DEPARTMENT
    merged = [] if by_department else await services.store.cases.duplicates_of(number)
    response = aiohttp_jinja2.render_template("case_work.html", request, {
        "likely": [] if by_department else await likely(services, case),
        "merged": merged,
        "case_calls": [] if by_department else await case_calls(services, case, merged),
        **_page_context(services), "case": case, "history": history, "error": error,
        "flag": case.standing(_now(services)).word, "calls": calls,
        "by_department": by_department,
        "form_action": (f"/department/cases/{number}" if by_department
                        else f"/cases/{number}"),
        "proposed": proposed[0] if proposed else "",
        "proposed_reason": reasons_text(proposed[1]) if proposed else "",
    })
    response.set_status(status)
    return response


async def department_case(request: web.Request) -> web.StreamResponse:
    user = await require(request, Role.DEPARTMENT)
    return await _case_page(request, user, request.match_info["number"])


async def centre_case(request: web.Request) -> web.StreamResponse:
    user = await require(request, Role.OPERATOR)
    return await _case_page(request, user, request.match_info["number"])


async def _step_from_form(request: web.Request, user: User, back: str) -> web.StreamResponse:
    number = request.match_info["number"]
    form = await request.post()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    services = _services(request)
    if not await is_theirs(services, user, number):
        return await _case_page(request, user, number)  # renders the 403 page
    try:
        if fields.get("action") == "merge" and user.role != Role.DEPARTMENT:
            duplicate, into = fields.get("duplicate", ""), fields.get("into", "")
            await merge_cases(services, user, duplicate, into)
            raise web.HTTPSeeOther(f"/cases/{into}")
        action = CaseAction.parse(fields.get("action", ""))
        await take_step(services, user, number, action, text=fields.get("text", ""),
                        department=fields.get("department", ""))
    except RecordNotFound:
        return await _case_page(request, user, number)  # renders the 404 page
    except IvrError as exc:
        return await _case_page(request, user, number, error=message_of(exc), status=409)
    raise web.HTTPSeeOther(back)


async def department_step(request: web.Request) -> web.StreamResponse:
    user = await require(request, Role.DEPARTMENT)
    return await _step_from_form(request, user, f"/department/cases/{request.match_info['number']}")


async def centre_step(request: web.Request) -> web.StreamResponse:
    user = await require(request, Role.OPERATOR)
    return await _step_from_form(request, user, f"/cases/{request.match_info['number']}")


async def dispatch_page(request: web.Request) -> web.StreamResponse:
    user = await require(request, Role.OPERATOR)
    services = _services(request)
    waiting = await _only_theirs(services, user, await services.store.cases.for_centre())
    proposed = {c.number: proposal(services, c) for c in waiting}
    alerts = await services.store.cases.alerts(_now(services), FLAGGED_SHOWN)
    owner = actor_of(user).owner
    if owner is not None:  # an operator's desk lists their own flagged cases only
        mine = await services.store.cases.owned([c.number for c in alerts.cases], owner)
        alerts = dataclasses.replace(
            alerts, cases=tuple(c for c in alerts.cases if c.number in mine))
    return aiohttp_jinja2.render_template("dispatch.html", request, {
        **_page_context(services), "waiting": waiting, "alerts": alerts,
        "proposed": {n: p[0] for n, p in proposed.items() if p is not None},
    })


async def call_page(request: web.Request) -> web.StreamResponse:
    """One call's record, linked from the cases filed from it, with its recording."""
    user = await require(request, Role.OPERATOR)
    services = _services(request)
    call = await call_or_404(request, services)
    return aiohttp_jinja2.render_template("call.html", request,
                                          await call_context(services, user, call))


async def call_or_404(request: web.Request, services: WebServices) -> CallRecord:
    """The call of the page's ``{call_id}``; a 404 page when there is none."""
    call_id = request.match_info["call_id"]
    call = await services.store.calls.get(call_id)
    if call is None:
        raise web.HTTPNotFound(text=aiohttp_jinja2.render_string(
            "error.html", request, {"status": 404, "title": _("Not found"),
                                    "message": _("No call %(id)s.", id=call_id)}),
            content_type="text/html")
    return call


async def call_context(services: WebServices, user: User, call: CallRecord) -> dict[str, Any]:
    """What call.html shows of ``call`` to ``user`` (the quality review adds its form)."""
    return {"call": call, "cases": await services.store.cases.of_call(call.call_id),
            "recording": await recording_state(services, user, call),
            "may_review": Role.rank_of(user.role) >= Role.SUPERVISOR.rank
            and call.answered_at is not None}


async def recording_state(services: WebServices, user: User, call: CallRecord) -> str:
    """What the call page says of the recording: ``play`` (the player), ``forbidden`` (there
    is one, not for this user), ``missing`` (noted but not in the directory), ``failed``,
    ``purged``, ``recording`` (the call goes on), ``unnoted`` (answered, nothing noted),
    ``unanswered``."""
    status = call.recording_status
    if status in {RecordingStatus.FAILED, RecordingStatus.PURGED}:
        return status
    if status is None:
        return "unnoted" if call.answered_at else "unanswered"
    recordings = services.recordings
    path = (await asyncio.to_thread(recordings.available, call.recording, status)
            if recordings is not None else None)
    if path is None:
        return "recording" if status == RecordingStatus.RECORDING else "missing"
    return "play" if may_play(user, call) else "forbidden"


SEARCH_FIELDS: Final = ("number", "caller", "category", "department", "status")
PAGE_SIZE: Final = 50


def search_terms(query: Mapping[str, str], services: WebServices) -> dict[str, Any]:
    """The case search's criteria from a query string (``overdue=1``: overdue now)."""
    terms: dict[str, Any] = {k: (query.get(k) or "").strip()[:64] for k in SEARCH_FIELDS}
    if terms["status"] and terms["status"] not in STATUS_LABELS:
        raise json_error(web.HTTPBadRequest, "bad_query",
                         _("status must be one of %(statuses)s.",
                           statuses=", ".join(STATUS_LABELS)))
    terms["overdue_at"] = _now(services) if query.get("overdue") else None
    return terms


async def cases_page(request: web.Request) -> web.StreamResponse:
    """The case list and search (operators and up; an operator's own cases only)."""
    user = await require(request, Role.OPERATOR)
    services = _services(request)
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    error, found = "", []
    try:
        terms = search_terms(request.query, services)
    except web.HTTPBadRequest:
        error, terms = _("Unknown status."), {}
    if not error:
        found = await services.store.cases.search(
            **terms, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE,
            owner=actor_of(user).owner)
    now = _now(services)
    shown = found[:PAGE_SIZE]
    query = {k: request.query.get(k, "") for k in (*SEARCH_FIELDS, "overdue")}
    return aiohttp_jinja2.render_template("cases.html", request, {
        **_page_context(services), "cases": shown, "query": query, "error": error,
        "flags": {c.number: c.standing(now).word for c in shown},
        "page": page, "more": len(found) > PAGE_SIZE,
        "query_string": "&".join(f"{k}={quote(v)}" for k, v in query.items() if v),
    }, status=400 if error else 200)


def setup(app: web.Application) -> None:
    app.router.add_get("/cases", cases_page)
    app.router.add_post("/api/cases/{number}/actions", api_act)
    app.router.add_post("/api/cases/{number}/merge", api_merge)
    app.router.add_get("/api/cases/{number}/duplicates", api_duplicates)
    app.router.add_get("/api/department/cases", api_department_cases)
    app.router.add_get("/api/dispatch", api_dispatch_queue)
    app.router.add_get("/department", department_page)
    app.router.add_get("/department/cases/{number}", department_case)
    app.router.add_post("/department/cases/{number}", department_step)
    app.router.add_get("/dispatch", dispatch_page)
    app.router.add_get("/calls/{call_id}", call_page)
    app.router.add_get("/cases/{number}", centre_case)
    app.router.add_post("/cases/{number}", centre_step)
