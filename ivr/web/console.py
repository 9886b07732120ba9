"""The operator console: ``/console`` (page), ``/console/state`` (JSON), ``/console/ws``
(screen pops over a WebSocket), ``/console/transfer`` (blind) and ``/console/consult``
(warm: ``/console/consult/complete`` or ``/console/consult/return`` after it).

Who may open it: operators, and supervisors or admins whose account is linked to an operator
(``User.operator_id``); the console always acts on that operator, never on one named in the
request. Logging in, pausing and cases go through the REST API (``ivr.web.api``); the page's
script calls it with the session's CSRF token.

The WebSocket is authenticated by the session cookie, so it also checks ``Origin`` against the
host (a browser sends cookies with cross-site WebSocket handshakes). It sends JSON frames:
``{"type": "hello", "operator_id", "pop": pop|null}`` at once (the call in progress, if any),
then ``{"type": "pop", "pop": {...}}`` for each call offered; a text frame ``ping`` from the
page is answered with ``{"type": "pong"}``, and the server pings at the protocol level too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import structlog
from aiohttp import WSMsgType, web

from ivr.core.numbers import DEPARTMENT_NUMBER
from ivr.core.operators import Presence, presence_of, shown_state
from ivr.core.records import Role, User
from ivr.core.screen_pops import ScreenPop
from ivr.core.settings import Settings
from ivr.errors import IvrError, StorageError
from ivr.web.auth import SESSION_COOKIE, current_user, json_body, require, token_hash
from ivr.web.casework import STATUS_LABELS
from ivr.web.errors import json_error
from ivr.web.i18n import N_, config_language, name_in_language
from ivr.web.i18n import gettext as _
from ivr.web.keys import SERVICES
from ivr.web.services import WebServices

log = structlog.get_logger("ivr.web")

HEARTBEAT_SECONDS = 20.0
# How often an open console's session is checked again, and the close code when it ended.
SESSION_RECHECK_SECONDS = 30.0
SESSION_ENDED_CLOSE = 4401
# Presence comes from the live figures (Asterisk's QueueStatus until they hold its snapshot);
# hundreds of consoles polling share one answer a second.
PRESENCE_TTL_SECONDS = 1.0
# A department's number: digits, optionally led by + and with * or # (PBX feature codes).
PAUSE_REASONS = (
    ("break", N_("Break")),
    ("meal", N_("Meal")),
    ("training", N_("Training")),
    # Reported as wrap-up so live figures count the operator in wrap-up, not paused.
    ("wrap-up", N_("After-call work")),
    ("other", N_("Other")),
)


@dataclass(slots=True)
class _PresenceCache:
    at: float = -1.0
    value: dict[str, Presence] | None = None
    lock: asyncio.Lock | None = None


_PRESENCE: web.AppKey[_PresenceCache] = web.AppKey("console_presence")
_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("console_sockets")


async def _console_user(request: web.Request) -> tuple[User, str]:
    """The user and their operator id, for JSON endpoints: 401/403 JSON, never a redirect."""
    user = await current_user(request)
    if user is None:
        raise json_error(web.HTTPUnauthorized, "not_logged_in", _("Log in first."))
    if Role.rank_of(user.role) < 0:
        raise json_error(web.HTTPForbidden, "forbidden",
                         _("This needs an operator account."))
    operator_id = user.operator_id
    if not operator_id or operator_id not in request.app[SERVICES].settings.operators:
        raise json_error(web.HTTPForbidden, "not_an_operator",
                         _("This account is not linked to an operator."))
    return user, operator_id


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


async def cached_presence(app: web.Application) -> dict[str, Presence]:
    cache = app[_PRESENCE]
    if cache.lock is None:
        cache.lock = asyncio.Lock()
    async with cache.lock:
        now = time.monotonic()
        if cache.value is None or now - cache.at >= PRESENCE_TTL_SECONDS:
            services = app[SERVICES]
            if services.figures.snapshot_loaded:
                # Kept by AMI events since the last snapshot: no QueueStatus per poll (one
                # lists every queue and member: ~5,700 messages at Beijing's size).
                cache.value = presence_of(services.settings.operators.values(),
                                          services.figures.member_states())
            else:
                cache.value = await services.operators.presence()
            cache.at = now
        return cache.value


def forget_presence(app: web.Application) -> None:
    """Drop the cached presence (after the operator changed it, show the change at once)."""
    app[_PRESENCE].value = None


def operator_state(services: WebServices, presence: Presence | None) -> tuple[str, str]:
    """(state, reason) as the console shows it (``ivr.core.operators.shown_state``), the
    queues' wrap-up time known from the live figures."""
    now = services.clock.time()
    queue_states = [] if presence is None else [
        services.figures.operator_states(queue, now).get(presence.operator.interface)
        for queue in presence.queues
    ]
    state, reason = shown_state(presence, queue_states)
    return state.value, reason


