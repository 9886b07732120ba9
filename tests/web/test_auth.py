"""Logging in and out, sessions, CSRF, roles and security headers, over the real app."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import DummyCookieJar, TCPConnector
from aiohttp.test_utils import TestClient, TestServer

from ivr.errors import StorageError
from ivr.web.auth import ADDRESS_FREE_FAILURES, MAX_TRACKED, THROTTLE, LoginThrottle


async def test_login_form_logs_in_and_lands_on_the_asked_page(anonymous, web_user):
    """The HTML form logs in (with its CSRF cookie) and goes to ?next."""
    username, password = await web_user("admin")
    page = await anonymous.get("/login?next=/admin/users")
    html = await page.text()
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    resp = await anonymous.post("/login", data={
        "username": username, "password": password, "csrf": token, "next": "/admin/users",
    }, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/admin/users"
    cookie = resp.cookies["ivr_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    me = await anonymous.get("/api/me")
    assert (await me.json())["username"] == username


async def test_unknown_user_and_wrong_password_get_the_same_answer(anonymous, web_user):
    """The refusal never says whether the user exists."""
    username, _ = await web_user("operator")
    wrong = await anonymous.post("/login", json={"username": username, "password": "nope"})
    unknown = await anonymous.post("/login", json={"username": "ghost", "password": "nope"})
    assert wrong.status == unknown.status == 401
    assert (await wrong.json())["message"] == (await unknown.json())["message"]


async def test_repeated_failures_are_throttled_even_with_the_right_password(
        anonymous, web_user):
    """After three failures for a username, the next attempt is refused with 429."""
    username, password = await web_user("admin")
    for _ in range(3):
        resp = await anonymous.post("/login", json={"username": username, "password": "x"})
        assert resp.status == 401
    resp = await anonymous.post("/login", json={"username": username, "password": password},
                                headers={"Accept-Language": "en"})
    assert resp.status == 429
    assert "try again" in (await resp.json())["message"]


async def test_login_form_without_its_csrf_cookie_is_refused(anonymous, web_user):
    """A login form posted from elsewhere (no matching CSRF cookie) logs nobody in."""
    username, password = await web_user("admin")
    resp = await anonymous.post("/login", data={
        "username": username, "password": password, "csrf": "forged"}, allow_redirects=False)
    assert resp.status == 403
    assert "ivr_session" not in resp.cookies


async def test_mutations_need_the_sessions_csrf_token(api_as):
    """A logged-in POST without or with a wrong X-CSRF-Token is refused with 403."""
    admin = await api_as("admin")
    text = (await (await admin.get("/api/flows/current")).json())["text"]
    for token in ("", "wrong"):
        resp = await admin.client.post("/api/flows/validate", json={"text": text},
                                       headers={"X-CSRF-Token": token})
        assert resp.status == 403
        assert (await resp.json())["error"] == "csrf"
    resp = await admin.post("/api/flows/validate", json={"text": text})
    assert resp.status == 200


async def test_the_store_keeps_only_the_tokens_hash(api_as, hotline):
    """The cookie's token is not in the store; its sha256 is."""
    admin = await api_as("admin")
    token = admin.client.session.cookie_jar.filter_cookies(
        admin.client.make_url("/"))["ivr_session"].value
    assert await hotline.store.sessions.get(token, datetime.now(UTC)) is None
    digest = hashlib.sha256(token.encode()).hexdigest()
    session = await hotline.store.sessions.get(digest, datetime.now(UTC))
    assert session is not None
    assert session.username == admin.username
    expires = datetime.fromisoformat(session.expires_at) - datetime.fromisoformat(
        session.created_at)
    assert expires == timedelta(hours=12)


async def test_logout_ends_the_session(api_as):
    """After logging out the same cookie no longer works."""
    admin = await api_as("admin")
    jar = admin.client.session.cookie_jar
    token = jar.filter_cookies(admin.client.make_url("/"))["ivr_session"].value
    resp = await admin.post("/logout", allow_redirects=False)
    assert resp.status == 303
    jar.update_cookies({"ivr_session": token})
    assert (await admin.get("/api/me")).status == 401


async def test_an_expired_session_is_not_accepted(anonymous, web_user, hotline):
    """A session past its 12 hours answers 401."""
    username, _ = await web_user("admin")
    now = datetime.now(UTC)
    await hotline.store.sessions.create(
        hashlib.sha256(b"old-token").hexdigest(), username, "csrf",
        now - timedelta(hours=13), now - timedelta(hours=1))
    anonymous.session.cookie_jar.update_cookies({"ivr_session": "old-token"})
    assert (await anonymous.get("/api/me")).status == 401


async def test_disabling_a_user_ends_their_access_at_once(api_as):
    """An admin disables an operator: the operator's next request is 401."""
    admin = await api_as("admin")
    operator = await api_as("operator", "op1001")
    assert (await operator.get("/api/me")).status == 200
    resp = await admin.patch(f"/api/users/{operator.username}", json={"disabled": True})
    assert resp.status == 200
    assert (await operator.get("/api/me")).status == 401
    resp = await operator.client.post("/login", json={"username": operator.username,
                                                      "password": operator.password})
    assert resp.status == 401


