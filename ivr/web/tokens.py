"""API tokens for integrations (``/api/tokens``): an admin creates one with a role (and a
department for a department's token) and an optional lifetime, sees its secret once, lists
them and revokes them. Every step is audited; a token cannot mint or revoke tokens itself
(only an admin signed in with a password can), so a leaked token never outlives its revocation.
How a token is checked on each request: ``ivr.web.auth``."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import timedelta
from typing import Any, Final

import structlog
from aiohttp import web

from ivr.core.records import ApiToken, Role, User
from ivr.web.auth import TOKEN_PREFIX, json_body, require, token_hash
from ivr.web.errors import json_error
from ivr.web.keys import SERVICES
from ivr.web.paging import MAX_LIMIT, sliced

log = structlog.get_logger("ivr.web.tokens")

MAX_NAME: Final = 64
MAX_DAYS: Final = 3650
routes = web.RouteTableDef()


def token_json(token: ApiToken) -> dict[str, Any]:
    """A token as the API shows it (never its secret or hash)."""
    return dataclasses.asdict(token)


async def _admin_in_person(request: web.Request) -> User:
    user = await require(request, Role.ADMIN)
    if user.username.startswith("token:"):
        raise json_error(web.HTTPForbidden, "forbidden",
                         "API tokens are managed by an admin signed in, not by a token.")
    return user


async def _audit(request: web.Request, actor: User, action: str, token: ApiToken) -> None:
    services = request.app[SERVICES]
    await services.store.audit.record(
        actor.username, action, f"token:{token.name}",
        {"id": token.id, "role": token.role, "department": token.department},
        services.clock.now())
    log.info("audited", actor=actor.username, action=action, target=token.name)


@routes.get("/api/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    await _admin_in_person(request)
    tokens = await request.app[SERVICES].store.api_tokens.all()
    return sliced(request, [token_json(t) for t in tokens], MAX_LIMIT)


@routes.post("/api/tokens")
async def create_token(request: web.Request) -> web.Response:
    admin = await _admin_in_person(request)
    body = await json_body(request)
    name, role = body.get("name"), body.get("role")
    department, days = body.get("department"), body.get("expires_days")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         f"'name' must be a string of 1 to {MAX_NAME} characters.")
    if not isinstance(role, str) or not Role.known(role):
        raise json_error(web.HTTPBadRequest, "bad_field",
                         f"'role' must be one of {', '.join(r.value for r in Role)}.")
    if department is not None and not isinstance(department, str):
        raise json_error(web.HTTPBadRequest, "bad_field", "'department' must be a string.")
    services = request.app[SERVICES]
    if department and department not in services.settings.departments:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         f"no department {department!r} in departments.yaml.")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                             or not 1 <= days <= MAX_DAYS):
        raise json_error(web.HTTPBadRequest, "bad_field",
                         f"'expires_days' must be a whole number of days, 1 to {MAX_DAYS}.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = services.clock.now()
    token = await services.store.api_tokens.create(
        name.strip(), role, token_hash(secret), admin.username, now,
        department=department or None,
        expires_at=now + timedelta(days=days) if days else None)
    await _audit(request, admin, "token.create", token)
    return web.json_response({**token_json(token), "token": secret}, status=201)


@routes.delete("/api/tokens/{id}")
async def revoke_token(request: web.Request) -> web.Response:
    admin = await _admin_in_person(request)
    try:
        token_id = int(request.match_info["id"])
    except ValueError as exc:
        raise json_error(web.HTTPNotFound, "not_found", "No such token.") from exc
    services = request.app[SERVICES]
    token = await services.store.api_tokens.revoke(token_id, services.clock.now())
    await _audit(request, admin, "token.revoke", token)
    return web.json_response(token_json(token))


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
