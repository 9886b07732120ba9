"""Voice activity detection with WebRTC's VAD: the only module that imports webrtcvad.

``VoiceDetector(aggressiveness)`` classifies 20 ms frames of 8 kHz 16-bit mono PCM as voiced
or not (``voiced``), in microseconds of C per frame, so it runs on the event loop inside
``SpeechTurn.feed``. Aggressiveness 0-3: higher filters more non-speech, at the risk of
calling faint speech quiet; ``ivr.core.protocols.audiosocket.SpeechGate`` uses the verdict
only once the endpointer has heard speech start, and keeps a pre-roll, so a wrong "quiet"
costs at most a pause being decoded or skipped, never the start of the utterance.

A frame of another length (the tail of a recording) is judged by its energy instead
(``rms`` against the endpointer's threshold). webrtcvad errors become ``AudioError``.
"""

from __future__ import annotations

import webrtcvad

from ivr.core.protocols.audiosocket import FRAME_BYTES, SAMPLE_RATE, rms
from ivr.errors import AudioError

DEFAULT_AGGRESSIVENESS = 1


class VoiceDetector:
    """One per turn (webrtcvad keeps a little state between frames)."""

    def __init__(self, aggressiveness: int = DEFAULT_AGGRESSIVENESS,
                 threshold: float = 500.0) -> None:
        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError("VAD aggressiveness is 0, 1, 2 or 3")
        self._vad = webrtcvad.Vad(aggressiveness)
        self._threshold = threshold

    def voiced(self, frame: bytes) -> bool:
        if len(frame) != FRAME_BYTES:
            return rms(frame) >= self._threshold
        try:
            return bool(self._vad.is_speech(frame, SAMPLE_RATE))
        except Exception as exc:  # webrtcvad raises a bare Error for a bad frame
            raise AudioError(f"voice activity detection failed: {exc}") from exc
