"""The speech gate: what of a turn's audio reaches the decoder (ivr.core.protocols.audiosocket)."""

from __future__ import annotations

import pytest

from ivr.core.protocols.audiosocket import FRAME_BYTES, GateSettings, SpeechGate

QUIET = bytes(FRAME_BYTES)


def frame(n: int) -> bytes:
    """A distinct 20 ms frame (its samples all equal n), to see which frames came out."""
    return n.to_bytes(2, "little", signed=True) * (FRAME_BYTES // 2)


def frames_of(audio: bytes) -> list[int]:
    return [int.from_bytes(audio[i:i + 2], "little", signed=True)
            for i in range(0, len(audio), FRAME_BYTES)]


def run(gate: SpeechGate, script: list[tuple[int, bool, bool]]) -> list[int]:
    out = b""
    for n, speaking, voiced in script:
        out += gate.push(frame(n), speaking=speaking, voiced=voiced)
    return frames_of(out)


def test_nothing_is_decoded_before_the_speech_start() -> None:
    """The prompt playing and the caller's silence cost no decoding at all."""
    gate = SpeechGate(GateSettings(pre_roll=0.1, hangover=0.1))
    assert run(gate, [(n, False, n % 2 == 0) for n in range(1, 200)]) == []
    assert gate.bytes_out == 0
    assert gate.decoded_share == 0.0


def test_speech_start_brings_its_pre_roll() -> None:
    """The frames just before the endpointer called it speech are decoded, in order: the
    soft start of the first word is not lost."""
    gate = SpeechGate(GateSettings(pre_roll=0.1, hangover=0.1))  # 5 frames each
    script = [(n, False, False) for n in range(1, 11)] + [(11, True, False), (12, True, True)]
    assert run(gate, script) == [6, 7, 8, 9, 10, 11, 12]


def test_speech_start_opens_even_if_the_vad_disagrees() -> None:
    """The endpointer's speech start is trusted: the gate opens for at least the hangover."""
    gate = SpeechGate(GateSettings(pre_roll=0.0, hangover=0.04))  # 2 frames of hangover
    script = [(1, True, False), (2, True, False), (3, True, False), (4, True, False)]
    assert run(gate, script) == [1, 2, 3]


def test_a_long_pause_is_skipped_and_speech_after_it_keeps_its_pre_roll() -> None:
    gate = SpeechGate(GateSettings(pre_roll=0.04, hangover=0.04))  # 2 frames each
    script = ([(1, True, True), (2, True, True)]
              + [(n, True, False) for n in range(3, 13)]  # 200 ms pause
              + [(13, True, True), (14, True, True)])
    # 3 and 4: the hangover; 5-10 skipped; 11 and 12: the pre-roll of the next word.
    assert run(gate, script) == [1, 2, 3, 4, 11, 12, 13, 14]
    assert gate.decoded_share == pytest.approx(8 / 14)


def test_a_short_pause_is_decoded_whole() -> None:
    gate = SpeechGate(GateSettings(pre_roll=0.1, hangover=0.1))
    script = [(1, True, True), (2, True, False), (3, True, False), (4, True, True)]
    assert run(gate, script) == [1, 2, 3, 4]


def test_pre_roll_is_cut_to_its_length_whatever_the_chunk_size() -> None:
    """A big chunk of quiet before speech keeps exactly pre_roll seconds of its end."""
    gate = SpeechGate(GateSettings(pre_roll=0.05, hangover=0.1))
    gate.push(b"\x01\x00" * 8000, speaking=False, voiced=False)  # one second
    out = gate.push(frame(9), speaking=True, voiced=True)
    assert len(out) == 400 * 2 + FRAME_BYTES  # 50 ms of pre-roll, then the frame
    assert out.endswith(frame(9))


def test_gating_off_decodes_every_frame() -> None:
    gate = SpeechGate(GateSettings(enabled=False))
    assert run(gate, [(n, False, False) for n in range(1, 6)]) == [1, 2, 3, 4, 5]
    assert gate.decoded_share == 1.0


@pytest.mark.parametrize("bad", [{"pre_roll": -0.1}, {"hangover": 6.0}])
def test_bad_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="between 0 and 5"):
        GateSettings(**bad)
