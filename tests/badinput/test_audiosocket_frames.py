"""AudioSocket: hostile frames end their stream with ProtocolError; key floods decode in order.

The codec's design (``ivr.core.protocols.audiosocket``): an error is for that stream only and the
reader stays broken, so garbage can never be resynchronised on; frames that arrived before the
garbage are still delivered, and the next stream (a new reader) is unaffected.
"""

from __future__ import annotations

import uuid

import pytest

from ivr.core.protocols.audiosocket import (
    CLOSED,
    DTMF_KEYS,
    MAX_AUDIO_BYTES,
    MAX_ERROR_BYTES,
    NEED_DATA,
    SILENCE_FRAME,
    Audio,
    FrameKind,
    FrameReader,
    KeyPressed,
    PeerError,
    StreamHungUp,
    StreamStarted,
    encode_audio,
    encode_dtmf,
    encode_error,
    encode_hangup,
    encode_uuid,
)
from ivr.errors import ProtocolError
from tests.badinput.corpus import DTMF_FLOODS, DTMF_INVALID

CALL = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
KNOWN_KINDS = {int(k) for k in FrameKind}


def drain(reader: FrameReader) -> list[object]:
    """Every frame the reader has ready, until it needs data or the stream closed."""
    frames: list[object] = []
    while True:
        frame = reader.next_frame()
        if frame is NEED_DATA or frame is CLOSED:
            return frames
        frames.append(frame)


def frames_before_error(wire: bytes) -> tuple[list[object], ProtocolError | None]:
    """Feed ``wire`` then EOF; the frames delivered and the error that ended the stream."""
    reader = FrameReader()
    frames: list[object] = []
    try:
        for piece in (wire, b""):
            reader.receive_data(piece)
            frames += drain(reader)
    except ProtocolError as exc:
        return frames, exc
    return frames, None


@pytest.mark.parametrize("kind", sorted(set(range(256)) - KNOWN_KINDS))
def test_every_unknown_kind_is_refused_from_its_first_byte(kind: int) -> None:
    """An unknown kind byte is refused at once, before its length is even read."""
    reader = FrameReader()
    reader.receive_data(bytes([kind]))
    with pytest.raises(ProtocolError, match=f"unknown AudioSocket frame kind 0x{kind:02x}"):
        reader.next_frame()


@pytest.mark.parametrize("byte", range(256))
def test_every_dtmf_payload_byte(byte: int) -> None:
    """The 16 keys decode; any other byte in a DTMF frame is a ProtocolError, not a key."""
    frames, error = frames_before_error(b"\x03\x00\x01" + bytes([byte]))
    if chr(byte) in DTMF_KEYS:
        assert frames == [KeyPressed(chr(byte))]
        assert error is None
    else:
        assert frames == []
        assert error is not None
        assert "no key" in str(error)


