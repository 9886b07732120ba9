"""AudioSocket framing and the energy endpointer, with no sockets."""

from __future__ import annotations

import contextlib
import math
import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.core.protocols.audiosocket import (
    CLOSED,
    FRAME_BYTES,
    NEED_DATA,
    SILENCE_FRAME,
    Audio,
    EndpointerSettings,
    Frame,
    FrameReader,
    KeyPressed,
    PeerError,
    SpeechEndpointer,
    StreamHungUp,
    StreamStarted,
    Utterance,
    encode_audio,
    encode_dtmf,
    encode_error,
    encode_hangup,
    encode_uuid,
    rms,
    split_frames,
)
from ivr.errors import ProtocolError

CALL = uuid.UUID("3f2a4c1e-0b7d-4e55-9a8c-123456789abc")
VOICE = struct.pack("<160h", *([4000, -4000] * 80))  # a loud 20 ms square wave


def read_all(data: bytes, chunk: int = 4096, eof: bool = True) -> list[Frame]:
    reader = FrameReader()
    frames: list[Frame] = []
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    if eof:
        pieces.append(b"")
    for piece in pieces:
        reader.receive_data(piece)
        while True:
            frame = reader.next_frame()
            if frame is NEED_DATA or frame is CLOSED:
                break
            assert not isinstance(frame, type(NEED_DATA))
            frames.append(frame)
    return frames


GOOD = [
    pytest.param(b"\x00\x00\x00", StreamHungUp(), id="hangup"),
    pytest.param(b"\x01\x00\x10" + CALL.bytes, StreamStarted(CALL), id="uuid"),
    pytest.param(b"\x03\x00\x015", KeyPressed("5"), id="dtmf-5"),
    pytest.param(b"\x03\x00\x01#", KeyPressed("#"), id="dtmf-hash"),
    pytest.param(b"\x10\x01\x40" + VOICE, Audio(VOICE), id="audio-20ms"),
    pytest.param(b"\x10\x00\x02\x01\x00", Audio(b"\x01\x00"), id="audio-one-sample"),
    pytest.param(b"\xff\x00\x01\x02", PeerError(2), id="error-with-code"),
    pytest.param(b"\xff\x00\x00", PeerError(None), id="error-without-code"),
]


@pytest.mark.parametrize(("wire", "frame"), GOOD)
def test_each_kind_decodes(wire: bytes, frame: Frame) -> None:
    """Every frame kind Asterisk sends decodes to its event."""
    assert read_all(wire) == [frame]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 17, 1000])
def test_stream_in_any_chunking(chunk: int) -> None:
    """A whole call's frames decode the same however TCP splits them."""
    wire = encode_uuid(CALL) + encode_audio(VOICE) * 3 + encode_dtmf("1") + encode_hangup()
    frames = read_all(wire, chunk)
    assert frames == [StreamStarted(CALL), Audio(VOICE), Audio(VOICE), Audio(VOICE),
                      KeyPressed("1"), StreamHungUp()]


def test_partial_frame_needs_data() -> None:
    """Half a frame is 'not yet', not an error."""
    reader = FrameReader()
    reader.receive_data(encode_audio(VOICE)[:100])
    assert reader.next_frame() is NEED_DATA


def test_clean_close_on_a_frame_boundary() -> None:
    """EOF after a whole frame is CLOSED, not an error."""
    reader = FrameReader()
    reader.receive_data(encode_dtmf("9"))
    reader.receive_data(b"")
    assert reader.next_frame() == KeyPressed("9")
    assert reader.next_frame() is CLOSED


