"""The REST API under ``/api``: JSON in and out, every route role-checked.

Handlers are thin: check the role, read the body, call a service, serialise. Errors are
``{"error": <stable id>, "message": ...}``: 400 (bad body), 401 (no session), 403 (role or
CSRF), and for what the services raise the one mapping of ``ivr.web.errors`` (404 unknown
thing, 409 refused by a rule, 422 a flow or a config file that does not validate with
``problems`` listing every one, 503 Asterisk or the database not reachable). Every mutation
writes an audit entry (actor, action, target, detail); for bulletins the bulletin desk writes
it. The routes are documented in ``ivr.web.openapi`` (served at ``/api/openapi.json``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from ivr.accounts.passwords import generate_password, hash_password
from ivr.accounts.service import create_account
from ivr.configuration.editor import CONFIG_FILES
from ivr.core.cases import visible_to
from ivr.core.flow import format_report, simulate
from ivr.core.flow.simulate import describe_outcome
from ivr.core.records import Role, User
from ivr.core.suggest import Suggestion, for_case
from ivr.core.versions import digest_of, text_diff
from ivr.errors import FlowError, FlowRejected
from ivr.flows.drawing import draw_text
from ivr.flows.library import check_text
from ivr.flows.simulation import arrival_facts, call_time, caller_history, intent_classifier
from ivr.web import openapi
from ivr.web.auth import csrf_token, json_body, require
from ivr.web.casework import actor_of, is_theirs, not_theirs, search_terms
from ivr.web.errors import json_error, problems_json
from ivr.web.i18n import config_language
from ivr.web.i18n import gettext as _
from ivr.web.keys import SERVICES
from ivr.web.paging import MAX_LIMIT, page_of, paged, sliced
from ivr.web.services import WebServices

log = structlog.get_logger("ivr.web.api")

routes = web.RouteTableDef()


# -- helpers ---------------------------------------------------------------------------------


def _services(request: web.Request) -> WebServices:
    return request.app[SERVICES]


def _text(body: Mapping[str, Any], key: str, *, required: bool = False,
          default: str = "") -> str:
    value = body.get(key, None)
    if value is None:
        if required:
            raise json_error(web.HTTPBadRequest, "missing_field",
                             _("%(field)r is required.", field=key))
        return default
    if not isinstance(value, str):
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("%(field)r must be a string.", field=key))
    return value


def _plain(value: Any) -> Any:
    """A dataclass (or list of them) as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def user_json(user: User) -> dict[str, Any]:
    """A user as the API shows it (never the password hash)."""
    return {"username": user.username, "role": user.role, "operator_id": user.operator_id,
            "department": user.department, "disabled": user.disabled,
            "created_at": user.created_at}


async def _audit(request: web.Request, actor: User, action: str, target: str,
                 **detail: object) -> None:
    services = _services(request)
    await services.store.audit.record(actor.username, action, target, detail,
                                      services.clock.now())
    log.info("audited", actor=actor.username, action=action, target=target)


def _local_now(services: WebServices) -> datetime:
    return services.clock.now(ZoneInfo(services.settings.timezone))


# -- me, calls, cases ------------------------------------------------------------------------


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    user = await require(request)
    return web.json_response({**user_json(user), "csrf": csrf_token(request)})


@routes.get("/api/calls")
async def calls(request: web.Request) -> web.Response:
    user = await require(request, Role.OPERATOR)
    # An operator sees the calls they answered; supervisors and admins every call.
    mine = user.operator_id or "" if user.role == Role.OPERATOR else None
    page = page_of(request, 50)
    store = _services(request).store
    records = await store.calls.recent(page.limit, operator=mine, offset=page.offset)
    return paged(request, _plain(records), await store.calls.count(operator=mine), page)


@routes.get("/api/cases")
async def list_cases(request: web.Request) -> web.Response:
    user = await require(request, Role.OPERATOR)
    services = _services(request)
    page = page_of(request, 100)
    terms = search_terms(request.query, services)
    owner = actor_of(user).owner
    found = await services.store.cases.search(**terms, limit=page.limit, offset=page.offset,
                                              owner=owner)
    total = await services.store.cases.count(**terms, owner=owner)
    return paged(request, _plain(found), total, page)


