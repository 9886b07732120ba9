"""Who is asking: passwords, server-side sessions, CSRF and roles.

Theory of operation
-------------------
* Passwords are hashed with argon2id (``ivr.accounts.passwords``: hashing and checking run in
  a thread).
* Logging in creates a session in the store: the browser gets a random token in the cookie
  ``ivr_session`` (HttpOnly, SameSite=Strict, Path=/; Secure when served over TLS, or always,
  per ``[web] secure_cookies``), the store keeps only its sha256, so a copy of the database
  opens no session. After logging in, ``next`` is followed only to a plain path on this
  site. Sessions expire after 12 hours; two application nodes on one database share them.
* Every session has a CSRF token. A request that is not GET/HEAD/OPTIONS and carries a
  session must send it (form field ``csrf`` or header ``X-CSRF-Token``), else 403. The login
  form, which has no session yet, uses a double-submit cookie ``ivr_login_csrf``.
* Integrations use API tokens instead (``Authorization: Bearer ivr_...``, REST API only):
  created by an admin with a role (and a department for a department's token), revocable,
  optionally expiring; the store keeps only their sha256. A token acts as the user
  ``token:<name>`` with that role, so every action is audited under its name; it needs no
  CSRF token (no browser adds it by itself). A bad token is a 401, never a fall-back to cookies.
* Roles are ordered operator < supervisor < admin: ``require(request, "supervisor")`` admits
  supervisors and admins. The user is read from the store on every request, so a role change
  or a disabled account takes effect at once.
* Repeated login failures are throttled per address and per username from that address (in
  bounded memory, per process; ``LoginThrottle``) whether or not the user exists; the answer
  never says which part was wrong. A username over 64 characters or a password over 1,024 is
  refused before any work and never echoed; password checks run in their own small pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import structlog
from aiohttp import web

from ivr.accounts.passwords import DUMMY_HASH, MAX_PASSWORD_CHARS, verify_password
from ivr.core.records import Role, User, WebSession
from ivr.edges.schema import problems
from ivr.errors import LoginRefused, StorageError
from ivr.web.errors import is_api, json_error
from ivr.web.i18n import N_
from ivr.web.i18n import gettext as _
from ivr.web.keys import SERVICES
from ivr.web.openapi import body_type

log = structlog.get_logger("ivr.web.auth")

SESSION_COOKIE: Final = "ivr_session"
ROLE_WORDS: Final = {Role.OPERATOR: N_("operator"), Role.SUPERVISOR: N_("supervisor"),
                     Role.ADMIN: N_("admin"), Role.DEPARTMENT: N_("department")}
LOGIN_CSRF_COOKIE: Final = "ivr_login_csrf"
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
SESSION_LIFETIME: Final = timedelta(hours=12)
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# Failures allowed before the back-off starts, its first step and its ceiling (seconds).
FREE_FAILURES: Final = 3
FIRST_DELAY: Final = 1.0
MAX_DELAY: Final = 300.0
MAX_TRACKED: Final = 10_000
ADDRESS_FREE_FAILURES: Final = 20
CHECKS_PER_ADDRESS: Final = 1
MAX_USERNAME: Final = 64  # ivr.accounts.service.USERNAME
LOGIN_TOO_LONG: Final = N_("Username or password too long.")
LOGIN_BUSY: Final = N_("A login from this address is being checked; try again in a moment.")
LOGIN_FAILED: Final = N_("Wrong username or password.")

TOKEN_PREFIX: Final = "ivr_"  # noqa: S105 - not a secret: what every API token starts with
# Per request: the session (None for an API token) and its user once looked up (None: looked
# up, there is none).
_SESSION: web.RequestKey[tuple[WebSession | None, User] | None] = web.RequestKey("ivr_session")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- sessions --------------------------------------------------------------------------------


def bearer(request: web.Request) -> str | None:
    """The API token an integration sent (``Authorization: Bearer ivr_...``), if any."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else None