@pytest.mark.parametrize("code", range(256))
def test_every_error_code_is_reported(code: int) -> None:
    """Asterisk's error byte is carried as it is, whatever its value."""
    assert frames_before_error(encode_error(code)) == ([PeerError(code)], None)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        pytest.param(b"\x10\xff\xff", "65535", id="audio_length_u16_max"),
        pytest.param(b"\x10" + (MAX_AUDIO_BYTES + 2).to_bytes(2, "big"), "8194",
                     id="audio_just_over_cap"),
        pytest.param(b"\x10\x00\x01", "impossible length 1", id="audio_half_sample"),
        pytest.param(b"\x01\xff\xff", "65535", id="uuid_oversize"),
        pytest.param(b"\x03\xff\xff", "65535", id="dtmf_oversize"),
        pytest.param(b"\x00\xff\xff", "65535", id="hangup_oversize"),
        pytest.param(b"\xff" + (MAX_ERROR_BYTES + 1).to_bytes(2, "big"), "65", id="error_oversize"),
    ],
)
def test_oversize_lengths_are_refused_from_the_header_alone(header: bytes, reason: str) -> None:
    """A length the kind cannot have is refused as soon as the 3-byte header is complete."""
    reader = FrameReader()
    reader.receive_data(header[:1])
    assert reader.next_frame() is NEED_DATA
    reader.receive_data(header[1:2])
    assert reader.next_frame() is NEED_DATA
    reader.receive_data(header[2:])
    with pytest.raises(ProtocolError, match=reason):
        reader.next_frame()


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(b"\x10", id="kind_only"),
        pytest.param(b"\x10\x01", id="half_length"),
        pytest.param(b"\x10\x01\x40" + bytes(319), id="audio_one_byte_short"),
        pytest.param(b"\x01\x00\x10" + CALL.bytes[:15], id="uuid_one_byte_short"),
        pytest.param(b"\x03\x00\x01", id="dtmf_without_its_key"),
        pytest.param(b"\xff\x00\x01", id="error_without_its_code"),
    ],
)
def test_truncated_frames_at_end_of_stream(wire: bytes) -> None:
    """A frame cut by the peer closing is a ProtocolError, not a silently dropped frame."""
    frames, error = frames_before_error(encode_dtmf("1") + wire)
    assert frames == [KeyPressed("1")]
    assert error is not None
    assert "closed inside" in str(error)


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"\x02\x00\x00", id="unknown_kind"),
        pytest.param(b"\x10\x00\x03abc", id="odd_audio"),
        pytest.param(b"\x03\x00\x01E", id="dtmf_letter_e"),
        pytest.param(b"GET / HTTP/1.1\r\n\r\n", id="http_probe"),
        pytest.param(b"\xff" * 100, id="all_ones"),
    ],
)
def test_frames_before_garbage_are_delivered_then_the_stream_ends(garbage: bytes) -> None:
    """Keys pressed before the garbage still count; the reader then stays broken."""
    reader = FrameReader()
    reader.receive_data(encode_uuid(CALL) + encode_dtmf("4") + encode_dtmf("2") + garbage)
    first = [reader.next_frame() for _ in range(3)]
    assert first == [StreamStarted(CALL), KeyPressed("4"), KeyPressed("2")]
    with pytest.raises(ProtocolError):
        reader.next_frame()
    with pytest.raises(ProtocolError):
        reader.receive_data(encode_dtmf("5"))
    with pytest.raises(ProtocolError):
        reader.next_frame()
    fresh = FrameReader()  # the next call's stream is a new reader and is unaffected
    fresh.receive_data(encode_uuid(CALL) + encode_dtmf("5"))
    assert drain(fresh) == [StreamStarted(CALL), KeyPressed("5")]


@pytest.mark.parametrize("keys", DTMF_FLOODS)
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_dtmf_floods_decode_every_key_in_order(keys: str, chunk: int) -> None:
    """A thousand key presses, however TCP cuts them, arrive as a thousand keys in order."""
    wire = encode_uuid(CALL) + b"".join(encode_dtmf(k) for k in keys) + encode_hangup()
    reader = FrameReader()
    frames: list[object] = []
    for i in range(0, len(wire), chunk):
        reader.receive_data(wire[i : i + chunk])
        frames += drain(reader)
    reader.receive_data(b"")
    frames += drain(reader)
    assert reader.next_frame() is CLOSED
    assert frames == [StreamStarted(CALL), *(KeyPressed(k) for k in keys), StreamHungUp()]


def test_dtmf_interleaved_with_audio() -> None:
    """Keys pressed while the caller speaks keep their place among the audio frames."""
    wire = b"".join(encode_audio(SILENCE_FRAME) + encode_dtmf(k) for k in "*#ABCD0")
    frames, error = frames_before_error(wire)
    assert error is None
    assert [f.key for f in frames if isinstance(f, KeyPressed)] == list("*#ABCD0")
    assert sum(isinstance(f, Audio) for f in frames) == 7


@pytest.mark.parametrize("key", DTMF_INVALID)
def test_encoding_an_invalid_key_is_refused(key: str) -> None:
    """A fake peer or our own code cannot put a non-key on the wire."""
    with pytest.raises(ValueError, match="DTMF"):
        encode_dtmf(key)


def test_a_megabyte_of_audio_in_one_read() -> None:
    """Many frames in one read are all decoded, and nothing is kept once they are."""
    wire = encode_audio(bytes(MAX_AUDIO_BYTES)) * 128
    frames, error = frames_before_error(wire)
    assert error is None
    assert len(frames) == 128
    assert all(f == Audio(bytes(MAX_AUDIO_BYTES)) for f in frames)


def test_receive_after_end_of_file_is_a_bug_not_a_frame() -> None:
    """Feeding bytes after EOF is the caller's bug: RuntimeError, not a silent frame."""
    reader = FrameReader()
    reader.receive_data(b"")
    with pytest.raises(RuntimeError):
        reader.receive_data(encode_hangup())
