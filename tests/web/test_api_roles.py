"""Every /api route is documented, needs a session, and refuses roles below its own."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from yarl import URL

from ivr.web.openapi import PATHS, document
from tests.web.conftest import audited

SAMPLE = {"number": "6332000017", "id": "1", "username": "nobody", "name": "skills",
          "call_id": "c1"}
RANK = {"any": 0, "operator": 0, "supervisor": 1, "admin": 2}
ROUTES = sorted(
    (method.upper(), path, op["x-role"])
    for path, methods in PATHS.items() for method, op in methods.items()
)


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path)


def test_every_api_route_is_documented_and_every_documented_route_exists(app: web.Application):
    """The OpenAPI document and the router list the same (method, path) pairs."""
    registered = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api")
        and route.method != "HEAD"
    }
    documented = {(method, path) for method, path, _ in ROUTES}
    assert registered == documented
    assert document()["openapi"] == "3.1.0"


@pytest.mark.parametrize(("method", "path", "role"), ROUTES)
async def test_without_a_session_every_api_route_answers_401(anonymous, method, path, role):
    """No cookie: 401 JSON, never data."""
    resp = await anonymous.request(method, concrete(path), json={})
    assert resp.status == 401
    assert (await resp.json())["error"] == "not_logged_in"


@pytest.mark.parametrize(
    ("method", "path", "role"), [r for r in ROUTES if r[2] in ("supervisor", "admin")])
async def test_operator_session_gets_403_on_every_supervisor_and_admin_route(
        api_as, hotline, method, path, role):
    """An operator (with a valid CSRF token) is refused every route above their role."""
    operator = await api_as("operator", "op1001")
    versions_before = await hotline.store.flow_versions.of(hotline.flows.current().flow.name)
    resp = await operator.request(method, concrete(path), json={})
    assert resp.status == 403, await resp.text()
    assert (await resp.json())["error"] == "forbidden"
    assert await audited(hotline) == []
    live = hotline.flows.current().flow.name
    assert await hotline.store.flow_versions.of(live) == versions_before


@pytest.mark.parametrize(("method", "path", "role"), [r for r in ROUTES if r[2] == "admin"])
async def test_supervisor_session_gets_403_on_every_admin_route(api_as, method, path, role):
    """Supervisors reach bulletins and figures, not flows, users, config or audit."""
    supervisor = await api_as("supervisor")
    resp = await supervisor.request(method, concrete(path), json={})
    assert resp.status == 403
    assert (await resp.json())["error"] == "forbidden"


async def test_admin_pages_refuse_operators_and_send_strangers_to_login(api_as, anonymous):
    """Pages: 403 page for a lower role, redirect to /login?next= without a session."""
    operator = await api_as("operator", "op1001")
    for page in ("/admin/flows", "/admin/config", "/admin/users", "/admin/audit",
                 "/admin/bulletins"):
        resp = await operator.get(page, allow_redirects=False)
        assert resp.status == 403
        assert "或更高的角色" in await resp.text()  # "role or higher", in Chinese by default
        resp = await anonymous.get(page, allow_redirects=False)
        assert resp.status == 302
        location = URL(resp.headers["Location"])
        assert location.path == "/login"
        assert location.query["next"] == page