async def _load(request: web.Request) -> tuple[WebSession | None, User] | None:
    if _SESSION in request:
        return request[_SESSION]
    request[_SESSION] = None
    sent = bearer(request)
    if sent is not None:
        # A token is for the REST API only, and when one is sent the cookies are not looked
        # at (so no session rides along): an unknown, revoked or expired token is a 401.
        if not is_api(request):
            return None
        services = request.app[SERVICES]
        api_token = (await services.store.api_tokens.active(
            token_hash(sent), services.clock.now())
            if sent.startswith(TOKEN_PREFIX) and len(sent) <= 100 else None)
        if api_token is None:
            log.warning("api_token_refused", path=request.path)
            raise json_error(web.HTTPUnauthorized, "bad_token",
                             "Unknown, revoked or expired API token.")
        request[_SESSION] = (None, api_token.as_user())
        return request[_SESSION]
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    services = request.app[SERVICES]
    store = services.store
    session = await store.sessions.get(token_hash(token), services.clock.now())
    if session is None:
        return None
    user = await store.users.get(session.username)
    if user is None or user.disabled:
        return None
    request[_SESSION] = (session, user)
    return session, user


async def current_user(request: web.Request) -> User | None:
    """The logged-in user, or None (no cookie, expired session, disabled account)."""
    loaded = await _load(request)
    return loaded[1] if loaded else None


def csrf_token(request: web.Request) -> str:
    """The session's CSRF token for templates (``""`` before ``current_user`` found one)."""
    loaded = request.get(_SESSION)
    return loaded[0].csrf_token if loaded and loaded[0] else ""


async def require(request: web.Request, *roles: str) -> User:
    """The logged-in user if their role is at least the lowest of the centre's ``roles``, or
    is ``department`` when ``roles`` names it (any role when none is given). A department's
    account reaches only routes that name its role. API paths: 401/403 JSON; pages: redirect
    to /login, or a 403 page."""
    user = await current_user(request)
    if user is None:
        if is_api(request):
            raise json_error(web.HTTPUnauthorized, "not_logged_in", _("Log in first."))
        raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
    ladder = [Role.rank_of(r) for r in roles if r != Role.DEPARTMENT]
    if user.role == Role.DEPARTMENT:
        allowed = not roles or Role.DEPARTMENT in roles
    else:
        allowed = not roles or (bool(ladder) and Role.rank_of(user.role) >= min(ladder))
    if not allowed:
        message = (_("This needs the %(role)s role or higher.",
                     role=_(ROLE_WORDS[list(Role)[min(ladder)]])) if ladder
                   else _("This needs a department account."))
        if is_api(request):
            raise json_error(web.HTTPForbidden, "forbidden", message)
        raise forbidden_page(request, message)
    return user


def forbidden_page(request: web.Request, message: str) -> web.HTTPForbidden:
    body = aiohttp_jinja2.render_string(
        "error.html", request, {"status": 403, "title": _("Not allowed"), "message": message}
    )
    return web.HTTPForbidden(text=body, content_type="text/html")


def _sent_csrf(request: web.Request, form: dict[str, str] | None) -> str:
    return request.headers.get(CSRF_HEADER) or (form or {}).get(CSRF_FIELD, "")


async def _form(request: web.Request) -> dict[str, str] | None:
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        data = await request.post()
        return {k: v for k, v in data.items() if isinstance(v, str)}
    return None


