"""A user's own settings: the language of their pages (``/account``).

The choice is stored with the account (``users.language``), so it follows the user to every
browser and node; "browser" clears it, and the browser's ``Accept-Language`` decides again.
The header of every page has the same choice as a small form posting here.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ivr.edges.translations import known_locale
from ivr.web.auth import json_body, require, safe_next
from ivr.web.errors import json_error
from ivr.web.i18n import gettext as _
from ivr.web.keys import SERVICES

BROWSER = "browser"


async def _set_language(request: web.Request, value: str) -> str | None:
    """Store ``value`` (a locale, or ``browser``) for the logged-in user; the stored value."""
    user = await require(request)
    language = None if value == BROWSER else known_locale(value)
    if language is None and value != BROWSER:
        raise ValueError(value)
    services = request.app[SERVICES]
    await services.store.users.update(user.username, language=language or "")
    await services.store.audit.record(user.username, "user.language", user.username,
                                      {"language": language or BROWSER},
                                      services.clock.now())
    return language


@aiohttp_jinja2.template("account.html")
async def account_page(request: web.Request) -> dict[str, Any]:
    user = await require(request)
    return {"chosen": user.language or BROWSER, "error": ""}


async def post_language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    value = str(form.get("language", ""))
    back = safe_next(str(form.get("next", ""))) or "/account"
    try:
        await _set_language(request, value)
    except ValueError:
        user = await require(request)
        return aiohttp_jinja2.render_template(
            "account.html", request,
            {"chosen": user.language or BROWSER, "error": _("Unknown language.")},
            status=400)
    raise web.HTTPSeeOther(back)


async def api_language(request: web.Request) -> web.Response:
    await require(request)  # who asks first: a stranger gets 401, whatever the body
    body = await json_body(request)
    value = body.get("language")
    if not isinstance(value, str):
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("'language' must be zh_CN, en or browser."))
    try:
        language = await _set_language(request, value)
    except ValueError as exc:
        raise json_error(web.HTTPBadRequest, "bad_field",
                         _("'language' must be zh_CN, en or browser.")) from exc
    return web.json_response({"language": language})


def setup(app: web.Application) -> None:
    app.router.add_get("/account", account_page)
    app.router.add_post("/account/language", post_language)
    app.router.add_put("/api/me/language", api_language)
