"""Quality review for supervisors and admins (operators and departments get 403).

``/quality`` finds answered calls (a range of days, at most ``MAX_DAYS``; operator, skill,
survey score, talk time, reviewed or not), a page at a time, from the store. A call opens at
``/quality/calls/<id>``: the call page (``call.html``: the recording's audited player, what
the caller said, why the call was routed) with the checklist of ``config/quality.yaml``
below it; saving the form scores the call (``ivr.core.quality.score``) and stores the review,
audited (``call_reviewed`` with the marks). One review a call: the latest saved wins.

The same under ``/api/quality``: ``GET calls`` (the search, paged), ``GET checklist``,
``GET|PUT reviews/{call_id}``, ``GET operators`` (the figures per operator of a range of
days). Marks that do not fit the checklist are a 400 ``bad_marks`` listing every problem;
nothing is saved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from ivr.core.quality import (
    MAX_COMMENT,
    CallReview,
    CallSearch,
    Checklist,
    OperatorQuality,
    per_operator,
    score,
)
from ivr.core.records import CallRecord, Role, User
from ivr.edges.storage.tables import utc_text
from ivr.errors import MarksRefused, RecordNotFound, Refused
from ivr.web.auth import json_body, require
from ivr.web.casework import call_context, call_or_404
from ivr.web.errors import json_error
from ivr.web.i18n import gettext as _
from ivr.web.i18n import name_in_language
from ivr.web.keys import SERVICES
from ivr.web.paging import page_of, paged
from ivr.web.services import WebServices

ROLE: Final = Role.SUPERVISOR
MAX_DAYS: Final = 31
PAGE_SIZE: Final = 50
FIELDS: Final = ("from", "to", "operator", "skill", "survey_min", "survey_max", "talk_min",
                 "talk_max", "reviewed")


class BadSearch(ValueError):
    """The search's query cannot be used; the message (in the user's language) says why."""


def _tz(services: WebServices) -> ZoneInfo:
    return ZoneInfo(services.settings.timezone)


def days_of(query: Mapping[str, str], today: date) -> tuple[date, date]:
    """``from``/``to`` (YYYY-MM-DD; default: the last 7 days to today), at most MAX_DAYS."""
    try:
        last = date.fromisoformat(query.get("to") or today.isoformat())
        first = date.fromisoformat(query.get("from") or (last - timedelta(days=6)).isoformat())
    except ValueError:
        raise BadSearch(_("Dates must be written YYYY-MM-DD.")) from None
    if last < first:
        raise BadSearch(_("The end date is before the start date."))
    if (last - first).days + 1 > MAX_DAYS:
        raise BadSearch(_("At most %(days)s days at a time.", days=MAX_DAYS))
    return first, last


def bounds(first: date, last: date, tz: ZoneInfo) -> tuple[str, str]:
    """Local midnight of ``first`` to local midnight after ``last``, as stored (UTC text)."""
    return (utc_text(datetime.combine(first, time(), tzinfo=tz)),
            utc_text(datetime.combine(last + timedelta(days=1), time(), tzinfo=tz)))


def _number(query: Mapping[str, str], key: str, lowest: float, highest: float,
            whole: bool) -> Any:
    raw = (query.get(key) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = None
    if value is None or not lowest <= value <= highest:
        raise BadSearch(_("%(field)s must be a number from %(low)s to %(high)s.",
                          field=key, low=format(lowest, "g"), high=format(highest, "g")))
    return value


def parse_search(query: Mapping[str, str], services: WebServices) -> CallSearch:
    """The search a query string asks for; ``BadSearch`` says what is wrong with it."""
    tz = _tz(services)
    first, last = days_of(query, services.clock.now(tz).date())
    start, end = bounds(first, last, tz)
    reviewed = {"": None, "yes": True, "no": False}.get(query.get("reviewed") or "", "bad")
    if reviewed == "bad":
        raise BadSearch(_("reviewed must be yes or no."))
    return CallSearch(
        start, end, operator=(query.get("operator") or "").strip()[:32],
        skill=(query.get("skill") or "").strip()[:32],
        survey_min=_number(query, "survey_min", 1, 5, True),
        survey_max=_number(query, "survey_max", 1, 5, True),
        talk_min=_number(query, "talk_min", 0, 86_400, False),
        talk_max=_number(query, "talk_max", 0, 86_400, False),
        reviewed=reviewed if isinstance(reviewed, bool) else None,
    )


def checklist_view(checklist: Checklist) -> list[dict[str, Any]]:
    """The items with their names in the user's language."""
    return [{"id": i.id, "name": name_in_language(i.names, i.id), "names": dict(i.names),
             "points": i.points} for i in checklist.items]


