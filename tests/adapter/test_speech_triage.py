"""`ivr speech triage`: recordings through the live speech decision, real Korean Vosk model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "speech"


def triage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ivr", "speech", "triage", *args], cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same phrase as 16-bit 8 kHz, as mu-law and at 16 kHz; noise; a file that is no WAV."""
    tmp = tmp_path_factory.mktemp("triage")
    source = FIXTURES / "상담원_연결.wav"
    ulaw, wide = tmp / "ulaw.wav", tmp / "wide.wav"
    subprocess.run(["sox", str(source), "-e", "u-law", str(ulaw)], check=True)
    subprocess.run(["sox", str(source), "-r", "16000", str(wide)], check=True)
    noise = tmp / "noise.wav"
    subprocess.run(["sox", "-R", "-n", "-r", "8000", "-c", "1", "-b", "16", str(noise),
                    "synth", "3", "brownnoise", "vol", "0.5"], check=True)
    broken = tmp / "broken.wav"
    broken.write_bytes(b"RIFF....not a wave file")
    return {"pcm": source, "ulaw": ulaw, "wide": wide, "noise": noise, "broken": broken}


def test_each_file_gives_one_json_line_with_the_decision(recordings: dict[str, Path]) -> None:
    """16-bit, mu-law and 16 kHz recordings of the same phrase are heard alike; noise goes to
    the key menu; every line names the file, transcript, skill, band and action."""
    files = [recordings[k] for k in ("pcm", "ulaw", "wide", "noise")]
    done = triage(*map(str, files), "--lang", "ko", "--json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(f) for f in files]
    for line in lines:
        assert {"file", "transcript", "skill", "band", "action", "words"} <= line.keys()
    speech = lines[:3]
    assert {s["transcript"] for s in speech} == {"상담원 연결"}
    assert {s["skill"] for s in speech} == {"hotline"}
    assert all(s["action"] in ("route", "confirm") for s in speech)
    assert lines[3]["action"] == "keys"


def test_a_bad_file_is_named_and_the_others_still_triaged(recordings: dict[str, Path]) -> None:
    done = triage(str(recordings["broken"]), str(recordings["pcm"]))
    assert done.returncode == 1
    assert f"{recordings['broken']}: cannot read" in done.stderr
    assert "heard '상담원 연결'" in done.stdout
    assert "band" in done.stdout


def test_a_language_without_a_model_is_refused_clearly(recordings: dict[str, Path]) -> None:
    done = triage(str(recordings["pcm"]), "--lang", "xx")
    assert done.returncode == 1
    assert "no speech model configured for language 'xx'" in done.stderr
