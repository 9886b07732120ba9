"""Live supervision: ``/supervision`` (page), ``/supervision/data`` (JSON, polled every 2 s by
``static/supervision.js``) and ``/supervision/spy`` (listen, whisper or barge in).

The board has one row per configured operator: their state as the console shows it (Asterisk's
queue membership and the live figures), since when (the last change this node saw in AMI
events), the caller they talk to, the calls they completed today and their average handle time
(talk and wrap-up; ``LiveFigures.operator_today``). Nothing here asks the database.

A supervisor's phone is the phone of the operator their account is linked to
(``User.operator_id``), or the configured operator (desk) named in the request's ``phone``:
the application calls it and, once answered, it joins the operator's call
(``ivr.operators.supervision``). Every action is audited (``call.spy.listen``, ``.whisper``,
``.barge``); roles below supervisor get 403.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web

from ivr.core.records import Role, User
from ivr.core.supervision import SpyMode
from ivr.errors import IvrError
from ivr.web.auth import current_user, json_body, require
from ivr.web.console import cached_presence, operator_state
from ivr.web.errors import json_error
from ivr.web.i18n import gettext as _
from ivr.web.keys import SERVICES

log = structlog.get_logger("ivr.web")
ROLE = Role.SUPERVISOR


async def _supervisor(request: web.Request) -> User:
    """The logged-in supervisor or admin, for JSON endpoints: 401/403 JSON."""
    user = await current_user(request)
    if user is None:
        raise json_error(web.HTTPUnauthorized, "not_logged_in", _("Log in first."))
    if Role.rank_of(user.role) < ROLE.rank:
        raise json_error(web.HTTPForbidden, "forbidden", _("This needs the supervisor role."))
    return user


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def operators_board(request: web.Request) -> list[dict[str, Any]]:
    """One row per configured operator (see the module docstring)."""
    services = request.app[SERVICES]
    now = services.clock.time()
    try:
        presence = await cached_presence(request.app)
    except IvrError as exc:  # AMI down: the rows without states
        log.warning("supervision_presence_failed", error=str(exc))
        presence = None
    rows = []
    for op in services.settings.operators.values():
        state, reason = (operator_state(services, presence.get(op.id)) if presence is not None
                         else ("unknown", ""))
        call = services.live.live_call(op.id)
        today = services.figures.operator_today(op.interface, now)
        rows.append({
            "operator_id": op.id, "name": op.name, "state": state, "reason": reason,
            "since": services.live.since(op.id),
            "caller": call.caller if call else None,
            "call_since": call.since if call else None,
            "consulting": services.transfers.consulting(op.id),
            "calls_today": today.completed,
            "aht_seconds": _round(today.average_handle_time),
        })
    return rows


@aiohttp_jinja2.template("supervision.html")
async def supervision_page(request: web.Request) -> dict[str, Any]:
    user = await require(request, ROLE)
    settings = request.app[SERVICES].settings
    return {"refresh_ms": 2000, "phones": list(settings.operators.values()),
            "own_phone": user.operator_id or ""}


async def supervision_data(request: web.Request) -> web.Response:
    await _supervisor(request)
    services = request.app[SERVICES]
    return web.json_response({"at": services.clock.time(),
                              "operators": await operators_board(request)},
                             dumps=lambda v: json.dumps(v, ensure_ascii=False))


async def spy(request: web.Request) -> web.Response:
    """Ring the supervisor's phone into an operator's call: ``{"operator", "mode", "phone"}``
    (``mode``: listen, whisper or barge; ``phone``: a configured operator id, by default the
    one the supervisor's account is linked to)."""
    user = await _supervisor(request)
    body = await json_body(request)
    services = request.app[SERVICES]
    operators = services.settings.operators
    operator_id = str(body.get("operator", "")).strip()
    if operator_id not in operators:
        raise json_error(web.HTTPBadRequest, "bad_operator", _("No such operator."))
    try:
        mode = SpyMode(str(body.get("mode", "")))
    except ValueError:
        raise json_error(web.HTTPBadRequest, "bad_mode",
                         _("Choose listen, whisper or barge in.")) from None
    phone = str(body.get("phone") or user.operator_id or "").strip()
    if phone not in operators:
        raise json_error(web.HTTPBadRequest, "no_phone",
                         _("Choose the phone to ring (a configured operator's desk)."))
    call = services.live.live_call(operator_id)
    await services.supervision.spy(operator_id, mode, phone)
    await services.store.audit.record(
        user.username, mode.audit_action, operator_id,
        {"phone": phone, "call": call.call_id if call else ""}, services.clock.now())
    log.info("supervision_spy", user=user.username, operator=operator_id, mode=mode.value,
             phone=phone)
    return web.json_response({"ringing": phone, "operator": operator_id, "mode": mode.value})


def setup(app: web.Application) -> None:
    app.router.add_get("/supervision", supervision_page)
    app.router.add_get("/supervision/data", supervision_data)
    app.router.add_post("/supervision/spy", spy)