@routes.post("/api/cases")
async def create_case(request: web.Request) -> web.Response:
    user = await require(request, Role.OPERATOR)
    body = await json_body(request)
    services = _services(request)
    category = _text(body, "category", required=True)
    department = _department(services, body)
    description = _text(body, "description")
    case = await services.store.cases.create(
        caller=_text(body, "caller", required=True), category=category,
        department=department, description=description,
        call_id=_text(body, "call_id") or None, now=_local_now(services),
        actor=user.username, suggestion=for_case(services.settings, category, description),
    )
    await _audit(request, user, "case.create", case.number, category=category)
    return web.json_response(_plain(case), status=201)


def suggestion_json(found: Suggestion | None, services: WebServices) -> dict[str, Any]:
    """The suggested department as the console shows it (``department`` "" for none)."""
    if found is None:
        return {"department": "", "name": "", "reasons": [], "place": ""}
    known = services.settings.departments[found.department]
    language = config_language()
    return {"department": found.department,
            "name": known.name(language),
            "reasons": [{"zh": r.zh, "en": r.en, "text": r.en if language == "en" else r.zh}
                        for r in found.reasons],
            "place": found.place}


@routes.post("/api/suggestion")
async def suggestion(request: web.Request) -> web.Response:
    """The department proposed for a case of ``category`` whose caller said ``text``."""
    await require(request, Role.OPERATOR)
    body = await json_body(request)
    services = _services(request)
    found = for_case(services.settings, _text(body, "category"), _text(body, "text"))
    return web.json_response(suggestion_json(found, services),
                             dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _department(services: WebServices, body: Mapping[str, Any]) -> str:
    """The department a case is sent to: one of ``departments.yaml`` ("" for none)."""
    department = _text(body, "department")
    if department and department not in services.settings.departments:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("No department %(department)r.", department=department))
    return department


@routes.get("/api/cases/{number}")
async def get_case(request: web.Request) -> web.Response:
    user = await require(request, Role.OPERATOR, Role.DEPARTMENT)
    cases = _services(request).store.cases
    number = request.match_info["number"]
    case = await cases.get(number)
    if case is None or not visible_to(case, actor_of(user)):
        raise json_error(web.HTTPNotFound, "not_found", _("No case %(number)s.", number=number))
    if not await is_theirs(_services(request), user, number):
        raise not_theirs(number)
    history = await cases.history(number)
    return web.json_response({**_plain(case), "history": _plain(history)})


@routes.patch("/api/cases/{number}")
async def update_case(request: web.Request) -> web.Response:
    user = await require(request, Role.OPERATOR)
    body = await json_body(request)
    number = request.match_info["number"]
    services = _services(request)
    changes = {k: _text(body, k) or None
               for k in ("category", "department", "description", "status")}
    if changes["department"] is not None:
        _department(services, body)
    if await services.store.cases.get(number) is None:
        raise json_error(web.HTTPNotFound, "not_found", _("No case %(number)s.", number=number))
    if not await is_theirs(services, user, number):
        raise not_theirs(number)
    case = await services.store.cases.update(
        number, actor=user.username, now=_local_now(services), note=_text(body, "note"),
        deadlines=services.settings.deadlines, **changes,
    )
    await _audit(request, user, "case.update", number,
                 **{k: v for k, v in changes.items() if v is not None})
    return web.json_response(_plain(case))


# -- operators and figures -------------------------------------------------------------------


@routes.get("/api/operators")
async def operators(request: web.Request) -> web.Response:
    await require(request, Role.OPERATOR)
    presence = await _services(request).operators.presence()
    return sliced(request, [
        {"id": p.operator.id, "name": p.operator.name, "state": p.state,
         "skills": dict(p.operator.skills), "languages": list(p.operator.languages),
         "queues": list(p.queues), "paused": p.paused, "reason": p.reason,
         "in_call": p.in_call}
        for p in presence.values()
    ], MAX_LIMIT)


