"""Logging in and out, sessions, CSRF, roles and security headers, over the real app."""

from __future__ import annotations

import re


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
