"""Admin pages in a real headless Chromium: flows are edited, validated, published."""

from __future__ import annotations

import asyncio
import re
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
    path = hotline.settings.flow_path
    file_before = await asyncio.to_thread(path.read_text, encoding="utf-8")
    text = await page.locator("#flow-text").input_value()
    assert text == file_before
    broken = text.replace("next: choose_language", "next: choose_langauge", 1)
    broken_line = broken.splitlines().index("    next: choose_langauge") + 1

    await page.fill("#flow-text", broken)
    await page.click("#validate")
    problem = page.locator("#problems li").first
    await expect(problem).to_contain_text("choose_langauge")
    await expect(problem.locator("button.line")).to_have_text(f"line {broken_line}")
    marked = page.locator("#gutter span.bad")
    await expect(marked.first).to_have_attribute("data-line", str(broken_line))
    await expect(marked.first).to_have_attribute("title", re.compile("choose_langauge"))
    await page.click("#publish")
    await expect(page.locator("#status")).to_contain_text("nothing was published")
    assert hotline.flows.current() == live_before
    assert await asyncio.to_thread(path.read_text, encoding="utf-8") == file_before

    fixed = text.replace('version: "2026-11-28.1"', 'version: "2026-11-28.2"', 1)
    await page.fill("#flow-text", fixed)
    await page.fill("#publish-note", "new version from the browser test")
    await page.click("#publish")
    await expect(page.locator("#status")).to_contain_text("Published version 2026-11-28.2")
    await expect(page.locator("#problems li")).to_have_count(0)
    await expect(page.locator("#gutter span.bad")).to_have_count(0)
    newest = page.locator("#versions tbody tr").first
    await expect(newest).to_contain_text("2026-11-28.2")
    await expect(newest).to_contain_text(username)
    await expect(newest).to_contain_text("live")
    assert hotline.flows.current().flow.version == "2026-11-28.2"
    assert await asyncio.to_thread(path.read_text, encoding="utf-8") == fixed


async def test_admin_sees_the_flow_as_a_graph_with_problems_and_a_simulated_path(
        page: Page, live_url: str, web_user, hotline):
    """The live flow is drawn; a broken edit marks its node red; a simulated call's path is
    highlighted node by node; clicking a node selects its lines in the editor."""
    username, password = await web_user("admin")
    await browser_login(page, live_url, username, password, "/admin/flows")
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    graph = page.locator("#flow-graph")
    await expect(graph.locator("g.flow-node")).to_have_count(
        len(hotline.flows.current().flow.nodes))
    await expect(graph.locator("g.flow-node.problem")).to_have_count(0)

    text = await page.locator("#flow-text").input_value()
    # main_menu's key 2 now goes nowhere, and nothing else leads to route_inquiry.
    broken = text.replace('"2": route_inquiry', '"2": route_inquiri', 1)
    await page.fill("#flow-text", broken)
    await page.click("#validate")
    marked = graph.locator("g.flow-node.problem")
    await expect(marked).to_have_count(2)
    assert sorted(await marked.evaluate_all("gs => gs.map(g => g.dataset.node)")) == [
        "main_menu", "route_inquiry"]
    tooltips = await marked.locator("a").evaluate_all(
        "as => as.map(a => a.getAttributeNS('http://www.w3.org/1999/xlink', 'title'))")
    assert any("route_inquiri" in t for t in tooltips), tooltips
    assert any("unreachable" in t for t in tooltips), tooltips

    await page.fill("#flow-text", text)
    await page.fill("#sim-digits", "12")
    await page.click("#simulate")
    await expect(page.locator("#sim-output")).to_contain_text("route_inquiry")
    on_path = graph.locator("g.flow-node.on-path")
    await expect(on_path).to_have_count(7)
    for node in ("greeting", "main_menu", "route_inquiry"):
        await expect(graph.locator(f"g.on-path[data-node='{node}']")).to_have_count(1)
    await expect(graph.locator("g.on-path[data-node='route_report']")).to_have_count(0)

    await graph.locator("g.flow-node[data-node='main_menu']").click()
    line = text.splitlines().index("  main_menu:") + 1
    await expect(page.locator("#cursor-line")).to_have_text(f"Line {line}")
    selected = await page.locator("#flow-text").evaluate(
        "t => t.value.slice(t.selectionStart, t.selectionEnd)")
    assert selected == "  main_menu:"


