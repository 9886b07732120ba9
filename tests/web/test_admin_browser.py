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