def _departments(settings: Settings) -> list[str]:
    return sorted({s.department for s in settings.skills.values() if s.department})


def _department_skills(settings: Settings) -> list[tuple[str, str, str]]:
    """(department id, its label, its categories separated by spaces) for the dispatch
    select: ``departments.yaml`` in its order (the first listing a category is proposed)."""
    return [(d.id, d.name(config_language()), " ".join(d.categories))
            for d in settings.departments.values()]


def _pop_dict(pop: ScreenPop | None) -> dict[str, Any] | None:
    return None if pop is None else pop.to_dict(_)


@aiohttp_jinja2.template("console.html")
async def console_page(request: web.Request) -> dict[str, Any]:
    user = await require(request, Role.OPERATOR)
    settings = request.app[SERVICES].settings
    operator = settings.operators.get(user.operator_id or "")
    return {
        "operator": operator,
        "skills": sorted(operator.skills) if operator else [],
        "departments": _department_skills(settings),
        "pause_reasons": [(value, _(label)) for value, label in PAUSE_REASONS],
        # For console.js: skill and status names in the user's language.
        "names": {"skills": {sid: name_in_language(s.names, sid)
                             for sid, s in settings.skills.items()},
                  "statuses": {k: _(v) for k, v in STATUS_LABELS.items()}},
    }


async def console_state(request: web.Request) -> web.Response:
    """The operator's state and skills, the departments, and the current pop."""
    _user, operator_id = await _console_user(request)
    services = request.app[SERVICES]
    settings = services.settings
    operator = settings.operators[operator_id]
    if request.query.get("fresh"):  # the page just changed the state: ask Asterisk again
        forget_presence(request.app)
    try:
        presence: Presence | None = (await cached_presence(request.app)).get(operator_id)
        reachable = True
    except IvrError as exc:  # AMI down: the console still shows the pop and case form
        log.warning("console_presence_failed", operator=operator_id, error=str(exc))
        presence, reachable = None, False
    state, reason = operator_state(services, presence) if reachable else ("unknown", "")
    return web.json_response({
        "operator_id": operator_id,
        "name": operator.name,
        "state": state,
        "reason": reason,
        "queues": list(presence.queues) if presence else [],
        "skills": dict(sorted(operator.skills.items())),
        "departments": _departments(settings),
        "skill_departments": {
            sid: s.department for sid, s in sorted(settings.skills.items())
        },
        "pop": _pop_dict(services.screen_pops.current(operator_id)),
    }, dumps=_dumps)


async def _department_number(request: web.Request) -> str:
    """The body's ``target``: a department number, or 400."""
    body = await json_body(request)
    target = str(body.get("target", "")).strip()
    if not DEPARTMENT_NUMBER.fullmatch(target):
        raise json_error(web.HTTPBadRequest, "bad_target",
                         _("Enter a department number to transfer to (2 to 15 digits)."))
    return target


async def transfer(request: web.Request) -> web.Response:
    """Blind-transfer the operator's caller to a department number."""
    # The CSRF token was checked by ivr.web.auth's middleware (header X-CSRF-Token).
    user, operator_id = await _console_user(request)
    target = await _department_number(request)
    services = request.app[SERVICES]
    await services.transfers.transfer(operator_id, target)
    await services.store.audit.record(user.username, "call.transfer", operator_id,
                                      {"to": target}, services.clock.now())
    log.info("console_transfer", user=user.username, operator=operator_id, target=target)
    forget_presence(request.app)
    return web.json_response({"transferred": True, "target": target})


async def consult(request: web.Request) -> web.Response:
    """A warm transfer's first step: the citizen waits on hold while the operator's phone
    talks to the department number."""
    user, operator_id = await _console_user(request)
    target = await _department_number(request)
    services = request.app[SERVICES]
    await services.transfers.consult(operator_id, target)
    await services.store.audit.record(user.username, "call.consult", operator_id,
                                      {"to": target}, services.clock.now())
    log.info("console_consult", user=user.username, operator=operator_id, target=target)
    return web.json_response({"consulting": target})


