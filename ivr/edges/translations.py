"""Babel behind one module: the compiled message catalogs, the browser's languages, and dates
and times written for a reader in the hotline's time zone.

The web's catalogs are GNU gettext files under ``ivr/web/locale/<locale>/LC_MESSAGES/``:
``messages.po`` (what translators edit) and ``messages.mo`` (compiled by ``pybabel compile``,
shipped with the package). ``LOCALES`` lists the languages the hotline speaks, the first being
the one used when nothing else matches (the centre's operators read Chinese).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.messages.extract import extract_from_file
from babel.support import NullTranslations, Translations

from ivr.errors import CatalogMissing

LOCALES: Final = ("zh_CN", "en")
DEFAULT_LOCALE: Final = LOCALES[0]
DOMAIN: Final = "messages"
__all__ = ["Translations"]  # a language's catalog, as the web looks messages up in it
LANGUAGE_NAMES: Final = {"zh_CN": "简体中文", "en": "English"}
"""Each language in its own words (the language menu shows these, never translated)."""


def load_catalogs(directory: Path) -> dict[str, Translations]:
    """Each of ``LOCALES``' compiled catalog under ``directory`` (blocking: file reads)."""
    found: dict[str, Translations] = {}
    for locale in LOCALES:
        mo = directory / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if not mo.is_file():
            raise CatalogMissing(f"{mo}: the compiled {locale} catalog is missing; "
                                 "run `make catalogs` (pybabel compile) or reinstall")
        translations = Translations.load(str(directory), [locale], DOMAIN)
        if isinstance(translations, NullTranslations) and not isinstance(
                translations, Translations):
            raise CatalogMissing(f"{mo}: not a readable catalog")
        found[locale] = translations
    return found


def known_locale(value: str | None) -> str | None:
    """``value`` if it is one of ``LOCALES`` (``zh-CN`` is read as ``zh_CN``), else None."""
    if not value:
        return None
    value = value.strip().replace("-", "_")
    for locale in LOCALES:
        if value.lower() == locale.lower():
            return locale
    return None


def negotiate(accept_language: str | None) -> str | None:
    """The first of ``LOCALES`` the browser's ``Accept-Language`` asks for, by its weights
    (``zh-TW`` or plain ``zh`` reads Chinese, ``en-GB`` English); None when none matches."""
    if not accept_language:
        return None
    weighted: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept_language.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, order, tag.strip()))
    for _, _, tag in sorted(weighted):
        try:
            language = Locale.parse(tag, sep="-").language
        except (ValueError, UnknownLocaleError):
            continue
        for locale in LOCALES:
            if locale.split("_")[0] == language:
                return locale
    return None


def local_time(value: str | datetime | None, timezone: str, locale: str,
               pattern: str = "yyyy-MM-dd HH:mm") -> str:
    """``value`` (ISO 8601 text or a datetime; naive ones are taken as UTC) as the hotline's
    clock in ``timezone`` reads it; "" for nothing, the text itself if it is not a time."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return format_datetime(moment, pattern, tzinfo=ZoneInfo(timezone), locale=locale)


def script_messages(files: Iterable[Path], keyword: str = "t") -> list[str]:
    """The messages the page scripts in ``files`` ask for (``t("...")`` calls), as Babel's
    JavaScript extractor finds them (blocking: file reads)."""
    found: set[str] = set()
    for path in files:
        for _, message, _, _ in extract_from_file(
                "javascript", str(path), keywords={keyword: None}):
            if isinstance(message, str):
                found.add(message)
    return sorted(found)