async def _operator_action(request: web.Request, action: str) -> web.Response:
    user = await require(request, Role.OPERATOR)
    operator_id = request.match_info["id"]
    services = _services(request)
    if user.role == Role.OPERATOR and user.operator_id != operator_id:
        raise json_error(web.HTTPForbidden, "forbidden",
                         _("Operators may change only their own state."))
    if operator_id not in services.settings.operators:
        raise json_error(web.HTTPNotFound, "not_found",
                         _("No operator %(operator)s.", operator=operator_id))
    body = await json_body(request) if request.can_read_body else {}
    desk = services.operators
    detail: dict[str, object] = {}
    if action == "login":
        wanted = body.get("skills")
        if wanted is not None and not (
                isinstance(wanted, list) and all(isinstance(s, str) for s in wanted)):
            raise json_error(web.HTTPBadRequest, "bad_field", _("'skills' must be a list."))
        detail["skills"] = list(await desk.login(operator_id, wanted))
    elif action == "logout":
        await desk.logout(operator_id)
    elif action == "pause":
        detail["reason"] = _text(body, "reason", default="break") or "break"
        await desk.pause(operator_id, str(detail["reason"]))
    else:
        await desk.unpause(operator_id)
    await _audit(request, user, f"operator.{action}", operator_id, **detail)
    return web.json_response({"operator": operator_id, "action": action, **detail})


@routes.post("/api/operators/{id}/login")
async def operator_login(request: web.Request) -> web.Response:
    return await _operator_action(request, "login")


@routes.post("/api/operators/{id}/logout")
async def operator_logout(request: web.Request) -> web.Response:
    return await _operator_action(request, "logout")


@routes.post("/api/operators/{id}/pause")
async def operator_pause(request: web.Request) -> web.Response:
    return await _operator_action(request, "pause")


@routes.post("/api/operators/{id}/unpause")
async def operator_unpause(request: web.Request) -> web.Response:
    return await _operator_action(request, "unpause")


@routes.get("/api/figures")
async def figures(request: web.Request) -> web.Response:
    await require(request, Role.SUPERVISOR)
    services = _services(request)
    live = services.figures.all_figures(services.clock.time())
    return web.json_response({
        skill: {**dataclasses.asdict(f), "service_level_percent": f.service_level_percent,
                "meets_target": f.meets_target}
        for skill, f in live.items()
    })


# -- flows -----------------------------------------------------------------------------------


@routes.get("/api/flows/current")
async def flow_current(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    flows = _services(request).flows
    published = flows.current()
    return web.json_response({
        "name": published.flow.name, "version": published.flow.version,
        "version_id": published.version_id, "digest": published.digest,
        "text": await flows.live_text(),
    })


@routes.post("/api/flows/validate")
async def flow_validate(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    text = _text(await json_body(request), "text", required=True)
    settings = _services(request).settings
    _flow, problems = await asyncio.to_thread(check_text, settings, text, str(settings.flow_path))
    return web.json_response({"valid": not problems, "problems": problems_json(problems)})


@routes.post("/api/flows/simulate")
async def flow_simulate(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    body = await json_body(request)
    services = _services(request)
    settings = services.settings
    text = _text(body, "text") or await services.flows.live_text()
    flow, problems = await asyncio.to_thread(check_text, settings, text, str(settings.flow_path))
    if flow is None:
        raise json_error(web.HTTPUnprocessableEntity, "invalid_flow",
                         _("The flow does not validate."), problems=problems_json(problems))
    at = _text(body, "at")
    try:
        now = call_time(settings, at, services.clock)
    except ValueError as exc:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("'at' is not an ISO date and time: %(value)r", value=at)) from exc
    language = _text(body, "language") or settings.default_language
    if language not in settings.languages:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("Unknown language %(language)r.", language=language))
    say = _text(body, "say") or None
    caller, digits = _text(body, "caller"), _text(body, "digits")
    # What a live call would know: the caller's history and the cases keyed, from the
    # database; the admin may set them instead ("caller_known", "open_cases").
    history = await caller_history(services.store, caller, digits)
    known = body.get("caller_known", history.known)
    open_cases = body.get("open_cases", history.open_cases)
    if not isinstance(known, bool) or isinstance(open_cases, bool) or not isinstance(
            open_cases, int) or not 0 <= open_cases <= 1000:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("'caller_known' must be true or false, 'open_cases' 0-1000."))
    facts = arrival_facts(settings, caller=caller, language=language, now=now,
                          speech_available=say is not None, caller_known=known,
                          open_cases=open_cases)

    def run() -> tuple[str, str, list[str]]:
        report = simulate(flow, facts, digits, say, history.cases,
                          classify=intent_classifier(settings))
        return format_report(report), describe_outcome(report.outcome), list(report.path)

    transcript, outcome, path = await asyncio.to_thread(run)
    return web.json_response({"transcript": transcript, "outcome": outcome, "path": path})


