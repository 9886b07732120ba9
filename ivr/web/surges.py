"""The surge signal for supervisors: ``/surges`` (page), ``GET /api/surges`` (JSON), and
``POST /surges/bulletin``, which posts an emergency bulletin about a surge (the bulletin desk,
``ivr.bulletins``) from the page's prefilled form. The surges are the surge watch's last check
(``ivr.casework.surges``, rule ``ivr.core.surges``): no database query per view.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from ivr.core.records import Role
from ivr.core.settings import Settings
from ivr.core.surges import Surge
from ivr.errors import IvrError
from ivr.web.auth import require
from ivr.web.i18n import config_language
from ivr.web.i18n import gettext as _
from ivr.web.keys import SERVICES
from ivr.web.services import WebServices

ROLE = Role.SUPERVISOR
BULLETIN_HOURS: Final = 2  # the prefilled expiry of a bulletin about a surge


def _names(settings: Settings, surge: Surge) -> dict[str, tuple[str, str]]:
    """(category, place) named per language."""
    skill = settings.skills.get(surge.category)
    place = settings.departments.get(surge.place)
    out = {}
    for lang in ("zh", "en", *settings.languages):
        category = (skill.names.get(lang) if skill else None) or surge.category
        out[lang] = (category, place.name(lang) if place else surge.place)
    return out


def bulletin_texts(settings: Settings, surge: Surge) -> dict[str, str]:
    """A draft bulletin per enabled language (the supervisor edits it before posting)."""
    names = _names(settings, surge)
    drafts = {
        "zh": "{place}的{category}问题我们已经收到多位市民反映，正在处理，请勿重复来电。",
        "en": "Many callers have reported a {category} problem in {place}. It is being "
              "handled; there is no need to call again.",
    }
    return {lang: drafts.get(lang, drafts["en"]).format(
        category=names[lang][0], place=names[lang][1]) for lang in settings.languages}


def surge_json(settings: Settings, surge: Surge) -> dict[str, Any]:
    names = _names(settings, surge)
    shown = names.get(config_language()) or names["zh"]  # the user's language
    return {"category": surge.category, "place": surge.place,
            "category_name": shown[0], "place_name": shown[1],
            "count": surge.count, "usual": surge.usual, "ratio": round(surge.ratio, 1),
            "since": surge.since}


def _context(services: WebServices) -> dict[str, Any]:
    settings = services.settings
    at, found = services.surges.current()
    now = services.clock.now(ZoneInfo(settings.timezone))
    return {
        "at": at, "rule": settings.surges, "languages": settings.languages,
        "surges": [{**surge_json(settings, s), "texts": bulletin_texts(settings, s)}
                   for s in found],
        "expires": (now + timedelta(hours=BULLETIN_HOURS)).strftime("%Y-%m-%dT%H:%M"),
    }


async def surges_page(request: web.Request) -> web.StreamResponse:
    await require(request, ROLE)
    return aiohttp_jinja2.render_template("surges.html", request,
                                          {**_context(request.app[SERVICES]), "error": ""})


async def surges_api(request: web.Request) -> web.Response:
    await require(request, ROLE)
    services = request.app[SERVICES]
    at, found = services.surges.current()
    return web.json_response(
        {"at": at, "surges": [surge_json(services.settings, s) for s in found]},
        dumps=lambda v: json.dumps(v, ensure_ascii=False))


async def post_bulletin(request: web.Request) -> web.StreamResponse:
    """Post the (edited) draft as an emergency bulletin; back to the page with the problem
    if it cannot be posted."""
    user = await require(request, ROLE)
    services = request.app[SERVICES]
    settings = services.settings
    form = await request.post()
    texts = {lang: str(form.get(f"text-{lang}", "")).strip() for lang in settings.languages}
    texts = {k: v for k, v in texts.items() if v}
    error = ""
    try:
        expires = datetime.fromisoformat(str(form.get("expires_at", ""))).replace(
            tzinfo=ZoneInfo(settings.timezone))
    except ValueError:
        error = _("The expiry is not a date and time.")
    else:
        if not texts:
            error = _("Write the bulletin in a language.")
        elif expires <= services.clock.now():
            error = _("The expiry is in the past.")
    if not error:
        try:
            await services.bulletins.post(texts, expires, user.username)
        except IvrError as exc:
            error = _("The bulletin was not posted: %(why)s", why=str(exc))
    if error:
        return aiohttp_jinja2.render_template(
            "surges.html", request, {**_context(services), "error": error}, status=400)
    raise web.HTTPSeeOther("/admin/bulletins")


def setup(app: web.Application) -> None:
    app.router.add_get("/surges", surges_page)
    app.router.add_post("/surges/bulletin", post_bulletin)
    app.router.add_get("/api/surges", surges_api)