def marks_problems(exc: MarksRefused, checklist: Checklist) -> list[dict[str, str]]:
    """Each problem of ``exc`` in the user's language, naming the item as the user sees it."""
    words = {
        "no_checklist": _("No checklist is configured (config/quality.yaml)."),
        "unknown": _("not an item of the checklist"),
        "missing": _("no mark given (0 to %(most)s)"),
        "out_of_range": _("the mark must be a whole number from 0 to %(most)s"),
    }
    out = []
    for p in exc.problems:
        item = checklist.item(p["item"])
        shown = name_in_language(item.names, item.id) if item else p["item"]
        message = words.get(p["problem"], p["problem"]) % {"most": p["most"]}
        out.append({"item": p["item"], "name": shown, "message": message})
    return out


async def save_review(services: WebServices, user: User, call_id: str,
                      marks: Mapping[str, object], comment: str) -> CallReview:
    """Score ``call_id`` with ``marks`` and store the review (audited). ``RecordNotFound``:
    no such call; ``Refused``: not answered, or the comment too long; ``MarksRefused``: the
    marks do not fit the checklist. Nothing is stored unless all is well."""
    call = await services.store.calls.get(call_id)
    if call is None:
        raise RecordNotFound(_("No call %(id)s.", id=call_id))
    if call.answered_at is None:
        raise Refused(_("Only calls an operator answered are reviewed."))
    if len(comment) > MAX_COMMENT:
        raise Refused(_("The comment is longer than %(most)s characters.", most=MAX_COMMENT))
    result = score(services.settings.quality, marks)
    now = services.clock.now()
    review = CallReview.of((call.call_id, call.operator or "", call.arrived_at), user.username,
                           result,
                           comment.strip(), utc_text(now))
    await services.store.reviews.save(review)
    await services.store.audit.record(user.username, "call_reviewed", call.call_id, {
        "operator": review.operator, "marks": dict(review.marks), "percent": review.percent,
        "passed": review.passed}, now)
    return review


async def operator_figures(services: WebServices, start: str, end: str,
                           answered: Mapping[str, int]) -> list[OperatorQuality]:
    """Quality per operator for calls that arrived in [start, end) (UTC text)."""
    reviews = await services.store.reviews.of_calls_between(start, end)
    return per_operator(answered, reviews, (i.id for i in services.settings.quality.items))


def review_json(review: CallReview) -> dict[str, Any]:
    return {**dataclasses.asdict(review), "marks": dict(review.marks),
            "missed": list(review.missed)}


def found_json(call: CallRecord, review: CallReview | None) -> dict[str, Any]:
    return {"call_id": call.call_id, "arrived_at": call.arrived_at, "operator": call.operator,
            "skill": call.skill, "survey_score": call.survey_score,
            "talk_seconds": call.talk_seconds, "recording_status": call.recording_status,
            "review_percent": review.percent if review else None,
            "reviewed_by": review.reviewer if review else None}


def operator_json(row: OperatorQuality) -> dict[str, Any]:
    return {"operator": row.operator, "answered": row.answered, "reviewed": row.reviewed,
            "average_percent": row.average_percent, "passed": row.passed,
            "miss_rates": dict(row.miss_rates)}


# -- pages -----------------------------------------------------------------------------------


async def quality_page(request: web.Request) -> web.StreamResponse:
    await require(request, ROLE)
    services = request.app[SERVICES]
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    query = {k: request.query.get(k, "") for k in FIELDS}
    tz = _tz(services)
    today = services.clock.now(tz).date()
    error, found, total = "", [], 0
    try:
        terms = parse_search(request.query, services)
        first, last = days_of(request.query, today)
        query["from"], query["to"] = first.isoformat(), last.isoformat()
    except BadSearch as exc:
        error = str(exc)
    else:
        found = await services.store.reviews.search(terms, PAGE_SIZE,
                                                    (page - 1) * PAGE_SIZE)
        total = await services.store.reviews.count(terms)
    settings = services.settings
    return aiohttp_jinja2.render_template("quality.html", request, {
        "query": query, "error": error, "found": found, "total": total, "page": page,
        "more": page * PAGE_SIZE < total,
        "query_string": "&".join(f"{k}={quote(v)}" for k, v in query.items() if v),
        "operators": sorted(settings.operators.values(), key=lambda o: o.id),
        "skills": list(settings.skills),
        "checklist": settings.quality,
    }, status=400 if error else 200)


async def _review_page(request: web.Request, user: User, *, error: str = "",
                       problems: list[dict[str, str]] | None = None,
                       marks: Mapping[str, str] | None = None, comment: str | None = None,
                       status: int = 200) -> web.StreamResponse:
    services = request.app[SERVICES]
    call = await call_or_404(request, services)
    call_id = call.call_id
    review = await services.store.reviews.get(call_id)
    checklist = services.settings.quality
    if marks is None:
        marks = ({k: str(v) for k, v in review.marks.items()} if review
                 else {i.id: str(i.points) for i in checklist.items})
    context = await call_context(services, user, call)
    context.update({
        "review_form": True, "review": review, "items": checklist_view(checklist),
        "pass_percent": checklist.pass_percent, "marks": marks,
        "comment": review.comment if comment is None and review else (comment or ""),
        "review_error": error, "review_problems": problems or [],
        "saved": request.query.get("saved") == "1",
    })
    return aiohttp_jinja2.render_template("call.html", request, context, status=status)