async def test_security_headers_on_pages_and_api(api_as, anonymous):
    """CSP self only, no framing, nosniff; API and pages are never cached."""
    admin = await api_as("admin")
    for resp in (await admin.get("/api/me"), await anonymous.get("/login"),
                 await admin.get("/admin/flows")):
        assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"


async def test_login_never_redirects_off_site(anonymous, web_user):
    """?next=//evil.example is ignored: the user lands on their own start page."""
    username, password = await web_user("admin")
    html = await (await anonymous.get("/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    resp = await anonymous.post("/login", data={
        "username": username, "password": password, "csrf": token,
        "next": "//evil.example/x"}, allow_redirects=False)
    assert resp.headers["Location"] == "/admin/flows"


async def test_me_tells_who_is_logged_in(api_as):
    """/api/me: name, role, operator and the CSRF token; never the password hash."""
    operator = await api_as("operator", "op1002")
    body = await (await operator.get("/api/me")).json()
    assert body["username"] == operator.username
    assert body["role"] == "operator"
    assert body["operator_id"] == "op1002"
    assert body["csrf"] == operator.csrf
    assert "password_hash" not in body


def test_throttle_doubles_the_wait_and_forgets_after_a_success():
    """Three free failures, then 1 s, 2 s, 4 s...; a success clears the name."""
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    here = "10.0.0.1"
    for _ in range(2):
        throttle.failed(here, "Wang")
    assert throttle.wait_left(here, "wang") == 0
    throttle.failed(here, "wang")
    assert throttle.wait_left(here, "WANG") == 1.0
    assert throttle.wait_left("10.0.0.2", "wang") == 0  # nobody is locked out from elsewhere
    throttle.failed(here, "wang")
    assert throttle.wait_left(here, "wang") == 2.0
    now[0] += 2.0
    assert throttle.wait_left(here, "wang") == 0
    throttle.succeeded(here, "wang")
    throttle.failed(here, "wang")
    assert throttle.wait_left(here, "wang") == 0


def test_an_address_guessing_many_names_is_slowed_and_memory_stays_bounded():
    """Twenty failures from one address, whatever the names, start its back-off; a million
    names from many addresses keep at most MAX_TRACKED entries."""
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for n in range(ADDRESS_FREE_FAILURES):
        throttle.failed("10.0.0.1", f"name{n}")
    assert throttle.wait_left("10.0.0.1", "anyone-else") == 1.0
    assert throttle.wait_left("10.0.0.2", "anyone-else") == 0
    for n in range(3 * MAX_TRACKED):
        throttle.failed(f"10.1.{n // 250}.{n % 250}", "x" * 64 + str(n))
        assert throttle.tracked <= MAX_TRACKED


async def test_a_failing_database_answers_503_json(api_as, hotline, monkeypatch):
    """The store failing under an API call is a clear 503, not a bare 500."""
    operator = await api_as("operator", "op1001")

    async def broken(*_args, **_kwargs):
        raise StorageError("connection refused")

    monkeypatch.setattr(hotline.store.cases, "search", broken)
    resp = await operator.get("/api/cases")
    assert resp.status == 503
    assert (await resp.json())["error"] == "storage_unavailable"


async def test_expired_sessions_are_swept_when_the_app_starts(app, hotline, web_user):
    """The sweeper deletes sessions past their expiry when the app starts; live ones stay."""
    username, _ = await web_user("admin")
    now = datetime.now(UTC)
    before_expiry = now - timedelta(hours=2)
    await hotline.store.sessions.create("old", username, "c1", now - timedelta(hours=13),
                                       now - timedelta(hours=1))
    await hotline.store.sessions.create("new", username, "c2", now, now + timedelta(hours=1))
    assert await hotline.store.sessions.get("old", before_expiry) is not None
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        for _ in range(100):
            if await hotline.store.sessions.get("old", before_expiry) is None:
                break
            await asyncio.sleep(0.05)
        assert await hotline.store.sessions.get("old", before_expiry) is None
        assert await hotline.store.sessions.get("new", now) is not None
    finally:
        await server.close()


async def form_login(anonymous, username: str, password: str, next_page: str,
                     headers: dict[str, str] | None = None):
    page = await anonymous.get("/login", headers=headers)
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
    # Sent by hand: the test client keeps a Secure cookie off plain HTTP, as a browser would.
    cookie = {"Cookie": f"ivr_login_csrf={page.cookies['ivr_login_csrf'].value}"}
    return await anonymous.post("/login", data={
        "username": username, "password": password, "csrf": token, "next": next_page,
    }, headers={**(headers or {}), **cookie}, allow_redirects=False)


