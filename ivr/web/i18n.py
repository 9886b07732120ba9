"""The language of each request, and the words of the web in it.

Theory of operation
-------------------
* Every text the web shows (pages, the scripts' messages, JSON error messages) is an English
  message id looked up in the user's language: in Python ``_("...")`` (``gettext``), with
  ``%(name)s`` values given as keywords; in templates ``{{ _("...") }}`` (Jinja2's i18n
  extension); in ``static/*.js`` ``t("...")``, whose translations the page carries in a JSON
  block (``script_catalog``). Module-level labels are marked with ``N_`` and translated where
  shown.
* The language of a request: the account's (``User.language``, set at ``/account``), else the
  browser's ``Accept-Language``, else ``zh_CN``. ``i18n_middleware`` fixes it for the request
  (a context variable, so handlers and templates read it without passing it around).
* Catalogs are ``ivr/web/locale/*/LC_MESSAGES/messages.po``, compiled to ``.mo`` and shipped
  with the package; a missing catalog stops the start (``ivr.edges.translations``).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from ivr.edges import translations as catalogs
from ivr.edges.translations import (
    DEFAULT_LOCALE,
    LANGUAGE_NAMES,
    LOCALES,
    Translations,
    known_locale,
)

HERE: Final = Path(__file__).resolve().parent
LOCALE_DIR: Final = HERE / "locale"
STATIC: Final = HERE / "static"

CATALOGS: web.AppKey[dict[str, Translations]] = web.AppKey("i18n_catalogs")
SCRIPT_MESSAGES: web.AppKey[list[str]] = web.AppKey("i18n_script_messages")
LOCALE: web.RequestKey[str] = web.RequestKey("i18n_locale")

_current: contextvars.ContextVar[tuple[str, Translations | None]] = contextvars.ContextVar(
    "ivr_web_locale", default=(DEFAULT_LOCALE, None))


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


def gettext(message: str, **values: Any) -> str:
    """``message`` in the request's language, ``%(name)s`` filled from ``values``."""
    translations = _current.get()[1]
    text = translations.ugettext(message) if translations is not None else message
    return text % values if values else text


_ = gettext


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    translations = _current.get()[1]
    text = (translations.ungettext(singular, plural, n) if translations is not None
            else (singular if n == 1 else plural))
    return text % {"num": n, **values}


def current_locale() -> str:
    """The request's language: ``zh_CN`` or ``en``."""
    return _current.get()[0]


def config_language() -> str:
    """The request's language as ``config/`` names it (``zh``, ``en``)."""
    return current_locale().split("_")[0]


def name_in_language(names: Mapping[str, str], fallback: str) -> str:
    """A configured thing's name (``names: {zh: ..., en: ...}``) in the request's language,
    else its Chinese name, else ``fallback`` (its id)."""
    return names.get(config_language()) or names.get("zh") or fallback


def use_locale(app: web.Application, locale: str) -> contextvars.Token[Any]:
    """Make ``locale`` the current language (until the token is reset)."""
    return _current.set((locale, app[CATALOGS].get(locale)))


def choose_locale(account_language: str | None, accept_language: str | None) -> str:
    """The account's language, else the browser's, else zh_CN."""
    return (known_locale(account_language) or catalogs.negotiate(accept_language)
            or DEFAULT_LOCALE)


def script_catalog(app: web.Application) -> dict[str, str]:
    """The page scripts' messages in the request's language (for the page's JSON block)."""
    return {m: gettext(m) for m in app[SCRIPT_MESSAGES]}


_SKIPPED_PREFIXES: Final = ("/static/", "/healthz", "/metrics")


def make_middleware(
    user_language: Callable[[web.Request], Awaitable[str | None]],
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware fixing each request's language; ``user_language`` gives the logged-in
    account's stored choice (None: no session, or no choice made)."""

    @web.middleware
    async def i18n_middleware(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if request.path.startswith(_SKIPPED_PREFIXES):
            return await handler(request)
        locale = choose_locale(await user_language(request),
                               request.headers.get("Accept-Language"))
        request[LOCALE] = locale
        token = use_locale(request.app, locale)
        try:
            response = await handler(request)
        finally:
            _current.reset(token)
        response.headers.setdefault("Content-Language", locale.replace("_", "-"))
        return response

    return i18n_middleware


def setup(app: web.Application) -> None:
    """Room for the catalogs, filled at start (``load``)."""
    app[CATALOGS] = {}
    app[SCRIPT_MESSAGES] = []
    app.on_startup.append(load)


async def load(app: web.Application) -> None:
    """on_startup: read the compiled catalogs and the scripts' messages (off the loop)."""

    def read() -> tuple[dict[str, Translations], list[str]]:
        return (catalogs.load_catalogs(LOCALE_DIR),
                catalogs.script_messages(sorted(STATIC.glob("*.js"))))

    found, messages = await asyncio.to_thread(read)
    app[CATALOGS].update(found)
    app[SCRIPT_MESSAGES][:] = messages


def languages() -> list[tuple[str, str]]:
    """(locale, its own name) for the language menu."""
    return [(locale, LANGUAGE_NAMES[locale]) for locale in LOCALES]