async def test_a_publish_whose_scenario_fails_is_refused_with_the_scenario_named(
        page: Page, live_url: str, web_user, hotline):
    """A valid flow that sends key 2 to the wrong queue fails the shipped scenarios: the
    publish is refused, the failing scenarios are listed by name, nothing goes live."""
    username, password = await web_user("admin")
    await browser_login(page, live_url, username, password, "/admin/flows")
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    live_before = hotline.flows.current()
    text = await page.locator("#flow-text").input_value()
    wrong = text.replace("skill: inquiry\n    priority: 5", "skill: suggestion\n    priority: 5", 1)
    assert wrong != text
    await page.fill("#flow-text", wrong)
    await page.click("#publish")
    failed = page.locator("#problems li.scenario")
    await expect(failed.first).to_contain_text("普通话咨询 Mandarin, inquiry")
    await expect(failed.first).to_contain_text("expected queue inquiry; got queue suggestion")
    await expect(failed.first.locator(".line")).to_contain_text("12345.scenarios.yaml:")
    assert hotline.flows.current() == live_before
    await expect(page.locator("#gutter span.bad")).to_have_count(0)


async def test_admin_creates_a_user_and_sees_the_password_once(
        page: Page, live_url: str, web_user, hotline):
    """The new user's generated password is shown on the page and logs in."""
    username, password = await web_user("admin")
    await browser_login(page, live_url, username, password, "/admin/users")
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    form = page.locator("#new-user")
    await form.locator("input[name=username]").fill("zhao.lei")
    await form.locator("select[name=role]").select_option("operator")
    await form.locator("select[name=operator_id]").select_option("op1003")
    await form.locator("button[type=submit]").click()
    secret = page.locator("#new-password")
    await expect(secret).to_contain_text("Password for zhao.lei (shown once): ")
    shown = (await secret.text_content()).rsplit(": ", 1)[1].strip()
    await expect(page.locator("#users tr[data-username='zhao.lei']")).to_contain_text("zhao.lei")
    user = await hotline.store.users.get("zhao.lei")
    assert user.operator_id == "op1003"

    await page.click("header form button[type=submit]")  # log out
    await expect(page).to_have_url(f"{live_url}/login")
    await browser_login(page, live_url, "zhao.lei", shown)
    await expect(page.locator("header .username")).to_have_text("zhao.lei")


async def test_config_page_shows_every_problem_publishes_diffs_and_rolls_back(
        page: Page, live_url: str, web_user, hotline):
    """Operators' YAML with two mistakes lists both and changes nothing; the corrected text
    is published as a version; the version before it shows its diff and, rolled back to, is
    live again (the editor shows it, the hotline runs it)."""
    username, password = await web_user("admin")
    await browser_login(page, live_url, username, password, "/admin/config")
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    await page.click(".config-tab[data-name=operators]")
    await expect(page.locator("#config-file")).to_have_text("operators.yaml")
    text = await page.locator("#config-text").input_value()
    await page.fill("#config-text", text.replace(
        "skills: {report: 5, suggestion: 3}", "skills: {report: 9, astrology: 3}", 1))
    await page.click("#config-save")
    await expect(page.locator("#status")).to_contain_text("nothing was changed")
    problems = page.locator("#config-problems li")
    await expect(problems).to_have_count(2)
    await expect(problems.filter(has_text="astrology")).to_have_count(1)
    assert hotline.reloads == 0

    versions = page.locator("#config-versions tbody tr")
    await expect(versions).to_have_count(1)
    await expect(versions.first).to_contain_text("as installed")
    assert len(await hotline.store.config_versions.of("operators")) == 1

    edited = text.replace("name: Wang Fang", "name: Wang Fang (day)", 1)
    await page.fill("#config-text", edited)
    await page.click("#config-diff")
    diff = page.locator("#config-diff-output")
    await expect(diff).to_contain_text("+    name: Wang Fang (day)")
    await page.fill("#config-note", "day shift name")
    await page.click("#config-save")
    await expect(page.locator("#status")).to_contain_text("Saved operators.yaml")
    await expect(problems).to_have_count(0)
    assert hotline.settings.operators["op1001"].name == "Wang Fang (day)"
    await expect(versions).to_have_count(2)
    newest, installed = versions.nth(0), versions.nth(1)
    await expect(newest).to_contain_text("day shift name")
    await expect(newest).to_contain_text(username)
    await expect(newest).to_contain_text("live")

    await installed.locator("button.diff").click()
    await expect(diff).to_contain_text("-    name: Wang Fang (day)")
    await expect(diff).to_contain_text("+    name: Wang Fang")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await installed.locator("button.rollback").click()
    await expect(page.locator("#status")).to_contain_text("Rolled back")
    await expect(versions).to_have_count(3)
    await expect(versions.first).to_contain_text("rollback to version #")
    await expect(versions.first).to_contain_text("live")
    assert await page.locator("#config-text").input_value() == text
    assert hotline.settings.operators["op1001"].name == "Wang Fang"
    path = hotline.config_dir / "operators.yaml"
    assert await asyncio.to_thread(path.read_text, encoding="utf-8") == text


