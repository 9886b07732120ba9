"""AudioSocket wire format and PCM helpers, without any networking.

Theory of operation
-------------------
Asterisk's ``AudioSocket(<uuid>,<host:port>)`` application opens one TCP connection per call
and both sides exchange *frames*: ``kind`` (1 byte) + payload ``length`` (2 bytes, big
endian) + payload.

    kind  name    payload                                   who sends it
    ----  ------  ----------------------------------------  -------------------------------
    0x00  hangup  empty                                     either side: end of the stream
    0x01  uuid    16 bytes, the call's UUID                 Asterisk, first frame, once
    0x03  dtmf    1 ASCII byte (0-9 * # A-D)                Asterisk, when the caller presses
    0x10  audio   signed linear 16-bit LE, 8 kHz, mono      both: 320 bytes = 20 ms
    0xff  error   optional 1-byte code                      Asterisk, then it closes

``FrameReader`` accepts bytes as they arrive (``receive_data``; ``b""`` means end of file) and
``next_frame`` yields ``NEED_DATA`` until a whole frame is buffered, then the frame; after a
clean end of file on a frame boundary it yields ``CLOSED``. Anything that cannot come from a
well-behaved Asterisk raises ``ProtocolError`` (the peer's fault) as early as it is visible: an
unknown kind as soon as its byte arrives, an impossible length as soon as the header is
complete, a truncated frame at end of file. The error is for that stream only, and the reader
stays broken afterwards (every later call raises again), so a caller cannot resynchronise on
garbage. The higher-rate slin kinds (0x11-0x18) are unknown here on purpose: the dialplan
application always sends 8 kHz, which is what the recogniser is fed.

Encoding is for our side (``encode_audio``, ``encode_hangup``) and for fake peers in tests
(``encode_uuid``, ``encode_dtmf``, ``encode_error``). Passing bytes that a peer would reject
is our bug and raises ``ValueError``.

The PCM helpers at the end (``rms``, ``SpeechEndpointer``) are pure and clock-free: time is
counted in audio samples, which arrive in real time.
"""

from __future__ import annotations

import struct
import sys
import uuid
from array import array
from dataclasses import dataclass
from enum import Enum, IntEnum
from math import sqrt
from typing import Final

from ivr.errors import ProtocolError

SAMPLE_RATE: Final = 8000
SAMPLE_BYTES: Final = 2
FRAME_MS: Final = 20
FRAME_BYTES: Final = SAMPLE_RATE * SAMPLE_BYTES * FRAME_MS // 1000  # 320
MAX_AUDIO_BYTES: Final = 8192  # 256 ms; Asterisk sends 320, anything near 64 KiB is garbage
MAX_ERROR_BYTES: Final = 64
SILENCE_FRAME: Final = bytes(FRAME_BYTES)
DTMF_KEYS: Final = frozenset("0123456789*#ABCD")
_HEADER = struct.Struct(">BH")


class FrameKind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    ERROR = 0xFF


class _Sentinel(Enum):
    NEED_DATA = "NEED_DATA"
    CLOSED = "CLOSED"


NEED_DATA: Final = _Sentinel.NEED_DATA
"""More bytes are needed before the next frame; not an error."""
CLOSED: Final = _Sentinel.CLOSED
"""The peer closed the connection cleanly, on a frame boundary."""


@dataclass(frozen=True, slots=True)
class StreamHungUp:
    """The peer ends the stream (the caller hung up, or the application is done)."""


@dataclass(frozen=True, slots=True)
class StreamStarted:
    """The first frame: which call this stream belongs to (the UUID the AGI call chose)."""

    call_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class KeyPressed:
    """The caller pressed one DTMF key."""

    key: str

    def __post_init__(self) -> None:
        if self.key not in DTMF_KEYS:
            raise ValueError(f"not a DTMF key: {self.key!r}")


@dataclass(frozen=True, slots=True)
class Audio:
    """Signed linear 16-bit 8 kHz mono samples: a whole number of samples, not empty."""

    pcm: bytes

    def __post_init__(self) -> None:
        if not self.pcm or len(self.pcm) % SAMPLE_BYTES or len(self.pcm) > MAX_AUDIO_BYTES:
            raise ValueError(
                f"audio payload must be 2..{MAX_AUDIO_BYTES} bytes of 16-bit samples, "
                f"not {len(self.pcm)}"
            )

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (SAMPLE_RATE * SAMPLE_BYTES)