BAD = [
    pytest.param(b"\x02\x00\x00", "unknown", id="unknown-kind-0x02"),
    pytest.param(b"\x11\x01\x40", "unknown", id="slin12-kind-not-negotiated"),
    pytest.param(b"\x42", "unknown", id="unknown-kind-before-length"),
    pytest.param(b"\x01\x00\x0f" + b"x" * 15, "impossible length 15", id="short-uuid"),
    pytest.param(b"\x01\x00\x11" + b"x" * 17, "impossible length 17", id="long-uuid"),
    pytest.param(b"\x00\x00\x01x", "impossible length 1", id="hangup-with-payload"),
    pytest.param(b"\x03\x00\x02ab", "impossible length 2", id="dtmf-two-bytes"),
    pytest.param(b"\x03\x00\x01x", "no key", id="dtmf-not-a-key"),
    pytest.param(b"\x10\x00\x00", "impossible length 0", id="empty-audio"),
    pytest.param(b"\x10\x00\x03abc", "impossible length 3", id="odd-audio"),
    pytest.param(b"\x10\x20\x02", "impossible length 8194", id="audio-over-cap"),
    pytest.param(b"\x10\xff\xff", "impossible length 65535", id="audio-max-u16"),
    pytest.param(b"\xff\x01\x00", "impossible length 256", id="error-too-long"),
    pytest.param(b"\x10\x01", "inside a frame header", id="truncated-header"),
    pytest.param(b"\x10\x01\x40" + VOICE[:100], "100 of 320", id="truncated-audio"),
    pytest.param(b"\x01\x00\x10" + CALL.bytes[:8], "8 of 16", id="truncated-uuid"),
]


@pytest.mark.parametrize(("wire", "reason"), BAD)
def test_malformed_frames_are_protocol_errors(wire: bytes, reason: str) -> None:
    """Bytes a real Asterisk never sends end that stream with a ProtocolError saying why."""
    with pytest.raises(ProtocolError, match=reason):
        read_all(wire)


def test_impossible_length_is_refused_before_the_payload_arrives() -> None:
    """A 64 KiB claim is refused from the header alone; we never buffer the garbage."""
    reader = FrameReader()
    reader.receive_data(b"\x10\xff\xff")
    with pytest.raises(ProtocolError):
        reader.next_frame()


def test_a_broken_reader_stays_broken() -> None:
    """After a protocol error, no later bytes can resynchronise the stream."""
    reader = FrameReader()
    reader.receive_data(b"\x07\x00\x00")
    with pytest.raises(ProtocolError):
        reader.next_frame()
    with pytest.raises(ProtocolError):
        reader.receive_data(encode_hangup())
    with pytest.raises(ProtocolError):
        reader.next_frame()


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=64), st.booleans())
@settings(max_examples=400, deadline=None)
def test_random_bytes_only_ever_raise_protocol_error(data: bytes, chunk: int, eof: bool) -> None:
    """Whatever a peer sends, the reader yields frames or ProtocolError, nothing else."""
    with contextlib.suppress(ProtocolError):
        read_all(data, chunk, eof)


@given(st.lists(st.sampled_from([
    encode_hangup(), encode_uuid(CALL), encode_dtmf("*"), encode_audio(VOICE), encode_error(1),
]), max_size=20), st.integers(min_value=1, max_value=50))
@settings(max_examples=200, deadline=None)
def test_valid_frame_sequences_round_trip(wires: list[bytes], chunk: int) -> None:
    """Any sequence of encoded frames decodes to as many frames, in order."""
    assert len(read_all(b"".join(wires), chunk)) == len(wires)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        pytest.param(lambda: encode_audio(b""), "2..8192", id="empty-audio"),
        pytest.param(lambda: encode_audio(b"abc"), "2..8192", id="odd-audio"),
        pytest.param(lambda: encode_audio(bytes(8194)), "2..8192", id="audio-too-long"),
        pytest.param(lambda: encode_dtmf("x"), "DTMF", id="bad-key"),
    ],
)
def test_encoding_refuses_what_a_peer_would_reject(call: object, error: str) -> None:
    """Our own bad frames are our bug (ValueError), caught before they reach Asterisk."""
    assert callable(call)
    with pytest.raises(ValueError, match=error):
        call()


def test_encoded_frames_have_the_documented_bytes() -> None:
    """Header layout: kind, big-endian length, payload."""
    assert encode_hangup() == b"\x00\x00\x00"
    assert encode_audio(SILENCE_FRAME)[:3] == b"\x10\x01\x40"
    assert encode_uuid(CALL) == b"\x01\x00\x10" + CALL.bytes
    assert encode_dtmf("A") == b"\x03\x00\x01A"


def test_split_frames_pads_the_last_frame() -> None:
    """Prompt audio is cut into 20 ms frames; the tail is padded with silence."""
    frames = split_frames(bytes(700))
    assert [len(f) for f in frames] == [FRAME_BYTES] * 3
    assert split_frames(b"") == []


