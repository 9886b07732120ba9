"""Prompt audio: speech synthesis (espeak-ng, run as a program) and conversion, the only
module that imports pydub (and so ffmpeg/audioop).

Blocking by nature: callers on the event loop run these through ``asyncio.to_thread``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
import wave
from pathlib import Path

from ivr.errors import AudioError

with warnings.catch_warnings():
    # pydub imports audioop, deprecated (not removed) in Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

TELEPHONY_RATE = 8000
# espeak-ng voice per language code used in flows.
VOICES = {"zh": "cmn", "en": "en-us", "ko": "ko"}


def to_telephony_wav(source: Path, target: Path) -> float:
    """Convert any WAV to 8 kHz mono 16-bit WAV (what Asterisk plays natively).

    Returns the duration in seconds.
    """
    try:
        # pydub leaves files it opened itself open: hand it our own file objects.
        with source.open("rb") as raw:
            audio = AudioSegment.from_wav(raw)
        audio = audio.set_frame_rate(TELEPHONY_RATE).set_channels(1).set_sample_width(2)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            audio.export(out, format="wav")
    except (CouldntDecodeError, OSError, ValueError) as exc:
        raise AudioError(f"cannot convert {source} to telephony WAV: {exc}") from exc
    return len(audio) / 1000.0


def speak(text: str, language: str, target: Path) -> None:
    """espeak-ng -> 8 kHz WAV at ``target``."""
    voice = VOICES.get(language)
    if voice is None:
        raise AudioError(f"no espeak-ng voice configured for language {language!r}")
    if shutil.which("espeak-ng") is None:
        raise AudioError("espeak-ng is not installed: `apt-get install espeak-ng`")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        # Text goes through stdin, never through a shell or an argument that could be an option.
        done = subprocess.run(
            ["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), "--stdin"],
            input=text.encode("utf-8"), capture_output=True, check=False, timeout=60,
        )
        if done.returncode != 0 or not raw.exists():
            raise AudioError(f"espeak-ng failed for {language}: {done.stderr.decode()[:200]}")
        to_telephony_wav(raw, target)


def duration_seconds(path: Path) -> float:
    """How long a WAV file plays (blocking: a header read)."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate() or 1)
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioError(f"cannot read the length of {path.name}: {exc}") from exc


def read_telephony_pcm(path: Path) -> bytes:
    """A recording as 8 kHz mono 16-bit PCM (what AudioSocket carries); blocking.

    8 kHz mono 16-bit WAV is read as it is; mu-law or A-law WAV, other rates, widths and
    channel counts are converted (pydub, ffmpeg for what Python's own reader does not know).
    Anything unreadable is an ``AudioError`` naming the file.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (
                TELEPHONY_RATE, 1, 2
            ):
                return wav.readframes(wav.getnframes())
    except (wave.Error, EOFError):
        pass  # not plain PCM (mu-law, A-law, float...): let pydub and ffmpeg read it
    except OSError as exc:
        raise AudioError(f"cannot read {path}: {exc}") from exc
    try:
        with path.open("rb") as raw:
            audio = AudioSegment.from_file(raw, format="wav")
        audio = audio.set_frame_rate(TELEPHONY_RATE).set_channels(1).set_sample_width(2)
    except (CouldntDecodeError, OSError, ValueError, IndexError) as exc:
        raise AudioError(f"cannot read {path} as a WAV recording: {exc}") from exc
    return bytes(audio.raw_data)
