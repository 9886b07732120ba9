"""One case round the whole loop, in a real Chromium on the real test bed: a citizen's call
pops on the operator's console, the operator files and dispatches the case, the street's
account accepts, replies and resolves it, the return visit is a real call a SIPp citizen
answers and keys, the case shows the evaluation, and the three-rates report counts it."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from ivr.accounts.service import create_account
from ivr.app import Hotline
from ivr.core.settings import Settings, VisitSettings
from ivr.testbed.sipp import (
    AnsweringCitizen,
    AwaitHangUp,
    OperatorPhone,
    Phones,
    Press,
    Step,
    Wait,
)
from tests.web.conftest import CHROMIUM_ARGS

from .conftest import answered_by, wait_until_free

pytestmark = pytest.mark.asterisk
STREET = "boxing"  # no other end-to-end test sends cases there: its figures are this case's


async def log_in(page: Page, base: str, username: str, password: str, landing: str) -> None:
    await page.goto(f"{base}/login?next={landing}")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(re.escape(landing)))


async def log_out(page: Page) -> None:
    await page.click(".who form button[type=submit]")
    await page.wait_for_url(re.compile(r"/login"))


async def test_one_case_round_the_whole_loop_in_the_browser(
    cfg: Settings, phones: Phones, operators: dict[str, OperatorPhone], tmp_path: Path,
) -> None:
    line = Hotline(cfg)
    await line.start()
    citizen_phone = AnsweringCitizen(phones, 5098, [
        Wait(2.0), Press("1"), Wait(2.5), Press("1"), AwaitHangUp(30)])
    try:
        await line.ami.wait_connected(10)
        line.visits.reconfigure(dataclasses.replace(
            line.settings, visits=VisitSettings(window_start=0, window_end=24 * 60)))
        stamp = f"{datetime.now(UTC):%H%M%S%f}"
        accounts: dict[str, tuple[str, str]] = {}
        for role, operator_id, department in (("operator", "op1005", None),
                                              ("department", None, STREET),
                                              ("supervisor", None, None)):
            name = f"{role}-{stamp}"
            _, password = await create_account(line.store.users, name, role,
                                               operator_id=operator_id, department=department)
            accounts[role] = (name, password)
        base = f"http://{cfg.web_host}:{cfg.web_port}"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path="/usr/bin/chromium",
                args=CHROMIUM_ARGS, headless=False,
            )
            try:
                page = browser.pages[0] if browser.pages else await browser.new_page()
                page.set_default_timeout(20_000)

                # 1. The operator's console pops the call; the case is filed and dispatched.
                await log_in(page, base, *accounts["operator"], "/console")
                await page.wait_for_selector("#link[data-up='1']")
                await wait_until_free(line.ami, "PJSIP/op1005")
                caller = "13888000401"
                # Mandarin, report, environment; after the operator, 5 in the survey.
                steps: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("1"), Wait(1.5),
                                     Press("1"), Wait(4.5), Press("5"), AwaitHangUp(40)]
                assert (await phones.call(steps, caller=caller)).ok
                assert answered_by(operators, caller) == ["op1005"]
                await page.wait_for_selector("#pop-details:not([hidden])")
                assert await page.text_content("#pop-caller") == caller
                await page.fill("#case-description", "夜间工地噪音 night-time building noise")
                await page.click("#case-save")
                number_text = page.locator("#case-number")
                await expect(number_text).to_have_text(re.compile(r"^\s*\d{10}\s*$"))
                number = (await number_text.text_content() or "").strip()
                await page.select_option("#case-department", STREET)
                await page.click("#case-dispatch")
                await expect(number_text).to_contain_text("Boxing Subdistrict")  # English browser
                await log_out(page)

                # 2. The street's account accepts it, replies and resolves it.
                await citizen_phone.start()
                await log_in(page, base, *accounts["department"], "/department")
                await page.click(f"#queue a[href='/department/cases/{number}']")
                await page.click("#form-accept button")
                await expect(page.locator("#case-status")).to_have_attribute(
                    "data-status", "in_progress")
                await page.fill("#form-resolve textarea", "已责令夜间停工 works stopped at night")
                await page.click("#form-resolve button")
                await expect(page.locator("#case-status")).to_have_attribute(
                    "data-status", "resolved")
                await log_out(page)

                # 3. The return visit: a real call; the citizen keys 1 (resolved), 1
                # (satisfied).
                for _ in range(100):
                    case = await line.store.cases.get(number)
                    assert case is not None
                    if case.visit_status == "done":
                        break
                    await line.visits.check()
                    await asyncio.sleep(0.5)
                assert await citizen_phone.finished(30)
                assert citizen_phone.called() == [caller]

                # 4. The supervisor sees the evaluation and the rates count it.
                await log_in(page, base, *accounts["supervisor"], "/wallboard")
                await page.goto(f"{base}/cases/{number}")
                await expect(page.locator("#case-visit")).to_have_attribute("data-visit", "done")
                await expect(page.locator("#case-satisfaction")).to_have_text("Satisfied")
                await expect(page.locator("#case-status")).to_have_attribute(
                    "data-status", "closed")
                await page.goto(f"{base}/reports/departments")
                row = page.locator("#rates-street tr", has_text="Boxing Subdistrict")
                cells = await row.locator("td").all_text_contents()
                # rank, name, dispatched, on time, response %, resolved, overdue, visits,
                # unreachable, resolved by citizen, resolution %, satisfied, basically,
                # dissatisfied, satisfaction %
                assert cells[2:] == ["1", "1", "100.0", "1", "0", "1", "0", "1", "100.0", "1",
                                     "0", "0", "100.0"], cells
            finally:
                await browser.close()
        history = [e.action for e in await line.store.cases.history(number)]
        assert history[0] == "create"
        assert history[-4:] == ["dispatch", "accept", "resolve", "visit"]
    finally:
        await citizen_phone.stop()
        await line.stop()
