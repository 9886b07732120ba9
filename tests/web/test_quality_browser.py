"""A supervisor reviews a call in real Chromium, in Chinese: finds it by operator and survey
score, plays its recording (audited), reads what the caller said and why it was routed,
scores it against the checklist and sees the score in the report per operator."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from ivr.core.settings import Settings
from tests.web.conftest import WebHotline, WebUser, browser_login
from tests.web.test_i18n import identifiers, untranslated
from tests.web.test_quality import DAY, answered, local

WAV = b"RIFF" + b"\0" * 16_040
# The caller's words and the routing's own trace are shown as recorded.
DATA = ("#call-transcript", "#call-reasons")


async def english_left(page: Page, known: frozenset[str]) -> list[str]:
    """Words of the page (its data left out) that are not Chinese."""
    for selector in DATA:
        await page.evaluate("(s) => document.querySelectorAll(s).forEach("
                            "(e) => { e.textContent = ''; })", selector)
    return untranslated(await page.content(), "zh_CN", known)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'web.sqlite3'}"


async def test_a_supervisor_finds_reviews_and_reports_a_call_in_chinese(
    page: Page, live_url: str, web_user: WebUser, hotline: WebHotline, settings: Settings,
) -> None:
    store = hotline.store
    await answered(store, "poor", "op1002", local(DAY, "09:30"), survey=1, talk=240,
                   transcript="小区门口的路灯坏了一个月")
    await answered(store, "other", "op1001", local(DAY, "09:40"), survey=1)
    await answered(store, "happy", "op1002", local(DAY, "10:00"), survey=5)
    await store.calls.set_recording("poor", "poor.wav", "ok")
    (hotline.recordings_dir / "poor.wav").write_bytes(WAV)
    username, password = await web_user("supervisor")
    await store.users.update(username, language="zh_CN")

    await browser_login(page, live_url, username, password, "/reports")
    await page.click("nav.mainnav a[href='/quality']")
    await expect(page.locator("h1")).to_have_text("质检")
    await page.fill("input[name=from]", DAY)
    await page.fill("input[name=to]", DAY)
    await page.select_option("select[name=operator]", "op1002")
    await page.fill("input[name=survey_max]", "2")
    await page.click("#quality-search button[type=submit]")
    rows = page.locator("#quality-calls tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-call", "poor")
    await expect(rows.first.locator(".score")).to_have_text("未质检")
    known = identifiers(settings, username) | {"poor", "other", "happy"}
    assert await english_left(page, known) == []

    await rows.first.locator("a").click()
    await expect(page.locator("#call-transcript")).to_have_text("小区门口的路灯坏了一个月")
    await expect(page.locator("#call")).to_contain_text("intent report (score 0.91)")
    await expect(page.locator("#call-audio")).to_be_attached()
    played = await page.evaluate("""async () => {
        const r = await fetch(document.querySelector('#call-audio').src);
        return r.status; }""")
    assert played == 200
    assert any(e.action == "recording_played" and e.target == "poor"
               for e in await store.audit.latest(20))
    await expect(page.locator("#checklist label[for=mark-greeting]")).to_have_text(
        "规范问候并报工号")
    assert await english_left(page, known) == []
    await page.reload()
    await page.fill("#mark-closing", "0")
    await page.fill("#mark-accurate", "10")
    await page.fill("#review-comment", "未使用规范结束语")
    await page.click("#review-save")
    await expect(page.locator("#review-saved")).to_contain_text("评分已保存：80.0 %")
    review = await store.reviews.get("poor")
    assert review is not None
    assert (review.percent, review.reviewer, review.comment) == (80.0, username, "未使用规范结束语")

    await page.goto(f"{live_url}/quality?from={DAY}&to={DAY}&reviewed=yes")
    await expect(page.locator("#quality-calls tbody tr")).to_have_count(1)
    await expect(page.locator("#quality-calls tbody tr .score")).to_have_text("80.0 %")

    await page.goto(f"{live_url}/reports?from={DAY}&to={DAY}&period=day")
    row = page.locator("#quality tr[data-operator=op1002]")
    await expect(row.locator(".score")).to_have_text("80.0 %")
    await expect(row).to_contain_text("政策解答准确, 规范结束语 (100 %)")
    await expect(page.locator("#quality tr[data-operator=op1001]")).to_contain_text("–")
    assert await english_left(page, known) == []
