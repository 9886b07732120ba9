"""The web's message catalogs: every message the pages, scripts and handlers use is in the
zh_CN catalog with a translation and in the en catalog, and the compiled ``.mo`` files the
package ships say what the ``.po`` files say (``make catalogs`` was run).

The messages are extracted the way ``make catalogs`` extracts them (Babel, with the
repository's ``babel.cfg``), so a string wrapped in ``_()``/``t()`` but not yet in the catalog
fails here, naming it.
"""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from ivr.edges.translations import LOCALES, script_messages
from ivr.web.i18n import LOCALE_DIR, STATIC

REPO = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "t": None}


def extracted() -> set[str]:
    with (REPO / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(REPO), method_map, options_map, keywords=KEYWORDS):
        found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def catalog(locale: str) -> dict[str, str]:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        read = read_po(po, locale=locale)
    assert not [m.id for m in read if m.id and m.fuzzy], f"{locale}: fuzzy entries"
    return {m.id: m.string for m in read if m.id and isinstance(m.id, str)
            and isinstance(m.string, str)}


def test_the_extraction_finds_the_pages_words() -> None:
    """The extraction itself works (else the checks below would pass on nothing)."""
    found = extracted()
    assert {"Log in", "No call right now.", "Case deadlines (departments)",
            "Your session ended: log in again.", "Wrong username or password."} <= found
    assert len(found) > 250


def test_every_message_is_in_both_catalogs_and_translated_to_chinese() -> None:
    found = extracted()
    zh, en = catalog("zh_CN"), catalog("en")
    assert sorted(found - set(zh)) == [], "not in the zh_CN catalog: run `make catalogs`"
    assert sorted(m for m in found if not zh[m].strip()) == [], "zh_CN: no translation"
    assert sorted(found - set(en)) == [], "not in the en catalog: run `make catalogs`"


def test_placeholders_survive_translation() -> None:
    """A translation keeps every %(name)s of its message (else rendering it raises)."""
    import re  # noqa: PLC0415

    zh = catalog("zh_CN")
    wrong = {m: s for m, s in zh.items() if s and
             sorted(re.findall(r"%\(\w+\)[sr]", m)) != sorted(re.findall(r"%\(\w+\)[sr]", s))}
    assert wrong == {}


@pytest.mark.parametrize("locale", LOCALES)
def test_the_compiled_catalogs_match_the_sources(locale: str) -> None:
    po = {m: s for m, s in catalog(locale).items() if s}
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    shipped = {k: v for k, v in compiled._catalog.items() if k}  # type: ignore[attr-defined]
    assert shipped == po, "the .mo is stale: run `make catalogs`"


def test_the_page_scripts_messages_are_found() -> None:
    """What the pages hand their scripts (``script_messages``) covers console.js's words."""
    messages = script_messages(sorted(STATIC.glob("*.js")))
    assert "Your session ended: log in again." in messages
    assert "%(case)s - dispatched to %(department)s" in messages