@dataclass(frozen=True, slots=True)
class PeerError:
    """Asterisk reports an error on its side (``code`` is its optional error byte)."""

    code: int | None = None


Frame = StreamHungUp | StreamStarted | KeyPressed | Audio | PeerError


def _payload_length_ok(kind: FrameKind, length: int) -> bool:
    if kind is FrameKind.HANGUP:
        return length == 0
    if kind is FrameKind.UUID:
        return length == 16
    if kind is FrameKind.DTMF:
        return length == 1
    if kind is FrameKind.AUDIO:
        return 0 < length <= MAX_AUDIO_BYTES and length % SAMPLE_BYTES == 0
    return length <= MAX_ERROR_BYTES  # ERROR


def _decode(kind: FrameKind, payload: bytes) -> Frame:
    if kind is FrameKind.HANGUP:
        return StreamHungUp()
    if kind is FrameKind.UUID:
        return StreamStarted(uuid.UUID(bytes=payload))
    if kind is FrameKind.DTMF:
        key = chr(payload[0])
        if key not in DTMF_KEYS:
            raise ProtocolError(f"AudioSocket DTMF frame carries no key: {payload!r}")
        return KeyPressed(key)
    if kind is FrameKind.AUDIO:
        return Audio(payload)
    return PeerError(payload[0] if payload else None)


class FrameReader:
    """Incremental AudioSocket frame parser for one stream; see the module docstring."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._eof = False
        self._broken: ProtocolError | None = None

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the peer; ``b""`` means the peer closed the connection."""
        if self._broken is not None:
            raise self._broken
        if self._eof:
            raise RuntimeError("receive_data after end of file")
        if not data:
            self._eof = True
        else:
            self._buffer += data

    def next_frame(self) -> Frame | _Sentinel:
        """The next whole frame, ``NEED_DATA``, or ``CLOSED``; raises ``ProtocolError``."""
        if self._broken is not None:
            raise self._broken
        try:
            return self._next()
        except ProtocolError as exc:
            self._broken = exc
            raise

    def _next(self) -> Frame | _Sentinel:
        buffered = len(self._buffer)
        if buffered == 0:
            return CLOSED if self._eof else NEED_DATA
        try:
            kind = FrameKind(self._buffer[0])
        except ValueError:
            raise ProtocolError(f"unknown AudioSocket frame kind 0x{self._buffer[0]:02x}") from None
        if buffered < _HEADER.size:
            if self._eof:
                raise ProtocolError(f"connection closed inside a frame header ({buffered} bytes)")
            return NEED_DATA
        _, length = _HEADER.unpack_from(self._buffer)
        if not _payload_length_ok(kind, length):
            raise ProtocolError(f"impossible length {length} for an AudioSocket {kind.name} frame")
        end = _HEADER.size + length
        if buffered < end:
            if self._eof:
                raise ProtocolError(
                    f"connection closed inside a {kind.name} frame "
                    f"({buffered - _HEADER.size} of {length} payload bytes)"
                )
            return NEED_DATA
        payload = bytes(self._buffer[_HEADER.size : end])
        del self._buffer[:end]
        return _decode(kind, payload)


def _encode(kind: FrameKind, payload: bytes) -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


def encode_audio(pcm: bytes) -> bytes:
    """One audio frame; ``pcm`` is 16-bit 8 kHz mono, 2..MAX_AUDIO_BYTES bytes (20 ms = 320)."""
    return _encode(FrameKind.AUDIO, Audio(pcm).pcm)


def encode_hangup() -> bytes:
    """Tell Asterisk we are done: its AudioSocket application returns and the AGI goes on."""
    return _encode(FrameKind.HANGUP, b"")


def encode_uuid(call_id: uuid.UUID) -> bytes:
    return _encode(FrameKind.UUID, call_id.bytes)


def encode_dtmf(key: str) -> bytes:
    return _encode(FrameKind.DTMF, KeyPressed(key).key.encode("ascii"))


def encode_error(code: int | None = None) -> bytes:
    return _encode(FrameKind.ERROR, b"" if code is None else bytes([code]))