MAX_PATH_STEPS: Final = 1000


@routes.post("/api/flows/draw")
async def flow_draw(request: web.Request) -> web.Response:
    """The flow text as SVG (Graphviz), problems marked on their nodes, ``path`` (node ids of
    a simulated call) highlighted, and each node's line for the editor."""
    await require(request, Role.ADMIN)
    body = await json_body(request)
    services = _services(request)
    text = _text(body, "text") or await services.flows.live_text()
    path = body.get("path", [])
    if (not isinstance(path, list) or len(path) > MAX_PATH_STEPS
            or not all(isinstance(step, str) for step in path)):
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("'path' must be a list of at most %(steps)s node ids.",
                           steps=MAX_PATH_STEPS))
    settings = services.settings
    try:
        drawing = await asyncio.to_thread(draw_text, settings, text, str(settings.flow_path),
                                          path)
    except FlowError as exc:
        raise json_error(web.HTTPUnprocessableEntity, "invalid_flow",
                         _("The flow cannot be read far enough to draw it."),
                         problems=problems_json(exc.problems)) from exc
    return web.json_response({"svg": drawing.svg, "lines": drawing.lines,
                              "problems": problems_json(drawing.problems)})


@routes.post("/api/flows/diff")
async def flow_diff(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    text = _text(await json_body(request), "text", required=True)
    live = await _services(request).flows.live_text()
    diff = text_diff(live, text)
    return web.json_response({"changed": bool(diff), "diff": diff})


@routes.post("/api/flows/publish")
async def flow_publish(request: web.Request) -> web.Response:
    user = await require(request, Role.ADMIN)
    body = await json_body(request)
    text = _text(body, "text", required=True)
    note = _text(body, "note") or "published from the web"
    try:
        published = await _services(request).flows.publish_text(text, user.username, note)
    except FlowRejected as exc:
        raise FlowRejected(exc.problems,
                           "The flow does not validate; nothing was published.") from exc
    await _audit(request, user, "flow.publish", published.flow.name,
                 version=published.flow.version, version_id=published.version_id,
                 digest=published.digest, note=note)
    return web.json_response({"name": published.flow.name, "version": published.flow.version,
                              "version_id": published.version_id,
                              "digest": published.digest})


@routes.get("/api/flows/versions")
async def flow_versions(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    flows = _services(request).flows
    published = flows.current()
    return sliced(request, [
        {"id": v.id, "flow": v.flow, "version": v.version, "digest": v.digest,
         "published_by": v.published_by, "published_at": v.published_at, "note": v.note,
         "live": v.id == published.version_id}
        for v in reversed(await flows.versions())
    ], MAX_LIMIT)


@routes.post("/api/flows/rollback")
async def flow_rollback(request: web.Request) -> web.Response:
    """Publish an earlier version again: the one given, else the one before the live one."""
    user = await require(request, Role.ADMIN)
    body = await json_body(request) if request.can_read_body else {}
    wanted = body.get("version_id")
    if wanted is not None and (not isinstance(wanted, int) or isinstance(wanted, bool)):
        raise json_error(web.HTTPBadRequest, "bad_field", _("'version_id' must be a number."))
    now_live, target = await _services(request).flows.roll_back(wanted, user.username)
    await _audit(request, user, "flow.rollback", now_live.flow.name, to_version_id=target.id,
                 version_id=now_live.version_id)
    return web.json_response({"name": now_live.flow.name, "version": now_live.flow.version,
                              "version_id": now_live.version_id, "rolled_back_to": target.id})


# -- bulletins -------------------------------------------------------------------------------


@routes.get("/api/bulletins")
async def bulletins(request: web.Request) -> web.Response:
    await require(request, Role.SUPERVISOR)
    listing = await _services(request).bulletins.listing()
    return sliced(request, _plain(list(listing)), MAX_LIMIT)


@routes.post("/api/bulletins")
async def post_bulletin(request: web.Request) -> web.Response:
    user = await require(request, Role.SUPERVISOR)
    body = await json_body(request)
    services = _services(request)
    texts = body.get("texts")
    if not isinstance(texts, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in texts.items()):
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("'texts' must map languages to texts."))
    texts = {k: v.strip() for k, v in texts.items() if v.strip()}
    if not texts:
        raise json_error(web.HTTPBadRequest, "bad_field", _("Write the bulletin in a language."))
    unknown = sorted(set(texts) - set(services.settings.languages))
    if unknown:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("Unknown language(s): %(languages)s.", languages=", ".join(unknown)))
    raw = _text(body, "expires_at", required=True)
    try:
        expires = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("'expires_at' is not an ISO date and time: %(value)r",
                           value=raw)) from exc
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=ZoneInfo(services.settings.timezone))
    if expires <= services.clock.now():
        raise json_error(web.HTTPBadRequest, "bad_field", _("'expires_at' is in the past."))
    # The bulletin desk writes the audit entry (it knows the texts it accepted).
    bulletin = await services.bulletins.post(texts, expires, user.username)
    return web.json_response(_plain(bulletin), status=201)