async def test_supervisor_posts_and_withdraws_a_bulletin(
        page: Page, live_url: str, web_user, hotline):
    """A supervisor reaches Bulletins (not Flows), posts one and withdraws it."""
    username, password = await web_user("supervisor")
    await browser_login(page, live_url, username, password, "/admin/bulletins")
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    nav = page.locator("nav.mainnav")
    await expect(nav.locator("a[href='/admin/bulletins']")).to_have_count(1)
    await expect(nav.locator("a[href='/admin/flows']")).to_have_count(0)
    await page.fill("textarea[data-language=en]", "Water is off in Chaoyang until 18:00")
    await page.fill("input[name=expires_at]", "2099-01-01T18:00")
    await page.click("#new-bulletin button[type=submit]")
    await expect(page.locator("#status")).to_contain_text("posted")
    row = page.locator("#bulletins tbody tr").first
    await expect(row).to_contain_text("Water is off in Chaoyang until 18:00")
    await expect(row.locator(".state")).to_have_text("active")
    await row.locator("button", has_text="Withdraw").click()
    await expect(row.locator(".state")).to_have_text("withdrawn")
    assert await hotline.bulletins.active() is None


async def test_admin_simulates_a_call_and_rolls_back_a_version(
        page: Page, live_url: str, web_user, hotline):
    """Simulate shows where keys 1,1 lead; Roll back makes the earlier version live again."""
    text = await asyncio.to_thread(hotline.settings.flow_path.read_text, encoding="utf-8")
    await hotline.flows.publish_text(
        text.replace('version: "2026-11-28.1"', 'version: "2026-11-28.2"', 1), "ada", "v2")
    username, password = await web_user("admin")
    await browser_login(page, live_url, username, password, "/admin/flows")
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    await expect(page.locator("#live-info")).to_contain_text("2026-11-28.2")

    await page.fill("#sim-digits", "11")
    await page.click("#simulate")
    await expect(page.locator("#sim-output")).to_contain_text("decision: queue report")

    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    older = page.locator("#versions tbody tr", has_text="2026-11-28.1")
    await older.locator("button.rollback").click()
    await expect(page.locator("#status")).to_contain_text("Rolled back")
    await expect(page.locator("#live-info")).to_contain_text("2026-11-28.1")
    assert hotline.flows.current().flow.version == "2026-11-28.1"
    assert await page.locator("#flow-text").input_value() == text


async def test_admin_creates_a_department_account_that_lands_on_its_queue(
        page: Page, live_url: str, web_user, hotline):
    """A department account names its department; it signs in to its own work queue."""
    username, password = await web_user("admin")
    await browser_login(page, live_url, username, password, "/admin/users")
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    form = page.locator("#new-user")
    await form.locator("input[name=username]").fill("eco.liu")
    await form.locator("select[name=role]").select_option("department")
    await form.locator("select[name=department]").select_option("ecology")
    await form.locator("button[type=submit]").click()
    secret = page.locator("#new-password")
    await expect(secret).to_contain_text("Password for eco.liu (shown once): ")
    shown = (await secret.text_content()).rsplit(": ", 1)[1].strip()
    user = await hotline.store.users.get("eco.liu")
    assert (user.role, user.department) == ("department", "ecology")
    await page.click("header form button[type=submit]")  # log out
    await browser_login(page, live_url, "eco.liu", shown)
    await expect(page).to_have_url(f"{live_url}/department")
    # The browser asks for English and the new account has no language of its own.
    await expect(page.locator("h1")).to_contain_text("Ecology and Environment Bureau")
    await expect(page.locator("nav.mainnav a")).to_have_text(["Work queue"])
