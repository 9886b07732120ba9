"""The web side of the hotline: operations endpoints, REST API, operator console, wallboard and
admin pages, all served by one aiohttp application on 127.0.0.1:8080 by default.

aiohttp is imported only under this package. The composition root hands ``build_app`` the
typed services handlers use (``ivr.web.services.WebServices``); each module registers its own
routes in ``setup(app)``; this module assembles them and runs the server.

Pages are Jinja2 templates under ``templates/`` (autoescaped) extending ``base.html``; every
template gets ``user``, ``csrf``, ``nav`` (the links the user's role reaches), ``path``, and
for its words (``ivr.web.i18n``) ``_``, ``locale``, ``when`` (a time on the hotline's clock),
``skill_name``, ``department_name``, ``said`` (a call's reasons) and ``script_messages``
(the scripts' words).
Static files (plain JS and CSS, no build step) are under ``static/``. The Content Security
Policy is ``default-src 'self'``: no inline scripts or styles, no CDN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from ivr.core.records import Role
from ivr.core.words import say
from ivr.edges.translations import local_time
from ivr.errors import StorageError
from ivr.web import (
    account,
    admin,
    api,
    auth,
    casework,
    console,
    i18n,
    ops,
    quality,
    rates,
    recordings,
    reports,
    supervision,
    surges,
    tokens,
    wallboard,
)
from ivr.web.errors import errors_as_json, is_api
from ivr.web.keys import SERVICES
from ivr.web.listener import ConnectionGate
from ivr.web.services import WebServices

log = structlog.get_logger("ivr.web")

HERE: Final = Path(__file__).resolve().parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"

# (href, label, lowest role): shown only when the route exists and the user's role reaches it.
# Labels are message ids (ivr.web.i18n), translated where the menu is drawn.
N_ = i18n.N_
NAV: Final = (
    ("/department", N_("Work queue"), "department"),
    ("/console", N_("Console"), "operator"),
    ("/dispatch", N_("Dispatch"), "operator"),
    ("/cases", N_("Cases"), "operator"),
    ("/wallboard", N_("Wallboard"), "supervisor"),
    ("/supervision", N_("Live supervision"), "supervisor"),
    ("/reports", N_("Reports"), "supervisor"),
    ("/reports/departments", N_("Rates"), "supervisor"),
    ("/quality", N_("Quality review"), "supervisor"),
    ("/admin/bulletins", N_("Bulletins"), "supervisor"),
    ("/admin/flows", N_("Flows"), "admin"),
    ("/admin/config", N_("Configuration"), "admin"),
    ("/admin/users", N_("Users"), "admin"),
    ("/admin/audit", N_("Audit"), "admin"),
)
ROLE_NAMES: Final = {"operator": N_("operator"), "supervisor": N_("supervisor"),
                     "admin": N_("admin"), "department": N_("department")}
SPEECH_LANGUAGES: Final = {"zh": N_("Mandarin"), "en": N_("English"), "ko": N_("Korean")}
CONFIG_FILE_NAMES: Final = {"skills": N_("Skills"), "operators": N_("Operators"),
                            "schedules": N_("Schedules"), "departments": N_("Departments"),
                            "deadlines": N_("Deadlines"), "intents": N_("Intents"),
                            "routing": N_("Routing policy"),
                            "quality": N_("Quality checklist")}
# A call record's outcome (ivr.calls.agi_driver); "word:detail" shows the word's name.
OUTCOME_NAMES: Final = {"in_progress": N_("in progress"), "routed": N_("routed to a queue"),
                        "transferred": N_("transferred"),
                        "callback_requested": N_("callback requested"),
                        "caller_hung_up": N_("caller hung up in the IVR"),
                        "ivr_hung_up": N_("ended by the IVR"), "ivr_failed": N_("IVR failed"),
                        "abandoned": N_("abandoned in the queue"),
                        "interrupted": N_("interrupted"), "fallback": N_("fallback")}
URGENCY_NAMES: Final = {"normal": N_("normal"), "elderly": N_("elderly caller"),
                        "emergency": N_("emergency")}


def nav_for(app: web.Application, role: str | None) -> list[tuple[str, str]]:
    if role is None:
        return []
    routed = {r.resource.canonical for r in app.router.routes()
              if r.method == "GET" and r.resource is not None}
    rank = Role.rank_of(role)
    # A department's account reaches its own pages only; the centre's roles climb a ladder.
    return [(href, i18n.gettext(label)) for href, label, least in NAV
            if href in routed and (least == role if Role.DEPARTMENT in (role, least)
                                   else rank >= Role.rank_of(least))]


@web.middleware
async def page_context(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Give every page's template ``user``, ``csrf``, ``nav`` and ``path``."""
    if not (is_api(request) or request.path.startswith("/static/")):
        user = await auth.current_user(request)
        context = {
            "user": user,
            "csrf": auth.csrf_token(request),
            "nav": nav_for(request.app, user.role if user else None),
            "path": request.path,
            **words(request),
        }
        with warnings.catch_warnings():
            # aiohttp_jinja2 reads its per-request context under a str key (its design).
            warnings.simplefilter("ignore", web.NotAppKeyWarning)
            request[aiohttp_jinja2.REQUEST_CONTEXT_KEY] = context
    return await handler(request)


