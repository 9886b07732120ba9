"""Audio conversion: the only module that imports pydub (and so ffmpeg/audioop).

Blocking by nature: callers on the event loop run these through ``asyncio.to_thread``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ivr.errors import AudioError

with warnings.catch_warnings():
    # pydub imports audioop, deprecated (not removed) in Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

TELEPHONY_RATE = 8000


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
