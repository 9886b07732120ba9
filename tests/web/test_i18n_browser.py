"""An operator's whole call in real Chromium, in the language of their account: log in, the
screen pop, the case saved and dispatched, the case's page. Once in Chinese (zh_CN) and once
in English; on every screen, after the scripts filled it in, no word of the other language
(``tests.web.test_i18n.untranslated``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from ivr.core.routing import FALLBACK_REASON, OperatorState, QueueOutcome
from ivr.core.screen_pops import ScreenPop
from ivr.core.settings import Settings
from tests.web.conftest import WebHotline, WebUser, browser_login
from tests.web.test_i18n import identifiers, untranslated

OP = "op1001"
# What the caller said is the caller's words, shown as they are. Why the call was routed and
# what the queue did are in the operator's language like the rest.
DATA = ("#pop-transcript", "#pop-words", "#case-description")
WORDS = {
    "zh_CN": {"transcript": "路灯坏了", "empty": "当前没有来电。", "saved": "工单：",
              "dispatched": "已派单至 城市管理委员会", "state": "已签出", "status": "已派单",
              "reason": "兜底：应用未对此来电分配路由", "skipped": "跳过 op1002（暂停）"},
    "en": {"transcript": "the street light is broken", "empty": "No call right now.",
           "saved": "Case:", "dispatched": "dispatched to Urban Management Commission",
           "state": "Logged out", "status": "Dispatched",
           "reason": "fallback: the application did not route",
           "skipped": "skipped op1002 (paused)"},
}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'web.sqlite3'}"


async def shown(page: Page) -> str:
    """The page as the browser has it now, without the caller's data."""
    for selector in DATA:
        await page.evaluate("(s) => document.querySelectorAll(s).forEach("
                            "(e) => { e.dataset.kept = e.textContent; e.textContent = ''; })",
                            selector)
    html = await page.content()
    for selector in DATA:
        await page.evaluate("(s) => document.querySelectorAll(s).forEach("
                            "(e) => { e.textContent = e.dataset.kept; })", selector)
    return html


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_an_operator_takes_a_call_in_their_language(
    page: Page, live_url: str, web_user: WebUser, hotline: WebHotline, settings: Settings,
    locale: str,
) -> None:
    words = WORDS[locale]
    username, password = await web_user("operator", OP)
    await hotline.store.users.update(username, language=locale)
    known = identifiers(settings, username)
    html_lang = f'<html lang="{locale.replace("_", "-")}">'

    await browser_login(page, live_url, username, password, "/console")
    await expect(page).to_have_url(f"{live_url}/console")
    await expect(page.locator("#link")).to_have_attribute("data-up", "1")
    await expect(page.locator("#state")).to_have_text(words["state"])
    await expect(page.locator("#pop-empty")).to_have_text(words["empty"])
    html = await shown(page)
    assert html_lang in html
    assert untranslated(html, locale, known) == []

    queue = QueueOutcome("hotline")
    queue.rung("report", OP, {"op1002": OperatorState.PAUSED})
    hotline.screen_pops.publish(ScreenPop(
        "call-7", OP, caller="13800138000", caller_name="", language="zh", queue="report",
        skill="report", transcript=words["transcript"], intent="", category="urban",
        urgency="elderly", route_reasons=(FALLBACK_REASON,), queue_outcome=tuple(queue.lines),
        previous_cases=(), at="2026-01-02T10:00:00+08:00"))
    await expect(page.locator("#pop-transcript")).to_have_text(words["transcript"])
    await expect(page.locator("#pop-reasons")).to_contain_text(words["reason"])
    await expect(page.locator("#pop-queue-outcome")).to_contain_text(words["skipped"])
    assert untranslated(await shown(page), locale, known) == []

    await page.click("#case-save")
    number = page.locator("#case-number")
    await expect(number).to_have_text(re.compile(r"^\d{10}$"))
    case = await number.inner_text()
    await expect(page.locator("#case-result")).to_contain_text(words["saved"])
    await page.select_option("#case-department", "urban")
    await page.click("#case-dispatch")
    await expect(number).to_contain_text(words["dispatched"])
    assert untranslated(await shown(page), locale, known) == []

    await page.goto(f"{live_url}/cases/{case}")
    await expect(page.locator("#case-status")).to_have_text(words["status"])
    assert untranslated(await page.content(), locale, known) == []