def words(request: web.Request) -> dict[str, Any]:
    """What a template needs to speak the request's language (``ivr.web.i18n``)."""
    settings = request.app[SERVICES].settings
    locale = i18n.current_locale()
    timezone = settings.timezone

    def when(value: Any, pattern: str = "yyyy-MM-dd HH:mm") -> str:
        return local_time(value, timezone, locale, pattern)

    def skill_name(skill_id: str) -> str:
        skill = settings.skills.get(skill_id)
        return i18n.name_in_language(skill.names, skill_id) if skill else skill_id

    def department_name(department_id: str) -> str:
        department = settings.departments.get(department_id)
        return department.name(i18n.config_language()) if department else department_id

    return {"locale": locale, "html_lang": locale.replace("_", "-"),
            "languages": i18n.languages(), "when": when, "skill_name": skill_name,
            "department_name": department_name,
            "speech_language": lambda code: i18n.gettext(SPEECH_LANGUAGES[code])
            if code in SPEECH_LANGUAGES else code,
            "config_file_name": lambda name: i18n.gettext(CONFIG_FILE_NAMES[name])
            if name in CONFIG_FILE_NAMES else name,
            "outcome_name": outcome_name,
            "urgency_name": lambda word: i18n.gettext(URGENCY_NAMES[word])
            if word in URGENCY_NAMES else word,
            "role_name": lambda role: i18n.gettext(ROLE_NAMES[role]) if role in ROLE_NAMES
            else role,
            # A reason or queue line of a call (``ivr.core.words``) in the reader's language.
            "said": lambda line: say(line, i18n.gettext),
            "script_messages": i18n.script_catalog(request.app)}


def outcome_name(outcome: str) -> str:
    """A call's outcome in the request's language (its detail, if any, as recorded)."""
    word, _sep, detail = outcome.partition(":")
    if word not in OUTCOME_NAMES:
        return outcome
    name = i18n.gettext(OUTCOME_NAMES[word])
    return f"{name} ({detail})" if detail else name


async def _account_language(request: web.Request) -> str | None:
    """The logged-in account's language (None: none chosen, no session, database away)."""
    try:
        user = await auth.current_user(request)
    except StorageError:
        return None  # the page or API answers the outage itself
    return user.language if user else None


def build_app(services: WebServices) -> web.Application:
    app = web.Application()
    app[SERVICES] = services
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True)
    i18n.setup(app)
    app.middlewares.append(i18n.make_middleware(_account_language))
    app.middlewares.append(page_context)
    ops.setup(app)
    # The error middleware wraps the session checks of auth's.
    app.middlewares.append(errors_as_json)
    api.setup(app)
    tokens.setup(app)
    casework.setup(app)
    recordings.setup(app)
    auth.setup(app)
    account.setup(app)
    admin.setup(app)
    console.setup(app)
    wallboard.setup(app)
    supervision.setup(app)
    reports.setup(app)
    rates.setup(app)
    quality.setup(app)
    surges.setup(app)
    app.router.add_static("/static", STATIC, append_version=False)
    app.on_startup.append(_compile_templates)
    return app


async def _compile_templates(app: web.Application) -> None:
    """Compile every page template at start, off the event loop (Jinja compiles a template
    the first time it is used, which would otherwise hold the loop on the first request)."""
    env = aiohttp_jinja2.get_env(app)

    def compile_all() -> None:
        for name in env.list_templates(extensions=["html"]):
            env.get_template(name)

    await asyncio.to_thread(compile_all)


class AccessLog(AbstractAccessLogger):
    """One JSON line per request (``http_request``): method, path without its query string
    (queries can carry caller numbers), status, seconds, peer address."""

    @property
    def enabled(self) -> bool:
        return True

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        log.info("http_request", method=request.method, path=request.path,
                 status=response.status, seconds=round(time, 4), remote=request.remote)


class WebServer:
    """The consoles, API and operations endpoints on one bounded listener
    (``ivr.web.listener``: a connection cap and idle deadlines)."""

    def __init__(self, services: WebServices, host: str, port: int, *,
                 max_connections: int = 1000, idle_timeout: float = 120.0,
                 first_byte_timeout: float = 10.0) -> None:
        # Idle keep-alive connections go back to the pool well before the gate's deadline.
        self._runner = web.AppRunner(build_app(services), access_log_class=AccessLog,
                                     access_log=logging.getLogger("ivr.web.access"),
                                     keepalive_timeout=min(75.0, idle_timeout))
        self._host, self._port = host, port
        self._max_connections = max_connections
        self._idle_timeout, self._first_byte_timeout = idle_timeout, first_byte_timeout
        self.gate: ConnectionGate | None = None
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("web server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        await self._runner.setup()
        server = self._runner.server
        if server is None:  # setup() sets it
            raise RuntimeError("aiohttp runner has no server after setup")
        self.gate = ConnectionGate(
            server, max_connections=self._max_connections, idle_timeout=self._idle_timeout,
            first_byte_timeout=self._first_byte_timeout)
        self._server = await asyncio.get_running_loop().create_server(
            self.gate, self._host, self._port)
        self._sweeper = asyncio.create_task(self.gate.sweep_forever(), name="web-idle-sweeper")
        log.info("web_listening", host=self._host, port=self.port,
                 max_connections=self._max_connections, idle_timeout=self._idle_timeout)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._server is not None:
            self._server.close()
        await self._runner.cleanup()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