async def consult_complete(request: web.Request) -> web.Response:
    """Complete the warm transfer: the citizen and the department talk, the operator leaves."""
    user, operator_id = await _console_user(request)
    services = request.app[SERVICES]
    target = await services.transfers.complete(operator_id)
    await services.store.audit.record(user.username, "call.transfer.warm", operator_id,
                                      {"to": target}, services.clock.now())
    forget_presence(request.app)
    return web.json_response({"transferred": True, "target": target})


async def consult_return(request: web.Request) -> web.Response:
    """Cancel the warm transfer: the department's leg ends, the operator is back with the
    citizen."""
    user, operator_id = await _console_user(request)
    services = request.app[SERVICES]
    target = await services.transfers.return_to_caller(operator_id)
    await services.store.audit.record(user.username, "call.consult.return", operator_id,
                                      {"to": target}, services.clock.now())
    return web.json_response({"returned": True, "target": target})


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser: no ambient cookies to abuse
        return True
    parts = urlsplit(origin)
    return bool(parts.netloc) and parts.netloc.lower() == request.host.lower()


async def console_ws(request: web.Request) -> web.StreamResponse:
    """Screen pops for the logged-in operator, as they are published."""
    _user, operator_id = await _console_user(request)
    if not _same_origin(request):
        raise json_error(web.HTTPForbidden, "cross_origin",
                         _("Cross-origin WebSocket refused."))
    services = request.app[SERVICES]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
    await ws.prepare(request)
    request.app[_SOCKETS].add(ws)
    hub = services.screen_pops
    async with hub.subscribe(operator_id) as pops:
        await ws.send_str(_dumps({
            "type": "hello", "operator_id": operator_id,
            "pop": _pop_dict(hub.current(operator_id)),
        }))
        tasks = [
            asyncio.create_task(_send_pops(ws, pops)),
            asyncio.create_task(_watch_session(request, ws, operator_id)),
        ]
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT and message.data == "ping":
                    await ws.send_str('{"type": "pong"}')
        finally:
            request.app[_SOCKETS].discard(ws)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return ws


async def _watch_session(request: web.Request, ws: web.WebSocketResponse,
                         operator_id: str) -> None:
    """Close the socket once its session ends (logout, expiry) or the account is disabled or
    unlinked from the operator: callers' data stops reaching that browser."""
    token = token_hash(request.cookies.get(SESSION_COOKIE, ""))
    services = request.app[SERVICES]
    store = services.store
    while not ws.closed:
        await asyncio.sleep(SESSION_RECHECK_SECONDS)
        try:
            session = await store.sessions.get(token, services.clock.now())
            user = await store.users.get(session.username) if session is not None else None
        except StorageError as exc:  # the database is away: keep the console, check again
            log.warning("console_session_check_failed", error=str(exc))
            continue
        if user is None or user.disabled or user.operator_id != operator_id:
            log.info("console_session_ended", operator=operator_id)
            await ws.close(code=SESSION_ENDED_CLOSE, message=b"session ended")
            return


async def _send_pops(ws: web.WebSocketResponse, pops: asyncio.Queue[ScreenPop]) -> None:
    while not ws.closed:
        pop = await pops.get()
        try:
            await ws.send_str(_dumps({"type": "pop", "pop": pop.to_dict(_)}))
        except (ConnectionError, RuntimeError):  # the console went away mid-send
            return


async def _close_sockets(app: web.Application) -> None:
    sockets: set[web.WebSocketResponse] = app[_SOCKETS]
    for ws in tuple(sockets):
        await ws.close(code=1001, message=b"server shutdown")


def setup(app: web.Application) -> None:
    app.router.add_get("/console", console_page)
    app.router.add_get("/console/state", console_state)
    app.router.add_get("/console/ws", console_ws)
    app.router.add_post("/console/transfer", transfer)
    app.router.add_post("/console/consult", consult)
    app.router.add_post("/console/consult/complete", consult_complete)
    app.router.add_post("/console/consult/return", consult_return)
    app[_PRESENCE] = _PresenceCache()
    app[_SOCKETS] = set()
    app.on_shutdown.append(_close_sockets)
