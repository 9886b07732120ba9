"""From the citizen's phone to the operator's screen and back, on the real test bed: a caller
describes the problem in their own words (real RTP speech, the real Korean Vosk model), the
call is routed to an operator whose console is open in a real headless Chromium, the screen pop
shows what the caller said, the operator saves the pre-filled case, and a citizen then finds
that case by its number from the phone menu."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from ivr.accounts.service import create_account
from ivr.app import Hotline
from ivr.core.settings import Settings
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import AwaitHangUp, HangUp, OperatorPhone, Phones, Press, Say, Step, Wait
from tests.web.conftest import CHROMIUM_ARGS

from .conftest import answered_by, finished_record, wait_until_free
from .test_menu import played
from .test_speech import CONFIRM_AFTER, PROMPT_SECONDS, korean_cfg, spoken

pytestmark = pytest.mark.asterisk
__all__ = ["korean_cfg"]  # a fixture, used below by name


async def test_spoken_problem_pops_on_the_console_and_its_case_is_found_by_phone(
    korean_cfg: Settings, cfg: Settings, sandbox: Sandbox, phones: Phones,
    operators: dict[str, OperatorPhone], tmp_path: Path,
) -> None:
    line = Hotline(korean_cfg)
    await line.start()
    try:
        await line.ami.wait_connected(10)
        username = f"console-{datetime.now(UTC):%H%M%S%f}"
        _, password = await create_account(line.store.users, username, "operator",
                                           operator_id="op1005")
        # The pages in English (whatever the browser asks for): names come from config/.
        await line.store.users.update(username, language="en")
        base = f"http://{cfg.web_host}:{cfg.web_port}"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path="/usr/bin/chromium",
                args=CHROMIUM_ARGS, headless=False,
            )
            try:
                page = browser.pages[0] if browser.pages else await browser.new_page()
                page.set_default_timeout(20_000)
                await page.goto(f"{base}/login?next=/console")
                await page.fill("input[name=username]", username)
                await page.fill("input[name=password]", password)
                await page.click("button[type=submit]")
                await page.wait_for_selector("#link[data-up='1']")

                await wait_until_free(line.ami, "PJSIP/op1005")
                wav, seconds = spoken(phones, "환경")
                caller = "13888000301"
                steps: list[Step] = [Wait(PROMPT_SECONDS + 0.5), Say(wav, seconds),
                                     Wait(CONFIRM_AFTER), Press("1"), AwaitHangUp(30)]
                assert (await phones.call(steps, caller=caller)).ok
                assert answered_by(operators, caller) == ["op1005"]

                await page.wait_for_selector("#pop-details:not([hidden])")
                assert await page.text_content("#pop-caller") == caller
                assert await page.text_content("#pop-transcript") == "환경"
                assert await page.text_content("#pop-queue") == (
                    korean_cfg.skills["environment"].names["en"])  # "Environment and noise"
                # Why the call is here: the words heard with their confidences, the band, and
                # that the caller confirmed.
                words = await page.text_content("#pop-words") or ""
                assert re.fullmatch(r"환경 [01]\.[0-9]{2}", words), words
                assert await page.text_content("#pop-speech") == (
                    "not sure: caller asked to confirm; caller confirmed")
                reasons = await page.locator("#pop-reasons li").all_text_contents()
                assert any("queue environment" in r for r in reasons), reasons
                assert await page.input_value("#case-caller") == caller
                assert "환경" in await page.input_value("#case-description")
                await page.click("#case-save")
                # (The pages' CSP forbids eval, so no wait_for_function with a string.)
                await expect(page.locator("#case-number")).to_have_text(
                    re.compile(r"^\s*[0-9]{10}\s*$"), timeout=20_000)
                number = (await page.text_content("#case-number") or "").strip()
            finally:
                await browser.close()
        call = await finished_record(line, caller)
        case = await line.store.cases.get(number)
        assert case is not None
        assert case.call_id == call.call_id
        assert case.caller == caller
    finally:
        await line.stop()

    # The citizen (any caller) keys the number in on the Mandarin line and hears its status.
    hotline = Hotline(cfg)
    await hotline.start()
    try:
        await hotline.ami.wait_connected(10)
        await wait_until_free(hotline.ami, "PJSIP/op1003")
        steps = [Wait(1.0), Press("1"), Wait(1.5), Press("3"), Wait(1.0), Press(number + "#"),
                 Wait(20.0), HangUp()]  # the number is read back first (~17 s)
        assert (await phones.call(steps, caller="13888000302")).ok
        record = await finished_record(hotline, "13888000302")
        assert record.variables["case_number"] == number
        sounds = played(sandbox, record.channel, "13888000302")
        assert "ivr/case-status-received" in sounds  # a new case reads back as "received"
    finally:
        await hotline.stop()