@routes.post("/api/bulletins/{id}/withdraw")
async def withdraw_bulletin(request: web.Request) -> web.Response:
    user = await require(request, Role.SUPERVISOR)
    try:
        bulletin_id = int(request.match_info["id"])
    except ValueError as exc:
        raise json_error(web.HTTPNotFound, "not_found", _("No such bulletin.")) from exc
    bulletin = await _services(request).bulletins.withdraw(bulletin_id, user.username)
    return web.json_response(_plain(bulletin))


# -- users -----------------------------------------------------------------------------------


@routes.get("/api/users")
async def users(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    everyone = [user_json(u) for u in await _services(request).store.users.all()]
    return sliced(request, everyone, MAX_LIMIT)


def _operator_id(services: WebServices, body: Mapping[str, Any]) -> str | None:
    operator_id = _text(body, "operator_id") or None
    if operator_id is not None and operator_id not in services.settings.operators:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("No operator %(operator)s.", operator=operator_id))
    return operator_id


def _role(body: Mapping[str, Any]) -> str:
    role = _text(body, "role", required=True)
    if not Role.known(role):
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("'role' must be one of %(roles)s.", roles=", ".join(Role)))
    return role


@routes.post("/api/users")
async def create_user(request: web.Request) -> web.Response:
    admin = await require(request, Role.ADMIN)
    body = await json_body(request)
    services = _services(request)
    username = _text(body, "username", required=True).strip()
    role = _role(body)
    operator_id = _operator_id(services, body)
    department = _department(services, body) or None
    if (role == Role.DEPARTMENT) != (department is not None):
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("A department account, and only one, names its 'department'."))
    user, password = await create_account(services.store.users, username, role,
                                          operator_id=operator_id, department=department,
                                          clock=services.clock)
    await _audit(request, admin, "user.create", username, role=role, operator_id=operator_id,
                 department=department)
    # The generated password is shown this once; only its hash is stored.
    return web.json_response({**user_json(user), "password": password}, status=201)


@routes.patch("/api/users/{username}")
async def update_user(request: web.Request) -> web.Response:
    admin = await require(request, Role.ADMIN)
    body = await json_body(request)
    services = _services(request)
    username = request.match_info["username"]
    existing = await services.store.users.get(username)
    if existing is None:
        raise json_error(web.HTTPNotFound, "not_found",
                         _("No user %(username)s.", username=username))
    changes: dict[str, Any] = {}
    if "role" in body:
        changes["role"] = _role(body)
        if Role.DEPARTMENT in (changes["role"], existing.role) and (
                changes["role"] != existing.role):
            raise json_error(web.HTTPConflict, "refused",
                             _("A department account stays one; create a new account instead."))
    if "operator_id" in body:
        # null or "" unlinks the account from its operator ("" is the store's "clear").
        changes["operator_id"] = _operator_id(services, body) or ""
    if "disabled" in body:
        if not isinstance(body["disabled"], bool):
            raise json_error(web.HTTPBadRequest, "bad_field", _("'disabled' must be true/false."))
        changes["disabled"] = body["disabled"]
    if username == admin.username and (changes.get("disabled") or
                                       changes.get("role", Role.ADMIN) != Role.ADMIN):
        raise json_error(web.HTTPConflict, "refused",
                         _("You cannot disable or demote your own account."))
    password = None
    if body.get("reset_password") is True:
        password = generate_password()
        changes["password_hash"] = await hash_password(password)
    user = await services.store.users.update(username, **changes)
    await _audit(request, admin, "user.update", username,
                 **{k: v for k, v in changes.items() if k != "password_hash"},
                 password_reset=password is not None)
    out = user_json(user)
    if password is not None:
        out["password"] = password
    return web.json_response(out)