async def review_page(request: web.Request) -> web.StreamResponse:
    user = await require(request, ROLE)
    return await _review_page(request, user)


async def review_form(request: web.Request) -> web.StreamResponse:
    user = await require(request, ROLE)
    services = request.app[SERVICES]
    form = await request.post()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    raw = {k.removeprefix("mark."): v for k, v in fields.items() if k.startswith("mark.")}
    marks: dict[str, object] = {}
    for item_id, given in raw.items():
        text = given.strip()
        marks[item_id] = int(text) if text.isascii() and text.isdigit() and len(text) < 6 \
            else text
    comment = fields.get("comment", "")
    call_id = request.match_info["call_id"]
    try:
        await save_review(services, user, call_id, marks, comment)
    except MarksRefused as exc:
        return await _review_page(
            request, user, error=_("The marks do not fit the checklist; nothing was saved."),
            problems=marks_problems(exc, services.settings.quality), marks=raw,
            comment=comment, status=400)
    except RecordNotFound:
        return await _review_page(request, user)  # renders the 404 page
    except Refused as exc:
        return await _review_page(request, user, error=str(exc), marks=raw, comment=comment,
                                  status=409)
    raise web.HTTPSeeOther(f"/quality/calls/{quote(call_id, safe='')}?saved=1")


# -- the API ---------------------------------------------------------------------------------


def _bad_search(exc: BadSearch) -> web.HTTPException:
    return json_error(web.HTTPBadRequest, "bad_query", str(exc))


async def api_calls(request: web.Request) -> web.Response:
    await require(request, ROLE)
    services = request.app[SERVICES]
    page = page_of(request, PAGE_SIZE)
    try:
        terms = parse_search(request.query, services)
    except BadSearch as exc:
        raise _bad_search(exc) from None
    found = await services.store.reviews.search(terms, page.limit, page.offset)
    return paged(request, [found_json(c, r) for c, r in found],
                 await services.store.reviews.count(terms), page)


async def api_checklist(request: web.Request) -> web.Response:
    await require(request, ROLE)
    checklist = request.app[SERVICES].settings.quality
    return web.json_response({"pass_percent": checklist.pass_percent,
                              "points": checklist.points, "items": checklist_view(checklist)})


async def api_get_review(request: web.Request) -> web.Response:
    await require(request, ROLE)
    call_id = request.match_info["call_id"]
    review = await request.app[SERVICES].store.reviews.get(call_id)
    if review is None:
        raise json_error(web.HTTPNotFound, "not_found",
                         _("Call %(id)s has no review.", id=call_id))
    return web.json_response(review_json(review))


async def api_put_review(request: web.Request) -> web.Response:
    user = await require(request, ROLE)
    services = request.app[SERVICES]
    body = await json_body(request)
    marks, comment = body.get("marks"), body.get("comment", "")
    if not isinstance(marks, dict):
        raise json_error(web.HTTPBadRequest, "missing_field",
                         _("'marks' is required: an object of item id to mark."))
    if not isinstance(comment, str):
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("%(field)r must be a string.", field="comment"))
    try:
        review = await save_review(services, user, request.match_info["call_id"], marks,
                                   comment)
    except MarksRefused as exc:
        raise json_error(web.HTTPBadRequest, "bad_marks",
                         _("The marks do not fit the checklist; nothing was saved."),
                         problems=marks_problems(exc, services.settings.quality)) from None
    return web.json_response(review_json(review))


async def api_operators(request: web.Request) -> web.Response:
    await require(request, ROLE)
    services = request.app[SERVICES]
    tz = _tz(services)
    try:
        first, last = days_of(request.query, services.clock.now(tz).date())
    except BadSearch as exc:
        raise _bad_search(exc) from None
    start, end = bounds(first, last, tz)
    answered = await services.store.reviews.answered_per_operator(start, end)
    rows = await operator_figures(services, start, end, answered)
    return web.json_response([operator_json(r) for r in rows])


def count_answered(records: list[CallRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        if r.answered_at is not None and r.operator:
            counts[r.operator] = counts.get(r.operator, 0) + 1
    return counts


def setup(app: web.Application) -> None:
    app.router.add_get("/quality", quality_page)
    app.router.add_get("/quality/calls/{call_id}", review_page)
    app.router.add_post("/quality/calls/{call_id}", review_form)
    app.router.add_get("/api/quality/calls", api_calls)
    app.router.add_get("/api/quality/checklist", api_checklist)
    app.router.add_get("/api/quality/reviews/{call_id}", api_get_review)
    app.router.add_put("/api/quality/reviews/{call_id}", api_put_review)
    app.router.add_get("/api/quality/operators", api_operators)
