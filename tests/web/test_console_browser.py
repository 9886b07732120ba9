"""The operator console in a real headless Chromium: log in with skills, pause, the screen pop
appears as text within 2 s, the pre-filled case is saved and dispatched, transfer errors show."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from ivr.core.screen_pops import ScreenPop
from tests.web.conftest import WebHotline, WebUser, browser_login

OP = "op1001"  # Wang Fang: skills report, suggestion
TRANSCRIPT = '<b>water</b> leak "quoted" <script>alert(1)</script>'


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Browser tests run on SQLite only; the console's HTTP tests cover both backends."""
    return f"sqlite:///{tmp_path / 'web.sqlite3'}"


async def open_console(page: Page, live_url: str, web_user: WebUser) -> None:
    username, password = await web_user("operator", OP)
    await browser_login(page, live_url, username, password, "/console")
    await expect(page).to_have_url(f"{live_url}/console")
    await expect(page.locator("#link")).to_have_attribute("data-up", "1")


async def test_screen_pop_shows_the_callers_words_as_text_and_saves_a_case(
    page: Page, live_url: str, web_user: WebUser, hotline: WebHotline
) -> None:
    """The pop appears within 2 s, markup in the transcript stays text, Save stores the case,
    Dispatch sends it to the department."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await open_console(page, live_url, web_user)
    hotline.screen_pops.publish(ScreenPop(
        "call-42", OP, caller="13800138000", caller_name="Zhao", language="zh",
        queue="report", skill="report", transcript=TRANSCRIPT, intent="water",
        category="water", urgency="normal", route_reasons=("repeat caller", "skill report"),
        queue_outcome=("report (the report queue): skipped op1005 (paused)", "report: rang op1002"),
        previous_cases=({"number": "6001000013", "category": "noise", "status": "resolved",
                         "created_at": "2026-01-01T09:00:00+08:00"},),
        at="2026-01-02T10:00:00+08:00",
    ))
    await expect(page.locator("#pop-transcript")).to_have_text(TRANSCRIPT, timeout=2000)
    assert await page.locator("#pop-transcript b").count() == 0
    assert await page.locator("#pop script").count() == 0
    await expect(page.locator("#pop-caller")).to_have_text("13800138000")
    await expect(page.locator("#pop-language")).to_have_text("Mandarin")  # an English browser
    await expect(page.locator("#pop-category")).to_contain_text("water")
    await expect(page.locator("#pop-reasons li")).to_have_text(["repeat caller", "skill report"])
    await expect(page.locator("#pop-queue-outcome li")).to_have_text(
        ["report (the report queue): skipped op1005 (paused)", "report: rang op1002"])
    await expect(page.locator("#pop-cases tbody tr td").first).to_have_text("6001000013")
    await expect(page.locator("#pop-cases tbody tr")).to_contain_text("Resolved")

    await expect(page.locator("#case-caller")).to_have_value("13800138000")
    await expect(page.locator("#case-category")).to_have_value("water")
    await expect(page.locator("#case-description")).to_have_value(TRANSCRIPT)
    # The suggested department: "water" is a word of Urban Management's.
    await expect(page.locator("#case-department")).to_have_value("urban")
    await expect(page.locator("#case-suggestion-reasons")).to_contain_text(
        "the caller said water")
    await page.click("#case-save")
    number = page.locator("#case-number")
    await expect(number).to_have_text(re.compile(r"^\d{10}$"))
    case = await hotline.store.cases.get(await number.inner_text())
    assert case is not None
    assert (case.description, case.caller, case.call_id) == (
        TRANSCRIPT, "13800138000", "call-42")

    await page.select_option("#case-department", "housing")  # the operator changes it
    await page.click("#case-dispatch")
    await expect(number).to_contain_text(
        "dispatched to Housing and Urban-Rural Development Commission")
    dispatched = await hotline.store.cases.get(case.number)
    assert dispatched is not None
    assert (dispatched.status, dispatched.department) == ("dispatched", "housing")
    assert (dispatched.suggested_department, dispatched.suggestion_kept) == ("urban", 0)
    assert dispatched.dispatched_at is not None
    assert dialogs == []


async def test_console_opened_mid_call_shows_the_current_pop(
    page: Page, live_url: str, web_user: WebUser, hotline: WebHotline
) -> None:
    """A console (re)loaded during a call still shows who is on the line."""
    hotline.screen_pops.publish(ScreenPop("call-7", OP, caller="13900000007",
                                          skill="suggestion", transcript="no heating"))
    await open_console(page, live_url, web_user)
    await expect(page.locator("#pop-caller")).to_have_text("13900000007")
    await expect(page.locator("#case-description")).to_have_value("no heating")
    await expect(page.locator("#case-category")).to_have_value("suggestion")
    # "heating" is Urban Management's word: it outweighs the catch-all category.
    await expect(page.locator("#case-department")).to_have_value("urban")


async def test_same_call_popped_again_keeps_the_operators_edits(
    page: Page, live_url: str, web_user: WebUser, hotline: WebHotline
) -> None:
    """The pop repeated when the call is answered does not wipe the case being written; when
    the call ends the pop stays with a note; the next call gets a fresh form."""
    await open_console(page, live_url, web_user)
    ringing = ScreenPop("call-1", OP, caller="13900000001", skill="report",
                        transcript="bus late")
    hotline.screen_pops.publish(ringing)
    await expect(page.locator("#case-description")).to_have_value("bus late")
    await page.fill("#case-description", "bus 52 late every morning")
    hotline.screen_pops.publish(dataclasses.replace(ringing, urgency="elderly"))
    await expect(page.locator("#pop-urgency")).to_have_text("elderly caller")
    await expect(page.locator("#case-description")).to_have_value("bus 52 late every morning")
    hotline.screen_pops.clear(OP, "call-1")
    await expect(page.locator("#pop-ended")).to_be_visible(timeout=7000)
    await expect(page.locator("#pop-caller")).to_have_text("13900000001")
    hotline.screen_pops.publish(ScreenPop("call-2", OP, caller="13900000002",
                                          transcript="noise at night"))
    await expect(page.locator("#pop-ended")).to_be_hidden()
    await expect(page.locator("#case-description")).to_have_value("noise at night")
    await expect(page.locator("#case-caller")).to_have_value("13900000002")


async def test_operator_logs_in_with_chosen_skills_pauses_and_comes_back(
    page: Page, live_url: str, web_user: WebUser, hotline: WebHotline
) -> None:
    """Log in with one skill ticked, pause for a meal, become available, log out."""
    await open_console(page, live_url, web_user)
    state = page.locator("#state")
    await expect(state).to_have_text("Logged out")
    await page.uncheck('#login-form input[value="suggestion"]')
    await page.click("#login")
    await expect(state).to_have_text("Available")
    assert hotline.operators.state[OP].queues == ("report",)
    await page.select_option("#pause-reason", "meal")
    await page.click("#pause")
    await expect(state).to_have_text("Paused")
    await expect(page.locator("#state-reason")).to_have_text("(Meal)")
    await page.click("#unpause")
    await expect(state).to_have_text("Available")
    await page.click("#logout")
    await expect(state).to_have_text("Logged out")
    assert [a for a, _ in hotline.operators.actions] == ["login", "pause", "unpause", "logout"]


async def test_transfer_shows_why_it_failed_and_when_it_worked(
    page: Page, live_url: str, web_user: WebUser, hotline: WebHotline
) -> None:
    """Without a call the error is shown; during one, the caller is transferred."""
    await open_console(page, live_url, web_user)
    await page.fill("#transfer-target", "88001")
    await page.click("#transfer")
    await expect(page.locator("#transfer-error")).to_contain_text("no call")
    await hotline.operators.login(OP)
    hotline.operators.state[OP] = dataclasses.replace(hotline.operators.state[OP], in_call=True)
    await page.click("#transfer")
    await expect(page.locator("#transfer-result")).to_have_text("Transferred to 88001")
    await expect(page.locator("#transfer-error")).to_have_text("")
    assert hotline.transfers == [(OP, "88001")]
