"""Every page in the user's language: zh-CN first, English second, nothing left untranslated.

Each page of the console, casework, department, wallboard, reports and admin is rendered for
a user whose account says zh_CN and for one whose account says en; the visible text (text
nodes, titles, placeholders, labels, and the words the page hands its scripts) must hold no
English word in Chinese pages beyond ``ALLOWED`` and the hotline's own identifiers, and no
Chinese in English pages beyond the language menu. The language is the account's, else the
browser's ``Accept-Language``, else zh_CN.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from ivr.core.settings import Settings

# Words a Chinese page may show in Latin letters: abbreviations a Chinese operator reads as
# such, the brand and the language menu's own name for English.
ALLOWED = frozenset({"CSV", "XLSX", "Excel", "YAML", "IVR", "JSON", "CSRF", "ISO", "SIP",
                     "English", "WebSocket", "e.g", "zh_CN", "en", "Asterisk"})
VISIBLE_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "label")
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.'@-]*")


class _Visible(HTMLParser):
    """The text a person sees on a page (not scripts, styles or the contents of editors)."""

    SKIPPED = frozenset({"script", "style", "textarea"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.script_words: dict[str, str] = {}
        self._skip: list[str] = []
        self._json_block = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in self.SKIPPED:
            self._skip.append(tag)
            self._json_block = tag == "script" and values.get("id") == "i18n-messages"
        for name in VISIBLE_ATTRIBUTES:
            if values.get(name):
                self.parts.append(values[name] or "")
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(values["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()
            self._json_block = False

    def handle_data(self, data: str) -> None:
        if self._json_block:
            self.script_words.update(json.loads(data))
        elif not self._skip:
            self.parts.append(data)


def visible(html: str) -> tuple[str, dict[str, str]]:
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts), parser.script_words


def untranslated(html: str, locale: str, known: frozenset[str]) -> list[str]:
    """What on the page is not in ``locale``: English words on a zh_CN page (beyond ALLOWED
    and the hotline's identifiers ``known``), Chinese on an en page (beyond 简体中文)."""
    text, script_words = visible(html)
    if locale == "en":
        shown = [*text.replace("简体中文", "").split(), *script_words.values()]
        return [part for part in shown if CJK.search(part)]
    found = [w.strip(".'-") for w in WORD.findall(text)]
    wrong = [w for w in found if len(w) > 1 and w not in ALLOWED and w not in known]
    # A script's message left in English is as visible as the page's own words.
    wrong += [m for m, shown in script_words.items()
              if not CJK.search(shown) and shown.strip("%()s0123456789 -●○./:") != ""]
    return wrong


def identifiers(settings: Settings, *usernames: str) -> frozenset[str]:
    """Words a Chinese page shows as they are: ids and operators' names from config/, and
    the usernames of the accounts."""
    words = {*usernames, *settings.skills, *settings.departments}
    for operator in settings.operators.values():
        words.update([operator.id, *WORD.findall(operator.name)])
    return frozenset(words)


def test_the_check_finds_an_english_word_on_a_chinese_page() -> None:
    """The check can fail: an English-only label, title or script message is reported."""
    page = ('<html><head><title>工单</title></head><body><h1>工单</h1>'
            '<label>Caller <input placeholder="来电号码"></label>'
            '<button title="Save it">保存</button>'
            '<script type="application/json" id="i18n-messages">{"Logged out": "Logged out"}'
            '</script><script>var english = "ignored";</script>'
            '<textarea>caller data is not the page</textarea></body></html>')
    assert untranslated(page, "zh_CN", frozenset()) == ["Caller", "Save", "it", "Logged out"]
    assert untranslated(page.replace("工单", "Cases"), "en", frozenset()) == ["来电号码",
                                                                             "保存"]
    clean = '<html><body><h1>工单 CSV</h1><p>op1001 Li Wei</p></body></html>'
    assert untranslated(clean, "zh_CN", frozenset({"op1001", "Li", "Wei"})) == []


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    """The pages read the same on both databases; the language column is tested on both in
    ``test_language_is_stored_with_the_account``."""
    return f"sqlite:///{tmp_path / 'i18n.sqlite3'}"


async def _as(api_as: Any, locale: str, role: str, **kwargs: Any) -> Any:
    session = await api_as(role, **kwargs)
    resp = await session.put("/api/me/language", json={"language": locale})
    assert resp.status == 200, await resp.text()
    return session


PAGES = {
    "operator": ["/console", "/cases", "/cases/{case}", "/dispatch", "/account",
                 "/wallboard"],  # the last one: the 403 page
    "supervisor": ["/wallboard", "/supervision", "/reports", "/reports/departments",
                   "/admin/bulletins", "/cases/{case}"],
    "admin": ["/admin/flows", "/admin/config", "/admin/users", "/admin/audit"],
    "department": ["/department", "/department/cases/{case}"],
}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_every_page_is_in_the_users_language(api_as: Any, anonymous: Any,
                                                   settings: Settings, locale: str) -> None:
    operator = await _as(api_as, locale, "operator", operator_id="op1001")
    resp = await operator.post("/api/cases", json={"caller": "13800001111",
                                                   "category": "environment"})
    assert resp.status == 201, await resp.text()
    case = (await resp.json())["number"]
    resp = await operator.post(f"/api/cases/{case}/actions",
                               json={"action": "dispatch", "department": "ecology"})
    assert resp.status == 200, await resp.text()
    sessions = {"operator": operator,
                "supervisor": await _as(api_as, locale, "supervisor"),
                "admin": await _as(api_as, locale, "admin"),
                "department": await _as(api_as, locale, "department", department="ecology")}
    known = identifiers(settings, *(s.username for s in sessions.values()))
    problems: dict[str, list[str]] = {}
    for role, paths in PAGES.items():
        for path in paths:
            resp = await sessions[role].get(path.format(case=case))
            assert resp.status in (200, 403), (role, path, resp.status)
            html = await resp.text()
            assert f'<html lang="{locale.replace("_", "-")}">' in html, (role, path)
            if wrong := untranslated(html, locale, known):
                problems[f"{role} {path}"] = wrong
    resp = await anonymous.get("/login", headers={"Accept-Language": locale.replace("_", "-")})
    if wrong := untranslated(await resp.text(), locale, known):
        problems["/login"] = wrong
    assert problems == {}, json.dumps(problems, ensure_ascii=False)


@pytest.mark.parametrize(("header", "expected"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("en-GB,en;q=0.9", "en"),
    ("fr-FR, en;q=0.5, zh;q=0.4", "en"), ("fr-FR", "zh-CN"), ("", "zh-CN"),
    ("zh-TW", "zh-CN"), ("en;q=0, zh;q=0.1", "zh-CN"), ("en-US;q=0.5, fr;q=1", "en"),
])
async def test_a_logged_out_browser_gets_its_language(anonymous: Any, header: str,
                                                      expected: str) -> None:
    resp = await anonymous.get("/login", headers={"Accept-Language": header} if header else {})
    assert f'<html lang="{expected}">' in await resp.text()
    assert resp.headers["Content-Language"] == expected


async def test_api_errors_are_in_the_users_language(api_as: Any) -> None:
    """A JSON error's message (what the browser shows) is in the account's language."""
    zh = await _as(api_as, "zh_CN", "operator", operator_id="op1001")
    en = await _as(api_as, "en", "operator", operator_id="op1002")
    zh_body = await (await zh.get("/api/cases/0000000000")).json()
    en_body = await (await en.get("/api/cases/0000000000")).json()
    assert zh_body == {"error": "not_found", "message": "没有工单 0000000000。"}
    assert en_body == {"error": "not_found", "message": "No case 0000000000."}
    resp = await zh.post("/console/transfer", json={"target": "x"})
    assert (await resp.json())["message"] == "请输入要转接的部门号码（2 到 15 位数字）。"


async def test_names_and_times_come_from_configuration(api_as: Any, settings: Settings) -> None:
    """Skill, department and status names are config/'s in the user's language; times are
    on the hotline's clock (``timezone``), not UTC."""
    zh = await _as(api_as, "zh_CN", "operator", operator_id="op1001")
    en = await _as(api_as, "en", "operator", operator_id="op1002")
    resp = await zh.post("/api/cases", json={"caller": "13800001111", "category": "traffic"})
    number = (await resp.json())["number"]
    await zh.post(f"/api/cases/{number}/actions",
                  json={"action": "dispatch", "department": "transport"})
    zh_page = await (await zh.get(f"/cases/{number}")).text()
    assert "交通出行" in zh_page
    assert "已派单" in zh_page
    assert settings.departments["transport"].name("zh") in zh_page
    resp = await en.post("/api/cases", json={"caller": "13800002222", "category": "traffic"})
    number = (await resp.json())["number"]
    en_page = await (await en.get(f"/cases/{number}")).text()
    assert "Traffic" in en_page
    assert ">New<" in en_page
    created = (await (await en.get(f"/api/cases/{number}")).json())["created_at"]
    assert created[:16].replace("T", " ") in en_page  # local time, as the case has it