# -- configuration ---------------------------------------------------------------------------


def _config_name(request: web.Request) -> str:
    name = request.match_info["name"]
    if name not in CONFIG_FILES:
        raise json_error(web.HTTPNotFound, "not_found",
                         _("No configuration file %(name)r.", name=name))
    return name


@routes.get("/api/config/{name}")
async def get_config(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    name = _config_name(request)
    config = _services(request).config
    text, live = await config.read_live(name)
    return web.json_response({"name": name, "file": config.path(name).name, "text": text,
                              "digest": digest_of(text),
                              "version_id": live.id if live else None})


@routes.put("/api/config/{name}")
async def put_config(request: web.Request) -> web.Response:
    """Publish a file's text: checked whole, versioned, applied on every node."""
    user = await require(request, Role.ADMIN)
    name = _config_name(request)
    body = await json_body(request)
    text = _text(body, "text", required=True)
    note = _text(body, "note") or "edited from the web"
    config = _services(request).config
    before, version = await config.replace(name, text, user.username, note)
    await _audit(request, user, "config.update", config.path(name).name, before=before,
                 after=version.digest, version_id=version.id, note=note)
    return web.json_response({"name": name, "file": config.path(name).name,
                              "digest": version.digest, "version_id": version.id})


@routes.get("/api/config/{name}/versions")
async def config_versions(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    name = _config_name(request)
    config = _services(request).config
    live = config.live_version(name)
    return sliced(request, [
        {"id": v.id, "digest": v.digest, "published_by": v.published_by,
         "published_at": v.published_at, "note": v.note,
         "live": live is not None and v.id == live.id}
        for v in reversed(await config.versions(name))
    ], MAX_LIMIT)


@routes.post("/api/config/{name}/diff")
async def config_diff(request: web.Request) -> web.Response:
    """What publishing ``text`` (or bringing back version ``version_id``) would change."""
    await require(request, Role.ADMIN)
    name = _config_name(request)
    body = await json_body(request)
    config = _services(request).config
    wanted = body.get("version_id")
    if wanted is not None:
        if not isinstance(wanted, int) or isinstance(wanted, bool):
            raise json_error(web.HTTPBadRequest, "bad_field", "'version_id' must be a number.")
        found = [v for v in await config.versions(name) if v.id == wanted]
        if not found:
            raise json_error(web.HTTPNotFound, "not_found", f"No version #{wanted}.")
        diff = await config.diff(name, found[0].text, f"version #{wanted}")
    else:
        diff = await config.diff(name, _text(body, "text", required=True))
    return web.json_response({"changed": bool(diff), "diff": diff})


@routes.post("/api/config/{name}/rollback")
async def config_rollback(request: web.Request) -> web.Response:
    """Publish an earlier version again: the one given, else the one before the live one."""
    user = await require(request, Role.ADMIN)
    name = _config_name(request)
    body = await json_body(request) if request.can_read_body else {}
    wanted = body.get("version_id")
    if wanted is not None and (not isinstance(wanted, int) or isinstance(wanted, bool)):
        raise json_error(web.HTTPBadRequest, "bad_field", "'version_id' must be a number.")
    config = _services(request).config
    now_live, target = await config.roll_back(name, wanted, user.username)
    await _audit(request, user, "config.rollback", config.path(name).name,
                 to_version_id=target.id, version_id=now_live.id)
    return web.json_response({"name": name, "file": config.path(name).name,
                              "version_id": now_live.id, "rolled_back_to": target.id})


# -- audit and the document ------------------------------------------------------------------


@routes.get("/api/audit")
async def audit_log(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    page = page_of(request, 200)
    audit = _services(request).store.audit
    entries = await audit.latest(page.limit, page.offset)
    return paged(request, _plain(entries), await audit.count(), page)


@routes.get("/api/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    await require(request)
    return web.json_response(openapi.document())


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