@pytest.mark.parametrize("next_page", [
    "/\t/evil.example",          # what ?next=/%09/evil.example decodes to
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "/ /evil.example",
    "/\u200b/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    " //evil.example",
    "/" + "a" * 5000,
])
async def test_next_never_leaves_the_site_however_it_is_spelled(
    anonymous, web_user, next_page: str
) -> None:
    """A `next` a browser would turn into another site (tabs, line breaks, backslashes) is
    ignored: the user lands on their own start page."""
    username, password = await web_user("admin")
    resp = await form_login(anonymous, username, password, next_page)
    assert resp.status == 303
    assert resp.headers["Location"] == "/admin/flows"


async def test_a_plain_path_with_a_query_is_still_followed(anonymous, web_user) -> None:
    """Safe `next` values still work: a path on this site, query included."""
    username, password = await web_user("admin")
    resp = await form_login(anonymous, username, password, "/reports?day=2026-12-01&skill=a")
    assert resp.headers["Location"] == "/reports?day=2026-12-01&skill=a"


async def test_the_session_cookie_is_secure_behind_a_tls_proxy(server, web_user) -> None:
    """With the default `secure_cookies = "auto"`, a login through a proxy that says the
    browser used HTTPS gets Secure cookies; plain HTTP on loopback does not."""
    username, password = await web_user("admin")
    anonymous = TestClient(server, cookie_jar=DummyCookieJar())  # cookies sent by hand
    await anonymous.start_server()
    try:
        await _secure_behind_a_proxy(anonymous, username, password)
    finally:
        await anonymous.close()


async def _secure_behind_a_proxy(anonymous, username: str, password: str) -> None:
    plain = await form_login(anonymous, username, password, "")
    assert not plain.cookies["ivr_session"]["secure"]
    for headers in ({"X-Forwarded-Proto": "https"}, {"Forwarded": "for=10.0.0.1;proto=https"}):
        resp = await form_login(anonymous, username, password, "", headers=headers)
        assert resp.status == 303, await resp.text()
        assert resp.cookies["ivr_session"]["secure"], headers
        page = await anonymous.get("/login", headers=headers)
        assert page.cookies["ivr_login_csrf"]["secure"]
        api = await anonymous.post("/login", json={"username": username, "password": password},
                                   headers=headers)
        assert api.cookies["ivr_session"]["secure"]


async def test_a_flood_of_megabyte_usernames_is_refused_without_echo(anonymous, app) -> None:
    """A 1 MiB username is refused at once (400), neither echoed nor remembered: the answers
    stay small and the throttle keeps nothing of them."""
    huge = "u" * 1_000_000
    page = await anonymous.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
    for _ in range(20):
        resp = await anonymous.post("/login", json={"username": huge, "password": "x"})
        assert resp.status == 400
        assert len(await resp.read()) < 2000
        form = await anonymous.post("/login", data={
            "username": huge, "password": "x", "csrf": token}, allow_redirects=False)
        assert form.status == 400
        body = await form.read()
        assert len(body) < 50_000
        assert b"u" * 100 not in body
        token = re.search(r'name="csrf" value="([^"]+)"', body.decode()).group(1)
    assert app[THROTTLE].tracked == 0


async def test_admin_logs_in_from_their_own_address_during_a_flood(server, web_user) -> None:
    """Wrong passwords for admin, three in a row and then two hundred at once, from one
    address: that address is refused (mostly without a password check), while admin, from
    another address, logs in."""
    username, password = await web_user("admin")
    flood = TestClient(server)
    own = TestClient(server, connector=TCPConnector(local_addr=("127.0.0.2", 0)))
    await flood.start_server()
    await own.start_server()
    try:
        async def guess() -> int:
            resp = await flood.post("/login", json={"username": username, "password": "guess"})
            return resp.status

        assert [await guess() for _ in range(3)] == [401, 401, 401]
        guesses = [asyncio.create_task(guess()) for _ in range(200)]
        await asyncio.sleep(0.05)
        resp = await own.post("/login", json={"username": username, "password": password})
        assert resp.status == 200, await resp.text()
        statuses = await asyncio.gather(*guesses)
        assert set(statuses) <= {401, 429}
        assert statuses.count(401) <= 5  # the rest refused before any argon2 work
        again = await flood.post("/login", json={"username": username, "password": password})
        assert again.status == 429  # the flooding address is still slowed down
    finally:
        await flood.close()
        await own.close()


async def test_logins_and_logouts_are_audited_with_the_address(anonymous, web_user, hotline):
    """Each log-in (form or API) and log-out is in the audit log, with where it came from."""
    username, password = await web_user("supervisor")
    resp = await form_login(anonymous, username, password, "")
    assert resp.status == 303
    csrf = (await (await anonymous.get("/api/me")).json())["csrf"]
    assert (await anonymous.post("/logout", headers={"X-CSRF-Token": csrf},
                                 allow_redirects=False)).status == 303
    assert (await anonymous.post("/login", json={"username": username,
                                                 "password": password})).status == 200
    entries = await hotline.store.audit.latest()
    assert [(e.actor, e.action) for e in entries] == [
        (username, "login"), (username, "logout"), (username, "login")]
    assert entries[0].detail == {"address": "127.0.0.1", "via": "api"}
    assert entries[2].detail == {"address": "127.0.0.1", "via": "form"}
