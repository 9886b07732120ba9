"""Admin pages in a real headless Chromium: flows are edited, validated, published."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.web.conftest import browser_login


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The browser tests run on SQLite (the API tests cover PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'web.sqlite3'}"


async def test_operator_sees_no_admin_navigation_and_is_refused_admin_pages(
        page: Page, live_url: str, web_user):
    """An operator's nav has no admin links; /admin/flows answers 403."""
    username, password = await web_user("operator", "op1001")
    await browser_login(page, live_url, username, password)
    await expect(page.locator("header .username")).to_have_text(username)
    assert await page.locator("nav.mainnav a[href^='/admin']").count() == 0
    response = await page.goto(f"{live_url}/admin/flows")
    assert response is not None
    assert response.status == 403
    await expect(page.locator("#error-message")).to_contain_text("admin role")


async def test_admin_edits_flow_sees_problem_inline_then_publishes_the_fix(
        page: Page, live_url: str, web_user, hotline):
    """A broken edit shows its problem with its line and leaves the live flow alone; the fixed
    edit is published and heads the version list."""
    username, password = await web_user("admin")
    await browser_login(page, live_url, username, password, "/admin/flows")
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    live_before = hotline.flows.current()
    file_before = hotline.settings.flow_path.read_text(encoding="utf-8")
    text = await page.locator("#flow-text").input_value()
    assert text == file_before
    broken = text.replace("next: choose_language", "next: choose_langauge", 1)
    broken_line = broken.splitlines().index("    next: choose_langauge") + 1

    await page.fill("#flow-text", broken)
    await page.click("#validate")
    problem = page.locator("#problems li").first
    await expect(problem).to_contain_text("choose_langauge")
    await expect(problem.locator("button.line")).to_have_text(f"line {broken_line}")
    await page.click("#publish")
    await expect(page.locator("#status")).to_contain_text("nothing was published")
    assert hotline.flows.current() == live_before
    assert hotline.settings.flow_path.read_text(encoding="utf-8") == file_before

    fixed = text.replace('version: "2026-11-28.1"', 'version: "2026-11-28.2"', 1)
    await page.fill("#flow-text", fixed)
    await page.fill("#publish-note", "new version from the browser test")
    await page.click("#publish")
    await expect(page.locator("#status")).to_contain_text("Published version 2026-11-28.2")
    await expect(page.locator("#problems li")).to_have_count(0)
    newest = page.locator("#versions tbody tr").first
    await expect(newest).to_contain_text("2026-11-28.2")
    await expect(newest).to_contain_text(username)
    await expect(newest).to_contain_text("live")
    assert hotline.flows.current().flow.version == "2026-11-28.2"
    assert hotline.settings.flow_path.read_text(encoding="utf-8") == fixed
