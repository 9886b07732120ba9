"""Admin pages: flows, configuration, users, bulletins (supervisors too) and the audit log.

The pages are shells: ``static/admin.js`` fills them from the JSON API (``ivr.web.api``)
with ``fetch`` and the session's CSRF token, so every rule lives in one place, the API.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ivr.configuration.editor import CONFIG_FILES
from ivr.core.records import Role
from ivr.web.auth import require
from ivr.web.i18n import config_language
from ivr.web.keys import SERVICES


async def flows_page(request: web.Request) -> web.StreamResponse:
    await require(request, "admin")
    settings = request.app[SERVICES].settings
    return aiohttp_jinja2.render_template(
        "admin_flows.html", request,
        {"languages": settings.languages,
         "default_language": settings.default_language},
    )


async def config_page(request: web.Request) -> web.StreamResponse:
    await require(request, "admin")
    return aiohttp_jinja2.render_template("admin_config.html", request,
                                          {"names": tuple(CONFIG_FILES)})


async def users_page(request: web.Request) -> web.StreamResponse:
    await require(request, "admin")
    settings = request.app[SERVICES].settings
    return aiohttp_jinja2.render_template(
        "admin_users.html", request,
        {"roles": tuple(Role), "operators": sorted(settings.operators),
         "departments": [(d.id, d.name(config_language()))
                         for d in settings.departments.values()]},
    )


async def bulletins_page(request: web.Request) -> web.StreamResponse:
    await require(request, "supervisor")
    settings = request.app[SERVICES].settings
    _, surging = request.app[SERVICES].surges.current()
    return aiohttp_jinja2.render_template(
        "admin_bulletins.html", request, {"languages": settings.languages,
                                          "surges": len(surging)},
    )


async def audit_page(request: web.Request) -> web.StreamResponse:
    await require(request, "admin")
    return aiohttp_jinja2.render_template("admin_audit.html", request, {})


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/flows", flows_page)
    app.router.add_get("/admin/config", config_page)
    app.router.add_get("/admin/users", users_page)
    app.router.add_get("/admin/bulletins", bulletins_page)
    app.router.add_get("/admin/audit", audit_page)