@web.middleware
async def csrf_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse a state-changing request of a session that lacks its CSRF token (403)."""
    if request.method in SAFE_METHODS or request.path == "/login":
        return await handler(request)
    loaded = await _load(request)
    # A session (a browser's cookie) must prove the request came from our pages; an API
    # token is sent deliberately by its holder, never added by a browser, so needs no proof.
    if loaded is not None and loaded[0] is not None:
        sent = _sent_csrf(request, await _form(request))
        if not hmac.compare_digest(sent.encode(), loaded[0].csrf_token.encode()):
            log.warning("csrf_refused", path=request.path, user=loaded[1].username)
            if is_api(request):
                raise json_error(web.HTTPForbidden, "csrf", _("Missing or wrong CSRF token."))
            raise forbidden_page(request, _("The form expired; reload the page and try again."))
    return await handler(request)


# -- security headers ------------------------------------------------------------------------

CSP: Final = ("default-src 'self'; base-uri 'none'; form-action 'self'; "
              "frame-ancestors 'none'; object-src 'none'")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, errors and static files included."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        # API answers and pages carry callers' data: never keep them in a cache.
        response.headers["Cache-Control"] = "no-store"


# -- login throttle --------------------------------------------------------------------------


@dataclass(slots=True)
class _Failures:
    count: int = 0
    blocked_until: float = 0.0


class LoginThrottle:
    """Back-off per address and per username *from that address*, in bounded memory.

    After ``FREE_FAILURES`` failures for one name from one address, each next one doubles the
    wait (up to ``MAX_DELAY``); after ``ADDRESS_FREE_FAILURES`` failures from one address,
    whatever the names, the same for the whole address. A guesser is slowed down, yet nobody
    can lock a user out from elsewhere: ``admin`` logs in from their own address during a
    flood against ``admin``. One address has at most ``CHECKS_PER_ADDRESS`` password checks
    running at once (the others are refused at once), so a flood from one address never
    fills the password pool. At most ``MAX_TRACKED`` entries are kept: those not blocked are
    forgotten first, then the oldest.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._checking: dict[str, int] = {}

    @staticmethod
    def _keys(address: str, username: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return (address, ""), (address, username.casefold()[:MAX_USERNAME])

    def wait_left(self, address: str, username: str) -> float:
        now = self._clock()
        waits = [entry.blocked_until - now for key in self._keys(address, username)
                 if (entry := self._failures.get(key)) is not None]
        return max([0.0, *waits])

    def begin_check(self, address: str) -> bool:
        """Whether ``address`` may start a password check now (then call ``end_check``)."""
        if self._checking.get(address, 0) >= CHECKS_PER_ADDRESS:
            return False
        self._checking[address] = self._checking.get(address, 0) + 1
        return True

    def end_check(self, address: str) -> None:
        left = self._checking.get(address, 1) - 1
        if left > 0:
            self._checking[address] = left
        else:
            self._checking.pop(address, None)

    def failed(self, address: str, username: str | None) -> None:
        """A wrong password for ``username`` from ``address``; ``None``: a request refused
        before any check (one was already running), counted against the address alone."""
        whole, pair = self._keys(address, username or "")
        counted = [(whole, ADDRESS_FREE_FAILURES)]
        if username is not None:
            counted.append((pair, FREE_FAILURES))
        for key, free in counted:
            self._make_room()
            entry = self._failures.setdefault(key, _Failures())
            entry.count += 1
            if entry.count >= free:
                delay = min(MAX_DELAY, FIRST_DELAY * 2 ** min(entry.count - free, 32))
                entry.blocked_until = self._clock() + delay

    def succeeded(self, address: str, username: str) -> None:
        self._failures.pop(self._keys(address, username)[1], None)

    @property
    def tracked(self) -> int:
        return len(self._failures)

    def _make_room(self) -> None:
        if len(self._failures) < MAX_TRACKED:
            return
        # Guessing many names must not grow memory without bound: forget the entries not
        # blocked right now, and if all are, the oldest half.
        now = self._clock()
        kept = {k: v for k, v in self._failures.items() if v.blocked_until > now}
        if len(kept) >= MAX_TRACKED:
            kept = dict(list(kept.items())[MAX_TRACKED // 2:])
        self._failures = kept


THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("login_throttle")


# -- /login and /logout ----------------------------------------------------------------------


def landing(user: User) -> str:
    """Where a user goes after logging in when no page was asked for."""
    return {Role.ADMIN: "/admin/flows", Role.SUPERVISOR: "/wallboard",
            Role.DEPARTMENT: "/department"}.get(Role(user.role) if Role.known(user.role)
                                                 else Role.OPERATOR, "/console")


MAX_NEXT: Final = 2048


def safe_next(value: str) -> str | None:
    r"""``value`` if it is a path on this site, else None.

    Browsers drop tabs and line breaks from a URL and read ``\`` as ``/``, so
    ``/<tab>/evil.example`` or ``/\evil.example`` would become ``//evil.example``: another
    site. Only a plain absolute path (no whitespace, control or format characters, no
    backslash, no scheme or host) is followed.
    """
    if not value.startswith("/") or value.startswith("//") or len(value) > MAX_NEXT:
        return None
    if any(ch == "\\" or ch.isspace() or unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"}
           for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


async def login_page(request: web.Request) -> web.StreamResponse:
    token = secrets.token_urlsafe(32)
    response = aiohttp_jinja2.render_template(
        "login.html", request,
        {"login_csrf": token, "next": safe_next(request.query.get("next", "")) or "",
         "error": "",
         "username": ""},
    )
    _set_login_csrf_cookie(request, response, token)
    return response


async def start_session(request: web.Request, user: User) -> tuple[str, WebSession]:
    """Create a session for ``user``; the raw token (for the cookie) and the stored session."""
    token = secrets.token_urlsafe(32)
    now = request.app[SERVICES].clock.now()
    session = await request.app[SERVICES].store.sessions.create(
        token_hash(token), user.username, secrets.token_urlsafe(32), now, now + SESSION_LIFETIME
    )
    return token, session


def client_address(request: web.Request) -> str:
    """Where the request came from, as the throttle counts it (the peer's address)."""
    return request.remote or "-"


async def authenticate(request: web.Request, username: str, password: str) -> User:
    """The user whose password this is; ``LoginRefused`` otherwise (too long, throttled, busy
    or wrong). What is refused before the password check costs no argon2 work."""
    if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD_CHARS:
        raise LoginRefused(_(LOGIN_TOO_LONG), 400)
    throttle = request.app[THROTTLE]
    address = client_address(request)
    wait = throttle.wait_left(address, username)
    if wait > 0:
        raise LoginRefused(_("Too many failed attempts; try again in %(seconds)s s.",
                             seconds=int(wait) + 1), 429)
    if not throttle.begin_check(address):
        throttle.failed(address, None)  # a burst from one address backs that address off
        raise LoginRefused(_(LOGIN_BUSY), 429)
    try:
        user = await request.app[SERVICES].store.users.get(username) if username else None
        ok = await verify_password(user.password_hash if user else DUMMY_HASH, password)
    finally:
        throttle.end_check(address)
    if user is None or not ok or user.disabled:
        throttle.failed(address, username)
        log.info("login_failed", username=username, address=address)
        raise LoginRefused(_(LOGIN_FAILED), 401)
    throttle.succeeded(address, username)
    return user


def over_tls(request: web.Request) -> bool:
    """The browser reached us over TLS: directly, or through a proxy that says so. Trusting
    the header can only add the Secure flag (a cookie kept off plain HTTP), never remove it."""
    if request.secure:
        return True
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if forwarded == "https":
        return True
    first = request.headers.get("Forwarded", "").split(",")[0].lower()
    return any(part.strip() == "proto=https" for part in first.split(";"))


def secure_cookies(request: web.Request) -> bool:
    """Whether cookies get ``Secure`` (``[web] secure_cookies``: auto, always, never)."""
    policy = request.app[SERVICES].settings.web_secure_cookies
    return policy == "always" or (policy == "auto" and over_tls(request))


def _set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/",
        max_age=int(SESSION_LIFETIME.total_seconds()), secure=secure_cookies(request),
    )


def _set_login_csrf_cookie(request: web.Request, response: web.StreamResponse,
                           token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                        path="/login", secure=secure_cookies(request))


async def login(request: web.Request) -> web.StreamResponse:
    if request.content_type == "application/json":
        return await _login_json(request)
    form = await _form(request) or {}
    username, password = form.get("username", "").strip(), form.get("password", "")
    next_page = safe_next(form.get("next", ""))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = form.get(CSRF_FIELD, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        return _login_again(request, username, next_page or "",
                            _("The login form expired; please try again."), 403)
    try:
        user = await authenticate(request, username, password)
    except LoginRefused as exc:
        return _login_again(request, username, next_page or "", str(exc), exc.status)
    token, _session = await start_session(request, user)
    await _audit_login(request, user, "form")
    response = _see_other(next_page or landing(user))
    _set_session_cookie(request, response, token)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _see_other(location: str) -> web.Response:
    # Returned, not raised: the response carries cookies.
    return web.Response(status=303, headers={"Location": location})


def _login_again(request: web.Request, username: str, next_page: str, error: str,
                 status: int) -> web.StreamResponse:
    token = secrets.token_urlsafe(32)
    response = aiohttp_jinja2.render_template(
        "login.html", request,
        # Never a megabyte echoed back: an overlong name is not shown again.
        {"login_csrf": token, "next": next_page, "error": error,
         "username": username if len(username) <= MAX_USERNAME else ""},
        status=status,
    )
    _set_login_csrf_cookie(request, response, token)
    return response


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or 400 with a reason."""
    try:
        body = await request.json()
    except ValueError as exc:
        raise json_error(web.HTTPBadRequest, "bad_json", _("The body is not JSON.")) from exc
    if not isinstance(body, dict):
        raise json_error(web.HTTPBadRequest, "bad_json",
                         _("The body must be a JSON object."))
    _refuse_unknown_fields(request, body)
    return body


def _refuse_unknown_fields(request: web.Request, body: dict[str, Any]) -> None:
    """A field the operation's body (``ivr.web.bodies``) does not declare is a 400 naming it
    and the nearest declared one: a typo such as ``descripton`` is never silently dropped."""
    route = request.match_info.route.resource
    model = body_type(request.method, route.canonical) if route is not None else None
    if model is None:
        return
    found = problems(model, body, "body", unknown_only=True)
    if found:
        raise json_error(web.HTTPBadRequest, "unknown_field",
                         _("The body has fields this request does not take: %(fields)s.",
                           fields="; ".join(f"{p.key} ({p.reason})" for p in found)),
                         problems=[{"field": p.key, "message": p.reason} for p in found])


async def _login_json(request: web.Request) -> web.StreamResponse:
    # A cross-site page cannot send a JSON body without a CORS preflight we never grant,
    # so this form of login needs no CSRF cookie.
    body = await json_body(request)
    username, password = str(body.get("username", "")).strip(), str(body.get("password", ""))
    try:
        user = await authenticate(request, username, password)
    except LoginRefused as exc:
        status = {429: web.HTTPTooManyRequests, 400: web.HTTPBadRequest}.get(
            exc.status, web.HTTPUnauthorized)
        raise json_error(status, "login_refused", str(exc)) from exc
    token, session = await start_session(request, user)
    await _audit_login(request, user, "api")
    response = web.json_response({"username": user.username, "role": user.role,
                                  "csrf": session.csrf_token})
    _set_session_cookie(request, response, token)
    return response


async def _audit_login(request: web.Request, user: User, via: str) -> None:
    services = request.app[SERVICES]
    await services.store.audit.record(user.username, "login", user.username,
                                      {"address": client_address(request), "via": via},
                                      services.clock.now())
    log.info("logged_in", username=user.username, role=user.role)


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        user = await current_user(request)
        services = request.app[SERVICES]
        await services.store.sessions.delete(token_hash(token))
        if user is not None:
            await services.store.audit.record(user.username, "logout", user.username,
                                              {"address": client_address(request)},
                                              services.clock.now())
    response = _see_other("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def home(request: web.Request) -> web.StreamResponse:
    user = await require(request)
    raise web.HTTPFound(landing(user))


SWEEP_INTERVAL: Final = 3600.0


async def _sweep_sessions(app: web.Application) -> None:
    try:
        services = app[SERVICES]
        removed = await services.store.sessions.delete_expired(services.clock.now())
    except StorageError as exc:
        log.warning("session_sweep_failed", error=str(exc))
    else:
        if removed:
            log.info("sessions_expired", removed=removed)


async def _sweep_hourly(app: web.Application) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL)
        await _sweep_sessions(app)


async def session_sweeper(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: expired sessions are deleted at start (awaited, so no query is left
    running when a short-lived app stops) and then hourly."""
    await _sweep_sessions(app)
    task = asyncio.create_task(_sweep_hourly(app), name="session-sweeper")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def setup(app: web.Application) -> None:
    app[THROTTLE] = LoginThrottle()
    app.cleanup_ctx.append(session_sweeper)
    app.middlewares.append(csrf_middleware)
    app.on_response_prepare.append(security_headers)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", home)
