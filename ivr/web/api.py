"""The REST API under ``/api``: JSON in and out, every route role-checked.

Handlers are thin: check the role, read the body, call the hotline's services, serialise.
Errors are ``{"error": <stable id>, "message": ...}`` with 400 (bad body), 401 (no session),
403 (role or CSRF), 404 (unknown thing), 409 (the store refused a change), 422 (a flow or a
config file that does not validate; ``problems`` lists every one) or 503 (Asterisk or the
database is not reachable). Every mutation writes an audit entry (actor, action, target,
detail); for bulletins the bulletin desk writes it.
The routes are documented in ``ivr.web.openapi`` (served at ``/api/openapi.json``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from ivr import settings as settings_module
from ivr.core.flow import ArrivalFacts, format_report, simulate
from ivr.core.flow.simulate import describe_outcome
from ivr.errors import AmiError, ConfigError, FlowProblem, FlowRejected, IvrError, StorageError
from ivr.flows.library import check_text, digest_of
from ivr.speech.intents_file import load_intents
from ivr.web import accounts, openapi
from ivr.web.auth import (
    ROLES,
    csrf_token,
    hash_password,
    is_api,
    json_body,
    json_error,
    require,
)
from ivr.web.keys import HOTLINE

if TYPE_CHECKING:
    from ivr.app import Hotline
    from ivr.core.records import User
    from ivr.core.settings import Settings

log = structlog.get_logger("ivr.web.api")

CONFIG_FILES: Final = {
    "skills": "skills.yaml",
    "operators": "operators.yaml",
    "schedules": "schedules.yaml",
    "intents": "intents.yaml",
}
MAX_LIMIT: Final = 1000
routes = web.RouteTableDef()


# -- helpers ---------------------------------------------------------------------------------


def _hotline(request: web.Request) -> Hotline:
    return request.app[HOTLINE]




def _text(body: Mapping[str, Any], key: str, *, required: bool = False,
          default: str = "") -> str:
    value = body.get(key, None)
    if value is None:
        if required:
            raise json_error(web.HTTPBadRequest, "missing_field", f"{key!r} is required.")
        return default
    if not isinstance(value, str):
        raise json_error(web.HTTPBadRequest, "bad_field", f"{key!r} must be a string.")
    return value


def _limit(request: web.Request, default: int) -> int:
    raw = request.query.get("limit", str(default))
    try:
        value = int(raw)
    except ValueError as exc:
        raise json_error(web.HTTPBadRequest, "bad_query", "limit must be a number.") from exc
    return max(1, min(MAX_LIMIT, value))


def _now() -> datetime:
    return datetime.now(UTC)


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
            "disabled": user.disabled, "created_at": user.created_at}


async def _audit(request: web.Request, actor: User, action: str, target: str,
                 **detail: object) -> None:
    await _hotline(request).store.audit.record(actor.username, action, target, detail, _now())
    log.info("audited", actor=actor.username, action=action, target=target)


def _problems_json(problems: Sequence[FlowProblem]) -> list[dict[str, Any]]:
    return [{"line": p.line, "node": p.node, "message": p.message, "kind": p.kind}
            for p in problems]


def _storage_refused(exc: StorageError) -> web.HTTPException:
    return json_error(web.HTTPConflict, "refused", str(exc))


# -- me, calls, cases ------------------------------------------------------------------------


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    user = await require(request)
    return web.json_response({**user_json(user), "csrf": csrf_token(request)})


@routes.get("/api/calls")
async def calls(request: web.Request) -> web.Response:
    await require(request, "operator")
    records = await _hotline(request).store.calls.recent(_limit(request, 50))
    return web.json_response(_plain(records))


@routes.get("/api/cases")
async def list_cases(request: web.Request) -> web.Response:
    await require(request, "operator")
    status = request.query.get("status") or None
    try:
        offset = max(0, int(request.query.get("offset", "0")))
    except ValueError as exc:
        raise json_error(web.HTTPBadRequest, "bad_query", "offset must be a number.") from exc
    found = await _hotline(request).store.cases.page(status, _limit(request, 100), offset)
    return web.json_response(_plain(found))


@routes.post("/api/cases")
async def create_case(request: web.Request) -> web.Response:
    user = await require(request, "operator")
    body = await json_body(request)
    hotline = _hotline(request)
    category = _text(body, "category", required=True)
    skill = hotline.settings.skills.get(category)
    department = _text(body, "department", default=skill.department if skill else "")
    try:
        case = await hotline.store.cases.create(
            caller=_text(body, "caller", required=True), category=category,
            department=department, description=_text(body, "description"),
            call_id=_text(body, "call_id") or None, now=_local_now(hotline.settings),
            actor=user.username,
        )
    except StorageError as exc:
        raise _storage_refused(exc) from exc
    await _audit(request, user, "case.create", case.number, category=category)
    return web.json_response(_plain(case), status=201)


@routes.get("/api/cases/{number}")
async def get_case(request: web.Request) -> web.Response:
    await require(request, "operator")
    store = _hotline(request).store
    number = request.match_info["number"]
    case = await store.cases.get(number)
    if case is None:
        raise json_error(web.HTTPNotFound, "not_found", f"No case {number}.")
    history = await store.cases.history(number)
    return web.json_response({**_plain(case), "history": _plain(history)})


@routes.patch("/api/cases/{number}")
async def update_case(request: web.Request) -> web.Response:
    user = await require(request, "operator")
    body = await json_body(request)
    number = request.match_info["number"]
    hotline = _hotline(request)
    changes = {k: _text(body, k) or None
               for k in ("category", "department", "description", "status")}
    if await hotline.store.cases.get(number) is None:
        raise json_error(web.HTTPNotFound, "not_found", f"No case {number}.")
    try:
        case = await hotline.store.cases.update(
            number, actor=user.username, now=_local_now(hotline.settings),
            note=_text(body, "note"), **changes,
        )
    except StorageError as exc:
        raise _storage_refused(exc) from exc
    await _audit(request, user, "case.update", number,
                 **{k: v for k, v in changes.items() if v is not None})
    return web.json_response(_plain(case))


def _local_now(settings: Settings) -> datetime:
    return datetime.now(ZoneInfo(settings.timezone))


# -- operators and figures -------------------------------------------------------------------


@routes.get("/api/operators")
async def operators(request: web.Request) -> web.Response:
    await require(request, "operator")
    try:
        presence = await _hotline(request).operators.presence()
    except AmiError as exc:
        raise json_error(web.HTTPServiceUnavailable, "asterisk_unavailable", str(exc)) from exc
    return web.json_response([
        {"id": p.operator.id, "name": p.operator.name, "state": p.state,
         "skills": dict(p.operator.skills), "languages": list(p.operator.languages),
         "queues": list(p.queues), "paused": p.paused, "reason": p.reason,
         "in_call": p.in_call}
        for p in presence.values()
    ])


async def _operator_action(request: web.Request, action: str) -> web.Response:
    user = await require(request, "operator")
    operator_id = request.match_info["id"]
    hotline = _hotline(request)
    if user.role == "operator" and user.operator_id != operator_id:
        raise json_error(web.HTTPForbidden, "forbidden",
                         "Operators may change only their own state.")
    if operator_id not in hotline.settings.operators:
        raise json_error(web.HTTPNotFound, "not_found", f"No operator {operator_id}.")
    body = await json_body(request) if request.can_read_body else {}
    desk = hotline.operators
    detail: dict[str, object] = {}
    try:
        if action == "login":
            wanted = body.get("skills")
            if wanted is not None and not (
                    isinstance(wanted, list) and all(isinstance(s, str) for s in wanted)):
                raise json_error(web.HTTPBadRequest, "bad_field", "'skills' must be a list.")
            detail["skills"] = list(await desk.login(operator_id, wanted))
        elif action == "logout":
            await desk.logout(operator_id)
        elif action == "pause":
            detail["reason"] = _text(body, "reason", default="break") or "break"
            await desk.pause(operator_id, str(detail["reason"]))
        else:
            await desk.unpause(operator_id)
    except AmiError as exc:
        raise json_error(web.HTTPServiceUnavailable, "asterisk_unavailable", str(exc)) from exc
    except IvrError as exc:
        raise json_error(web.HTTPConflict, "refused", str(exc)) from exc
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
    await require(request, "supervisor")
    live = _hotline(request).figures.all_figures(time.time())
    return web.json_response({
        skill: {**dataclasses.asdict(f), "service_level_percent": f.service_level_percent,
                "meets_target": f.meets_target}
        for skill, f in live.items()
    })


# -- flows -----------------------------------------------------------------------------------


async def _live_text(hotline: Hotline) -> str:
    published = hotline.flows.current()
    versions = await hotline.store.flow_versions.of(published.flow.name)
    for version in versions:
        if version.id == published.version_id:
            return version.text
    text: str = await asyncio.to_thread(hotline.settings.flow_path.read_text, encoding="utf-8")
    return text


@routes.get("/api/flows/current")
async def flow_current(request: web.Request) -> web.Response:
    await require(request, "admin")
    hotline = _hotline(request)
    published = hotline.flows.current()
    return web.json_response({
        "name": published.flow.name, "version": published.flow.version,
        "version_id": published.version_id, "digest": published.digest,
        "text": await _live_text(hotline),
    })


async def _check(hotline: Hotline, text: str) -> list[FlowProblem]:
    _, problems = await asyncio.to_thread(check_text, hotline.settings, text,
                                          str(hotline.settings.flow_path))
    return problems


@routes.post("/api/flows/validate")
async def flow_validate(request: web.Request) -> web.Response:
    await require(request, "admin")
    text = _text(await json_body(request), "text", required=True)
    problems = await _check(_hotline(request), text)
    return web.json_response({"valid": not problems, "problems": _problems_json(problems)})


@routes.post("/api/flows/simulate")
async def flow_simulate(request: web.Request) -> web.Response:
    await require(request, "admin")
    body = await json_body(request)
    hotline = _hotline(request)
    settings = hotline.settings
    text = _text(body, "text") or await _live_text(hotline)
    flow, problems = await asyncio.to_thread(check_text, settings, text, str(settings.flow_path))
    if flow is None:
        raise json_error(web.HTTPUnprocessableEntity, "invalid_flow",
                         "The flow does not validate.", problems=_problems_json(problems))
    zone = ZoneInfo(settings.timezone)
    at = _text(body, "at")
    try:
        now = datetime.fromisoformat(at).replace(tzinfo=zone) if at else datetime.now(zone)
    except ValueError as exc:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         f"'at' is not an ISO date and time: {at!r}") from exc
    language = _text(body, "language") or settings.default_language
    if language not in settings.languages:
        raise json_error(web.HTTPBadRequest, "bad_field", f"Unknown language {language!r}.")
    say = _text(body, "say") or None
    facts = ArrivalFacts(
        caller=_text(body, "caller"), language=language, now=now,
        open_schedules=settings.schedules.open_at(now),
        holidays_today=settings.schedules.holidays_on(now.date()),
        speech_available=say is not None,
    )
    digits = _text(body, "digits")

    def run() -> tuple[str, str, list[str]]:
        try:
            catalog = load_intents(settings.speech.intents, settings.skills)
        except ConfigError:
            catalog = None

        def classify(said: str, lang: str) -> tuple[str | None, float]:
            if catalog is None:
                return None, 1.0
            found = catalog.match(said, lang)
            return found.skill, found.confidence

        report = simulate(flow, facts, digits, say, classify=classify)
        return format_report(report), describe_outcome(report.outcome), list(report.path)

    transcript, outcome, path = await asyncio.to_thread(run)
    return web.json_response({"transcript": transcript, "outcome": outcome, "path": path})


@routes.post("/api/flows/diff")
async def flow_diff(request: web.Request) -> web.Response:
    await require(request, "admin")
    text = _text(await json_body(request), "text", required=True)
    live = await _live_text(_hotline(request))
    diff = "".join(difflib.unified_diff(
        live.splitlines(keepends=True), text.splitlines(keepends=True),
        fromfile="live", tofile="edited",
    ))
    return web.json_response({"changed": bool(diff), "diff": diff})


@routes.post("/api/flows/publish")
async def flow_publish(request: web.Request) -> web.Response:
    user = await require(request, "admin")
    body = await json_body(request)
    text = _text(body, "text", required=True)
    note = _text(body, "note") or "published from the web"
    hotline = _hotline(request)
    try:
        published = await hotline.flows.publish_text(text, user.username, note)
    except FlowRejected as exc:
        raise json_error(web.HTTPUnprocessableEntity, "invalid_flow",
                         "The flow does not validate; nothing was published.",
                         problems=_problems_json(exc.problems)) from exc
    await _audit(request, user, "flow.publish", published.flow.name,
                 version=published.flow.version, version_id=published.version_id,
                 digest=published.digest, note=note)
    return web.json_response({"name": published.flow.name, "version": published.flow.version,
                              "version_id": published.version_id,
                              "digest": published.digest})


@routes.get("/api/flows/versions")
async def flow_versions(request: web.Request) -> web.Response:
    await require(request, "admin")
    hotline = _hotline(request)
    published = hotline.flows.current()
    versions = await hotline.store.flow_versions.of(published.flow.name)
    return web.json_response([
        {"id": v.id, "flow": v.flow, "version": v.version, "digest": v.digest,
         "published_by": v.published_by, "published_at": v.published_at, "note": v.note,
         "live": v.id == published.version_id}
        for v in reversed(versions)
    ])


@routes.post("/api/flows/rollback")
async def flow_rollback(request: web.Request) -> web.Response:
    """Publish an earlier version again: the one given, else the one before the live one."""
    user = await require(request, "admin")
    body = await json_body(request) if request.can_read_body else {}
    hotline = _hotline(request)
    published = hotline.flows.current()
    versions = await hotline.store.flow_versions.of(published.flow.name)
    wanted = body.get("version_id")
    if wanted is not None:
        if not isinstance(wanted, int) or isinstance(wanted, bool):
            raise json_error(web.HTTPBadRequest, "bad_field", "'version_id' must be a number.")
        targets = [v for v in versions if v.id == wanted]
        if not targets:
            raise json_error(web.HTTPNotFound, "not_found", f"No flow version #{wanted}.")
        target = targets[0]
    else:
        live = [i for i, v in enumerate(versions) if v.digest == published.digest]
        if not live or live[-1] == 0:
            raise json_error(web.HTTPConflict, "refused",
                             "There is no earlier version to roll back to.")
        target = versions[live[-1] - 1]
    try:
        now_live = await hotline.flows.publish_text(
            target.text, user.username, f"rollback to version #{target.id}")
    except FlowRejected as exc:
        raise json_error(web.HTTPUnprocessableEntity, "invalid_flow",
                         f"Version #{target.id} no longer validates; nothing changed.",
                         problems=_problems_json(exc.problems)) from exc
    await _audit(request, user, "flow.rollback", now_live.flow.name, to_version_id=target.id,
                 version_id=now_live.version_id)
    return web.json_response({"name": now_live.flow.name, "version": now_live.flow.version,
                              "version_id": now_live.version_id, "rolled_back_to": target.id})


# -- bulletins -------------------------------------------------------------------------------


def _bulletin_json(b: Any) -> dict[str, Any]:
    plain: dict[str, Any] = _plain(b)
    return plain


@routes.get("/api/bulletins")
async def bulletins(request: web.Request) -> web.Response:
    await require(request, "supervisor")
    listing = await _hotline(request).bulletins.listing()
    return web.json_response([_bulletin_json(b) for b in listing])


@routes.post("/api/bulletins")
async def post_bulletin(request: web.Request) -> web.Response:
    user = await require(request, "supervisor")
    body = await json_body(request)
    hotline = _hotline(request)
    texts = body.get("texts")
    if not isinstance(texts, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in texts.items()):
        raise json_error(web.HTTPBadRequest, "bad_field",
                         "'texts' must map languages to texts.")
    texts = {k: v.strip() for k, v in texts.items() if v.strip()}
    if not texts:
        raise json_error(web.HTTPBadRequest, "bad_field", "Write the bulletin in a language.")
    unknown = sorted(set(texts) - set(hotline.settings.languages))
    if unknown:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         f"Unknown language(s): {', '.join(unknown)}.")
    raw = _text(body, "expires_at", required=True)
    try:
        expires = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         f"'expires_at' is not an ISO date and time: {raw!r}") from exc
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=ZoneInfo(hotline.settings.timezone))
    if expires <= _now():
        raise json_error(web.HTTPBadRequest, "bad_field", "'expires_at' is in the past.")
    try:
        # The bulletin desk writes the audit entry (it knows the texts it accepted).
        bulletin = await hotline.bulletins.post(texts, expires, user.username)
    except IvrError as exc:
        raise json_error(web.HTTPConflict, "refused", str(exc)) from exc
    return web.json_response(_bulletin_json(bulletin), status=201)


@routes.post("/api/bulletins/{id}/withdraw")
async def withdraw_bulletin(request: web.Request) -> web.Response:
    user = await require(request, "supervisor")
    try:
        bulletin_id = int(request.match_info["id"])
    except ValueError as exc:
        raise json_error(web.HTTPNotFound, "not_found", "No such bulletin.") from exc
    try:
        bulletin = await _hotline(request).bulletins.withdraw(bulletin_id, user.username)
    except IvrError as exc:
        raise json_error(web.HTTPNotFound, "not_found", str(exc)) from exc
    return web.json_response(_bulletin_json(bulletin))


# -- users -----------------------------------------------------------------------------------


@routes.get("/api/users")
async def users(request: web.Request) -> web.Response:
    await require(request, "admin")
    return web.json_response([user_json(u) for u in await _hotline(request).store.users.all()])


def _operator_id(hotline: Hotline, body: Mapping[str, Any]) -> str | None:
    operator_id = _text(body, "operator_id") or None
    if operator_id is not None and operator_id not in hotline.settings.operators:
        raise json_error(web.HTTPBadRequest, "bad_field", f"No operator {operator_id}.")
    return operator_id


def _role(body: Mapping[str, Any], *, required: bool) -> str | None:
    role = _text(body, "role", required=required) or None
    if role is not None and role not in ROLES:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         f"'role' must be one of {', '.join(ROLES)}.")
    return role


@routes.post("/api/users")
async def create_user(request: web.Request) -> web.Response:
    admin = await require(request, "admin")
    body = await json_body(request)
    hotline = _hotline(request)
    username = _text(body, "username", required=True).strip()
    role = _role(body, required=True)
    assert role is not None  # required above  # noqa: S101
    operator_id = _operator_id(hotline, body)
    try:
        user, password = await accounts.create_account(
            hotline.store, username, role, operator_id=operator_id)
    except (StorageError, accounts.AccountError) as exc:
        raise json_error(web.HTTPConflict, "refused", str(exc)) from exc
    await _audit(request, admin, "user.create", username, role=role, operator_id=operator_id)
    # The generated password is shown this once; only its hash is stored.
    return web.json_response({**user_json(user), "password": password}, status=201)


@routes.patch("/api/users/{username}")
async def update_user(request: web.Request) -> web.Response:
    admin = await require(request, "admin")
    body = await json_body(request)
    hotline = _hotline(request)
    username = request.match_info["username"]
    if await hotline.store.users.get(username) is None:
        raise json_error(web.HTTPNotFound, "not_found", f"No user {username}.")
    changes: dict[str, Any] = {}
    if "role" in body:
        changes["role"] = _role(body, required=True)
    if "operator_id" in body:
        # null or "" unlinks the account from its operator ("" is the store's "clear").
        changes["operator_id"] = _operator_id(hotline, body) or ""
    if "disabled" in body:
        if not isinstance(body["disabled"], bool):
            raise json_error(web.HTTPBadRequest, "bad_field", "'disabled' must be true/false.")
        changes["disabled"] = body["disabled"]
    if username == admin.username and (changes.get("disabled") or
                                       changes.get("role", "admin") != "admin"):
        raise json_error(web.HTTPConflict, "refused",
                         "You cannot disable or demote your own account.")
    password = None
    if body.get("reset_password") is True:
        password = accounts.generate_password()
        changes["password_hash"] = await hash_password(password)
    try:
        user = await hotline.store.users.update(username, **changes)
    except StorageError as exc:
        raise _storage_refused(exc) from exc
    await _audit(request, admin, "user.update", username,
                 **{k: v for k, v in changes.items() if k != "password_hash"},
                 password_reset=password is not None)
    out = user_json(user)
    if password is not None:
        out["password"] = password
    return web.json_response(out)


# -- configuration ---------------------------------------------------------------------------


def config_dir(hotline: Hotline) -> Path:
    """The directory the running hotline read its settings from."""
    explicit = getattr(hotline, "config_dir", None)
    if isinstance(explicit, Path):
        return explicit
    env = os.environ.get("IVR_CONFIG_DIR")
    return Path(env) if env else hotline.settings.project_dir / "config"


def config_path(hotline: Hotline, name: str) -> Path:
    if name == "intents":
        return hotline.settings.speech.intents
    return config_dir(hotline) / CONFIG_FILES[name]


def check_config(live: Settings, directory: Path, name: str, text: str,
                 flow_text: str) -> list[dict[str, str]]:
    """Every problem the whole configuration would have with ``text`` as ``name``'s file.

    Blocking (file copies, YAML): run in a thread. Nothing under ``directory`` changes.
    """
    problems: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="ivr-config-") as tmp:
        candidate_dir = Path(tmp) / "config"
        shutil.copytree(directory, candidate_dir)
        intents = (candidate_dir / CONFIG_FILES["intents"] if name == "intents"
                   else live.speech.intents)
        target = intents if name == "intents" else candidate_dir / CONFIG_FILES[name]
        target.write_text(text, encoding="utf-8")

        def add(file: str, key: str, message: str) -> None:
            # Problems name the file as the admin knows it, not the temporary copy.
            shown = Path(file).name if file.startswith(tmp) else file
            problems.append({"file": shown, "key": key, "message": message})

        try:
            candidate = settings_module.load(candidate_dir, project_dir=live.project_dir)
        except ConfigError as exc:
            for p in exc.problems:
                add(p.file, p.key, p.reason)
            return problems
        try:
            load_intents(intents, candidate.skills)
        except ConfigError as exc:
            for p in exc.problems:
                add(p.file, p.key, p.reason)
        # The live flow must still validate against the new skills and schedules.
        _, flow_problems = check_text(candidate, flow_text, str(live.flow_path))
        problems.extend(
            {"file": live.flow_path.name, "key": f"line {fp.line}",
             "message": f"{fp.node + ': ' if fp.node else ''}{fp.message}"}
            for fp in flow_problems)
    return problems


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _config_name(request: web.Request) -> str:
    name = request.match_info["name"]
    if name not in CONFIG_FILES:
        raise json_error(web.HTTPNotFound, "not_found", f"No configuration file {name!r}.")
    return name


@routes.get("/api/config/{name}")
async def get_config(request: web.Request) -> web.Response:
    await require(request, "admin")
    name = _config_name(request)
    path = config_path(_hotline(request), name)
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    return web.json_response({"name": name, "file": path.name, "text": text,
                              "digest": digest_of(text)})


@routes.put("/api/config/{name}")
async def put_config(request: web.Request) -> web.Response:
    user = await require(request, "admin")
    name = _config_name(request)
    text = _text(await json_body(request), "text", required=True)
    hotline = _hotline(request)
    path = config_path(hotline, name)
    flow_text = await _live_text(hotline)
    problems = await asyncio.to_thread(check_config, hotline.settings, config_dir(hotline),
                                       name, text, flow_text)
    if problems:
        raise json_error(web.HTTPUnprocessableEntity, "invalid_config",
                         f"{len(problems)} problem(s); nothing was changed.", problems=problems)
    before = await asyncio.to_thread(path.read_text, encoding="utf-8")
    await asyncio.to_thread(_atomic_write, path, text)
    await _audit(request, user, "config.update", path.name, before=digest_of(before),
                 after=digest_of(text))
    await hotline.reload_settings()
    return web.json_response({"name": name, "file": path.name, "digest": digest_of(text)})


# -- audit and the document ------------------------------------------------------------------


@routes.get("/api/audit")
async def audit_log(request: web.Request) -> web.Response:
    await require(request, "admin")
    entries = await _hotline(request).store.audit.latest(_limit(request, 200))
    return web.json_response(_plain(entries))


@routes.get("/api/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    await require(request)
    return web.json_response(openapi.document())


@web.middleware
async def storage_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A database that fails under an API call answers 503 JSON, not a bare 500."""
    if not is_api(request):
        return await handler(request)
    try:
        return await handler(request)
    except StorageError as exc:
        log.error("api_storage_error", path=request.path, error=str(exc))
        raise json_error(web.HTTPServiceUnavailable, "storage_unavailable",
                         "The database did not answer; try again.") from exc


def setup(app: web.Application) -> None:
    app.middlewares.append(storage_errors)
    app.router.add_routes(routes)