# ---------------------------------------------------------------- endpointer


def tone(seconds: float, amplitude: int = 4000) -> bytes:
    n = int(seconds * 8000)
    return struct.pack(f"<{n}h", *(int(amplitude * math.sin(i * 0.3)) for i in range(n)))


def quiet(seconds: float) -> bytes:
    return bytes(int(seconds * 8000) * 2)


def test_rms_of_silence_and_of_a_tone() -> None:
    """Silence has no energy; a sine of amplitude A has RMS A/sqrt(2)."""
    assert rms(b"") == 0.0
    assert rms(SILENCE_FRAME) == 0.0
    assert rms(tone(0.5)) == pytest.approx(4000 / math.sqrt(2), rel=0.02)


ENDPOINTS = EndpointerSettings(no_speech_timeout=2.0, end_silence=0.5, max_duration=4.0)


@pytest.mark.parametrize(
    ("audio", "state"),
    [
        pytest.param(quiet(1.0), Utterance.WAITING, id="quiet-so-far"),
        pytest.param(quiet(2.0), Utterance.NO_SPEECH, id="no-speech-timeout"),
        pytest.param(quiet(0.5) + tone(0.5), Utterance.SPEAKING, id="speaking"),
        pytest.param(quiet(0.5) + tone(0.5) + quiet(0.3), Utterance.SPEAKING, id="short-pause"),
        pytest.param(quiet(0.5) + tone(0.5) + quiet(0.5), Utterance.ENDED, id="end-silence"),
        pytest.param(tone(5.0), Utterance.TOO_LONG, id="max-duration"),
        pytest.param(quiet(1.0) + tone(0.04) + quiet(1.0), Utterance.NO_SPEECH, id="click"),
        pytest.param(tone(2.0, amplitude=300) + quiet(0.1), Utterance.NO_SPEECH, id="line-hum"),
    ],
)
@pytest.mark.parametrize("chunk", [FRAME_BYTES, 4000])
def test_endpointer_table(audio: bytes, state: Utterance, chunk: int) -> None:
    """The turn ends on the right condition whatever the chunking of the caller's audio."""
    endpointer = SpeechEndpointer(ENDPOINTS)
    result = Utterance.WAITING
    for i in range(0, len(audio), chunk):
        result = endpointer.feed(audio[i : i + chunk])
    assert result is state


def test_endpointer_notes_when_speech_started() -> None:
    """Barge-in needs to know when the caller started: here 0.5 s into the turn."""
    endpointer = SpeechEndpointer(ENDPOINTS)
    endpointer.feed(quiet(0.5) + tone(0.3))
    assert endpointer.speech_started_at == pytest.approx(0.5, abs=0.021)


def test_no_speech_clock_waits_for_the_prompt() -> None:
    """Time while the prompt plays does not count against the caller."""
    endpointer = SpeechEndpointer(ENDPOINTS)
    assert endpointer.feed(quiet(3.0), prompt_playing=True) is Utterance.WAITING
    assert endpointer.feed(quiet(1.9)) is Utterance.WAITING
    assert endpointer.feed(quiet(0.1)) is Utterance.NO_SPEECH


def test_speech_during_the_prompt_counts() -> None:
    """A caller who talks over the prompt is SPEAKING at once (barge-in)."""
    endpointer = SpeechEndpointer(ENDPOINTS)
    assert endpointer.feed(quiet(0.3) + tone(0.2), prompt_playing=True) is Utterance.SPEAKING


def test_max_duration_counts_from_the_start_of_speech() -> None:
    """A long wait before speaking does not shorten the caller's time to talk."""
    endpointer = SpeechEndpointer(ENDPOINTS)
    assert endpointer.feed(quiet(1.5) + tone(3.5)) is Utterance.SPEAKING
    assert endpointer.feed(tone(0.6)) is Utterance.TOO_LONG


def test_endpointer_settings_are_validated() -> None:
    """A zero timeout is a configuration mistake, refused at once."""
    with pytest.raises(ValueError, match="end_silence"):
        EndpointerSettings(end_silence=0)