SILENCE_AUDIO_FRAME: Final = encode_audio(SILENCE_FRAME)


def split_frames(pcm: bytes, frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """Cut PCM into 20 ms payloads; the last one is padded with silence to a whole frame."""
    if len(pcm) % SAMPLE_BYTES:
        raise ValueError("PCM must be a whole number of 16-bit samples")
    frames = [pcm[i : i + frame_bytes] for i in range(0, len(pcm), frame_bytes)]
    if frames and len(frames[-1]) < frame_bytes:
        frames[-1] = frames[-1] + bytes(frame_bytes - len(frames[-1]))
    return frames


# ---------------------------------------------------------------- PCM helpers (pure)


def rms(pcm: bytes) -> float:
    """Root mean square of 16-bit little-endian samples (0 for empty input)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % SAMPLE_BYTES])
    if not samples:
        return 0.0
    if sys.byteorder == "big":
        samples.byteswap()
    return sqrt(sum(s * s for s in samples) / len(samples))


class Utterance(Enum):
    """Where the caller is in one speech turn, as the endpointer sees it."""

    WAITING = "waiting"  # nothing said yet
    SPEAKING = "speaking"  # speech started (time to stop the prompt: barge-in)
    ENDED = "ended"  # speech, then end_silence of quiet
    NO_SPEECH = "no_speech"  # no_speech_timeout passed without speech
    TOO_LONG = "too_long"  # spoke for max_duration without a pause


@dataclass(frozen=True, slots=True)
class EndpointerSettings:
    """Silence timeouts of a speech turn, in seconds, and the energy that counts as speech.

    ``no_speech_timeout`` counts from the end of the prompt (time while a prompt plays does not
    count); ``max_duration`` counts from the start of speech; ``end_silence`` is the quiet
    after speech that ends the turn.

    ``threshold`` is an RMS level on the 16-bit scale (about -36 dBFS by default: phone line
    noise stays below it, a voice goes well above). ``speech_start`` is how long the level must
    stay above it before we call it speech, so a click or a breath does not cut a prompt.
    """

    no_speech_timeout: float = 5.0
    end_silence: float = 0.8
    max_duration: float = 15.0
    threshold: float = 500.0
    speech_start: float = 0.06

    def __post_init__(self) -> None:
        for name in ("no_speech_timeout", "end_silence", "max_duration", "speech_start"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.threshold < 0:
            raise ValueError("threshold must not be negative")


class SpeechEndpointer:
    """Energy VAD: decides when the caller started and stopped speaking.

    Feed it the caller's PCM as it arrives; ``feed`` returns the state after that audio. Once
    the state is ENDED, NO_SPEECH or TOO_LONG it stays there. Time is audio time, so the result
    does not depend on how the chunks are cut. Pass ``prompt_playing=True`` while the prompt
    still plays: speech then still counts (barge-in) but the no-speech clock does not run.
    """

    def __init__(self, settings: EndpointerSettings | None = None) -> None:
        self.settings = settings or EndpointerSettings()
        self.state = Utterance.WAITING
        self._samples = 0
        self._loud_run = 0  # consecutive loud samples
        self._quiet_run = 0  # consecutive quiet samples since speech started
        self._listening_from = 0  # sample where the no-speech clock starts (end of prompt)
        self._speech_from = 0
        self.speech_started_at: float | None = None

    @property
    def elapsed(self) -> float:
        return self._samples / SAMPLE_RATE

    def feed(self, pcm: bytes, prompt_playing: bool = False) -> Utterance:
        s = self.settings
        for start in range(0, len(pcm), FRAME_BYTES):
            if self.state in (Utterance.ENDED, Utterance.NO_SPEECH, Utterance.TOO_LONG):
                break
            chunk = pcm[start : start + FRAME_BYTES]
            n = len(chunk) // SAMPLE_BYTES
            self._samples += n
            if prompt_playing:
                self._listening_from = self._samples
            loud = rms(chunk) >= s.threshold
            if self.state is Utterance.WAITING:
                self._loud_run = self._loud_run + n if loud else 0
                if self._loud_run >= s.speech_start * SAMPLE_RATE:
                    self.state = Utterance.SPEAKING
                    self._speech_from = self._samples - self._loud_run
                    self.speech_started_at = self._speech_from / SAMPLE_RATE
                elif self._samples - self._listening_from >= s.no_speech_timeout * SAMPLE_RATE:
                    self.state = Utterance.NO_SPEECH
            else:
                self._quiet_run = 0 if loud else self._quiet_run + n
                if self._quiet_run >= s.end_silence * SAMPLE_RATE:
                    self.state = Utterance.ENDED
                elif self._samples - self._speech_from >= s.max_duration * SAMPLE_RATE:
                    self.state = Utterance.TOO_LONG
        return self.state


@dataclass(frozen=True, slots=True)
class GateSettings:
    """Which of a turn's audio the recogniser decodes (``SpeechGate``), in seconds.

    ``enabled=False`` decodes every frame from the start of the turn, prompt playback and
    silence included (the path before gating; kept for comparison and as a safety switch).
    ``pre_roll`` is the audio kept from before the speech start, and before speech resumes
    after a pause, so the first sound of a word is never lost. ``hangover`` is the quiet
    still decoded after voiced audio before the gate closes again.
    """

    enabled: bool = True
    pre_roll: float = 0.6
    hangover: float = 0.3

    def __post_init__(self) -> None:
        for name in ("pre_roll", "hangover"):
            if not 0 <= getattr(self, name) <= 5:
                raise ValueError(f"{name} must be between 0 and 5 seconds")


class SpeechGate:
    """Decides, frame by frame, what audio of a turn goes to the decoder.

    ``push(frame, speaking=..., voiced=...)`` takes one frame of caller audio with two
    verdicts: ``speaking``, whether the endpointer has heard speech start (before that the
    caller is silent or the prompt is still playing: nothing is decoded, the last
    ``pre_roll`` seconds are kept), and ``voiced``, a voice activity verdict for this frame.
    The frame where speech starts opens the gate, with the pre-roll in front of it; voiced
    frames keep it open; after ``hangover`` seconds without a voiced frame it closes (a pause
    inside the turn, or the end-of-speech silence the endpointer is waiting out) and keeps a
    pre-roll again, released in front of the next voiced frame. ``push`` returns the audio
    to decode now, possibly empty. Pure and clock-free, like the endpointer.
    """

    def __init__(self, settings: GateSettings | None = None) -> None:
        self.settings = settings or GateSettings()
        self._pre_roll_bytes = int(self.settings.pre_roll * SAMPLE_RATE) * SAMPLE_BYTES
        self._hangover_bytes = int(self.settings.hangover * SAMPLE_RATE) * SAMPLE_BYTES
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._open = False
        self._started = False
        self._quiet = 0
        self.bytes_in = 0
        self.bytes_out = 0

    @property
    def open(self) -> bool:
        return self._open or not self.settings.enabled

    @property
    def decoded_share(self) -> float:
        """The part of the audio pushed so far that was passed on to the decoder (0..1)."""
        return self.bytes_out / self.bytes_in if self.bytes_in else 0.0

    def push(self, frame: bytes, *, speaking: bool, voiced: bool) -> bytes:
        self.bytes_in += len(frame)
        if not self.settings.enabled:
            self.bytes_out += len(frame)
            return frame
        if speaking and not self._started:
            self._started = True
            voiced = True  # the endpointer's speech start opens the gate whatever the VAD says
        if not speaking:
            return self._hold(frame)
        if voiced:
            self._quiet = 0
            self._open = True
            out = b"".join(self._held) + frame
            self._held.clear()
            self._held_bytes = 0
        elif self._open and self._quiet + len(frame) <= self._hangover_bytes:
            self._quiet += len(frame)
            out = frame
        else:
            self._open = False
            return self._hold(frame)
        self.bytes_out += len(out)
        return out

    def _hold(self, frame: bytes) -> bytes:
        self._held.append(frame)
        self._held_bytes += len(frame)
        while self._held and self._held_bytes - len(self._held[0]) >= self._pre_roll_bytes:
            self._held_bytes -= len(self._held.pop(0))
        if self._held_bytes > self._pre_roll_bytes and self._held:
            # Keep exactly the last pre_roll seconds (cut the oldest frame's start).
            cut = self._held_bytes - self._pre_roll_bytes
            self._held[0] = self._held[0][cut:]
            self._held_bytes -= cut
        return b""
