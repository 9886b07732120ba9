"""AudioSocket server against fake Asterisk connections on loopback: real sockets, no Asterisk."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.core.protocols.audiosocket import (
    CLOSED,
    FRAME_BYTES,
    NEED_DATA,
    SILENCE_FRAME,
    Audio,
    EndpointerSettings,
    FrameReader,
    KeyPressed,
    StreamHungUp,
    encode_audio,
    encode_dtmf,
    encode_hangup,
    encode_uuid,
)
from ivr.edges.audiosocket import AudioSocketServer, AudioStream, StreamRegistry, read_prompt_pcm
from ivr.edges.vosk import ScriptedSpeech, listen
from ivr.errors import AudioError, StreamNotConnected

VOICE = struct.pack("<160h", *([3000, -3000] * 80))


class FakeAsterisk:
    """One AudioSocket connection as Asterisk's dialplan application makes it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.frames = FrameReader()
        self.received: list[object] = []

    @classmethod
    async def connect(cls, port: int, call_id: uuid.UUID | None = None) -> FakeAsterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        peer = cls(reader, writer)
        _PEERS.append(peer)
        if call_id is not None:
            await peer.send(encode_uuid(call_id))
        return peer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def speak(self, frames: int, pcm: bytes = VOICE) -> None:
        for _ in range(frames):
            await self.send(encode_audio(pcm))

    async def read_for(self, seconds: float) -> list[object]:
        """Frames the application sent us during ``seconds`` (stops early at end of stream)."""
        end = time.monotonic() + seconds
        got: list[object] = []
        while (left := end - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(self.reader.read(4096), left)
            except TimeoutError:
                break
            self.frames.receive_data(data)
            while (frame := self.frames.next_frame()) not in (NEED_DATA, CLOSED):
                got.append(frame)
            if not data:
                got.append(CLOSED)
                break
        self.received += got
        return got

    async def closed_by_server(self, within: float = 3.0) -> bool:
        """True if the server closes this connection within ``within`` seconds."""
        end = time.monotonic() + within
        while (left := end - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), left)
            except TimeoutError:
                return False
            except ConnectionError:
                return True
            if not data:
                return True
        return False


_PEERS: list[FakeAsterisk] = []


@pytest_asyncio.fixture(autouse=True)
async def _close_fake_peers() -> AsyncIterator[None]:
    yield
    while _PEERS:
        writer = _PEERS.pop().writer
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


@pytest_asyncio.fixture
async def server() -> AsyncIterator[AudioSocketServer]:
    srv = AudioSocketServer(
        StreamRegistry(),
        port=0,
        uuid_timeout=0.5,
        claim_timeout=1.0,
        idle_timeout=1.0,
        max_stream_seconds=10.0,
    )
    await srv.start()
    yield srv
    await srv.stop()


async def open_call(server: AudioSocketServer) -> tuple[AudioStream, FakeAsterisk]:
    call_id = server.registry.reserve()
    peer = await FakeAsterisk.connect(server.port, call_id)
    stream = await server.registry.claim(call_id, timeout=2.0)
    return stream, peer


def audio_only(frames: list[object]) -> list[bytes]:
    return [f.pcm for f in frames if isinstance(f, Audio)]


async def collect(stream: AudioStream, count: int) -> list[object]:
    got: list[object] = []
    async for item in stream.frames():
        got.append(item)
        if len(got) == count:
            break
    return got


async def test_normal_stream(server: AudioSocketServer) -> None:
    """Caller audio and keys arrive in order; a prompt goes out paced; close says hangup."""
    stream, peer = await open_call(server)
    await peer.speak(5)
    await peer.send(encode_dtmf("7"))
    got = await asyncio.wait_for(collect(stream, 6), 2)
    assert got == [Audio(VOICE)] * 5 + [KeyPressed("7")]

    prompt = VOICE * 10  # 200 ms
    started = time.monotonic()
    reading = asyncio.create_task(peer.read_for(0.6))
    assert await stream.play(prompt) is True
    took = time.monotonic() - started
    assert 0.17 <= took <= 0.5, took
    sent = audio_only(await reading)
    assert sent.count(VOICE) == 10  # the whole prompt, once, in 20 ms frames
    assert all(len(pcm) == FRAME_BYTES for pcm in sent)

    await stream.close()
    tail = await peer.read_for(1.0)
    assert StreamHungUp() in tail
    assert tail[-1] is CLOSED
    assert stream.end_reason == "closed by the application"


async def test_silence_keeps_the_stream_alive(server: AudioSocketServer) -> None:
    """While nobody plays, the server sends 20 ms of silence every 20 ms (Asterisk's 2 s rule)."""
    stream, peer = await open_call(server)
    sent = audio_only(await peer.read_for(1.0))
    assert 40 <= len(sent) <= 55, len(sent)
    assert set(sent) == {SILENCE_FRAME}
    await stream.close()


async def test_barge_in_stops_the_prompt_at_once(server: AudioSocketServer) -> None:
    """stop_playing ends a 2 s prompt within a frame or two; the caller hears silence after."""
    stream, peer = await open_call(server)
    play = asyncio.create_task(stream.play(VOICE * 100))
    await asyncio.sleep(0.2)
    stream.stop_playing()
    assert await asyncio.wait_for(play, 0.1) is False
    await peer.read_for(0.1)  # what was already on the wire
    after = audio_only(await peer.read_for(0.3))
    assert after
    assert set(after) == {SILENCE_FRAME}
    assert audio_only(peer.received).count(VOICE) < 30
    await stream.close()


async def test_cancelling_play_stops_the_sound(server: AudioSocketServer) -> None:
    """Cancelling the task that plays is barge-in too: no prompt frame goes out afterwards."""
    stream, peer = await open_call(server)
    play = asyncio.create_task(stream.play(VOICE * 100))
    await asyncio.sleep(0.1)
    play.cancel()
    with pytest.raises(asyncio.CancelledError):
        await play
    await peer.read_for(0.1)
    assert set(audio_only(await peer.read_for(0.3))) == {SILENCE_FRAME}
    assert await stream.play(VOICE * 2) is True  # the stream still plays the next prompt
    await stream.close()


async def test_caller_hangup_ends_frames(server: AudioSocketServer) -> None:
    """A hangup frame from Asterisk ends frames() after the audio before it."""
    stream, peer = await open_call(server)
    await peer.speak(3)
    await peer.send(encode_hangup())
    got = [item async for item in stream.frames()]
    assert got == [Audio(VOICE)] * 3
    assert stream.end_reason == "Asterisk ended the stream"
    assert await stream.play(VOICE) is False


MALFORMED = [
    pytest.param(b"\x42\x00\x01x", "unknown AudioSocket frame kind 0x42", id="unknown-kind"),
    pytest.param(b"\x10\xff\xfe", "impossible length 65534", id="impossible-length"),
    pytest.param(b"\x10\x01", "closed inside a frame header", id="truncated-header-then-close"),
]


@pytest.mark.parametrize(("garbage", "reason"), MALFORMED)
async def test_malformed_stream_affects_only_itself(
    server: AudioSocketServer, garbage: bytes, reason: str
) -> None:
    """A broken connection is closed; a call already streaming on another keeps working."""
    good, good_peer = await open_call(server)
    bad, bad_peer = await open_call(server)
    await bad_peer.speak(2)
    await bad_peer.send(garbage)
    if reason.startswith("closed"):
        bad_peer.writer.write_eof()
    assert await bad_peer.closed_by_server()
    got = [item async for item in bad.frames()]
    assert got == [Audio(VOICE)] * 2  # what came before the garbage is still delivered
    assert bad.end_reason is not None
    assert reason in bad.end_reason

    await good_peer.speak(3)
    assert await asyncio.wait_for(collect(good, 3), 2) == [Audio(VOICE)] * 3
    assert await good.play(VOICE * 3) is True
    assert not good.ended
    await good.close()


async def test_connection_without_uuid_is_dropped_alone(server: AudioSocketServer) -> None:
    """A peer that never says which call it is gets closed after uuid_timeout; others go on."""
    good, good_peer = await open_call(server)
    silent = await FakeAsterisk.connect(server.port)
    started = time.monotonic()
    assert await silent.closed_by_server(within=2.0)
    assert 0.4 <= time.monotonic() - started <= 1.5
    assert server.rejected == 1
    await good_peer.speak(2)
    assert await asyncio.wait_for(collect(good, 2), 2) == [Audio(VOICE)] * 2
    await good.close()


async def test_audio_before_uuid_is_refused(server: AudioSocketServer) -> None:
    """The first frame must be the UUID."""
    peer = await FakeAsterisk.connect(server.port)
    await peer.speak(1)
    assert await peer.closed_by_server()
    assert server.rejected == 1


async def test_unreserved_uuid_is_refused(server: AudioSocketServer) -> None:
    """A stream for a UUID no call reserved is closed at once."""
    peer = await FakeAsterisk.connect(server.port, uuid.uuid4())
    assert await peer.closed_by_server(within=1.0)
    assert server.rejected == 1


async def test_second_connection_for_a_uuid_is_refused(server: AudioSocketServer) -> None:
    """Each reservation takes exactly one connection."""
    call_id = server.registry.reserve()
    first = await FakeAsterisk.connect(server.port, call_id)
    stream = await server.registry.claim(call_id, timeout=2.0)
    second = await FakeAsterisk.connect(server.port, call_id)
    assert await second.closed_by_server(within=1.0)
    await first.speak(1)
    assert await asyncio.wait_for(collect(stream, 1), 2) == [Audio(VOICE)]
    await stream.close()


async def test_claim_times_out(server: AudioSocketServer) -> None:
    """When Asterisk never connects, claim raises StreamNotConnected after its deadline."""
    call_id = server.registry.reserve()
    with pytest.raises(StreamNotConnected, match=r"within 0\.2 s"):
        await server.registry.claim(call_id, timeout=0.2)
    late = await FakeAsterisk.connect(server.port, call_id)
    assert await late.closed_by_server(within=1.0)  # the reservation is gone
    assert len(server.registry) == 0


async def test_connection_may_arrive_before_the_claim(server: AudioSocketServer) -> None:
    """Asterisk can be faster than the AGI side; audio meanwhile is kept for the claimer."""
    call_id = server.registry.reserve()
    peer = await FakeAsterisk.connect(server.port, call_id)
    await peer.speak(4)
    await asyncio.sleep(0.1)
    stream = await server.registry.claim(call_id, timeout=1.0)
    assert await asyncio.wait_for(collect(stream, 4), 2) == [Audio(VOICE)] * 4
    await stream.close()


async def test_unclaimed_stream_is_closed(server: AudioSocketServer) -> None:
    """A reserved stream nobody claims is closed after claim_timeout."""
    call_id = server.registry.reserve()
    peer = await FakeAsterisk.connect(server.port, call_id)
    assert await peer.closed_by_server(within=2.5)
    assert len(server.registry) == 0


async def test_idle_stream_ends(server: AudioSocketServer) -> None:
    """Asterisk sending nothing for idle_timeout ends the stream (the call handler moves on)."""
    stream, peer = await open_call(server)
    got = [item async for item in stream.frames()]
    assert got == []
    assert stream.end_reason == "nothing from Asterisk for 1 s"
    assert await peer.closed_by_server(within=1.0)


async def test_max_stream_seconds() -> None:
    """A stream cannot outlive its per-call deadline even while audio flows."""
    srv = AudioSocketServer(StreamRegistry(), port=0, idle_timeout=5.0, max_stream_seconds=0.5)
    await srv.start()
    try:
        stream, peer = await open_call(srv)

        async def talk() -> None:
            for _ in range(100):
                await peer.speak(1)
                await asyncio.sleep(0.02)

        talking = asyncio.create_task(talk())
        count = 0
        async for _ in stream.frames():
            count += 1
        talking.cancel()
        assert stream.end_reason == "stream longer than 0.5 s"
        assert 10 <= count <= 40
    finally:
        await srv.stop()


async def test_many_streams_are_paced_by_one_timer(server: AudioSocketServer) -> None:
    """Fifty streams each get ~50 frames a second from the shared pacer."""
    calls = [await open_call(server) for _ in range(50)]
    assert server.open_streams == 50
    counts = await asyncio.gather(*(peer.read_for(1.0) for _, peer in calls))
    assert all(40 <= len(audio_only(c)) <= 56 for c in counts), [len(c) for c in counts]
    for stream, _ in calls:
        await stream.close()


def write_wav(path: Path, rate: int, channels: int, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return path


def test_prompt_pcm_from_a_telephony_wav(tmp_path: Path) -> None:
    """A prompt built by `ivr prompts` (8 kHz mono 16-bit) is read as its raw samples."""
    assert read_prompt_pcm(write_wav(tmp_path / "p.wav", 8000, 1, VOICE)) == VOICE


@pytest.mark.parametrize(
    ("rate", "channels"), [pytest.param(16000, 1, id="16k"), pytest.param(8000, 2, id="stereo")]
)
def test_prompt_in_another_format_is_refused(tmp_path: Path, rate: int, channels: int) -> None:
    """A prompt that would play at the wrong speed is an AudioError, not noise to a caller."""
    with pytest.raises(AudioError, match="8 kHz mono 16-bit"):
        read_prompt_pcm(write_wav(tmp_path / "p.wav", rate, channels, VOICE))


def test_missing_prompt_file(tmp_path: Path) -> None:
    """A missing file is an AudioError naming it."""
    with pytest.raises(AudioError, match="missing"):
        read_prompt_pcm(tmp_path / "missing.wav")


# ---------------------------------------------------------------- listen() with the scripted fake


async def test_listen_with_the_scripted_recogniser(server: AudioSocketServer) -> None:
    """The fake hears its script once the caller spoke; the prompt was cut by the voice."""
    speech = ScriptedSpeech(["교통"], endpointing=EndpointerSettings(end_silence=0.3))
    stream, peer = await open_call(server)
    turn = speech.try_start("ko", "grammar", ["교통"])
    assert turn is not None

    async def caller() -> None:
        await asyncio.sleep(0.2)
        await peer.speak(20)  # 0.4 s of voice, sent at once
        await peer.send(encode_audio(SILENCE_FRAME) * 20)

    talking = asyncio.create_task(caller())
    outcome = await asyncio.wait_for(listen(stream, turn, VOICE * 200), 3)
    await talking
    assert outcome.barged_in
    assert not outcome.prompt_finished
    assert outcome.transcript is not None
    assert outcome.transcript.text == "교통"
    assert speech.usage.busy == 0
    await stream.close()


async def test_scripted_recogniser_refuses_when_full() -> None:
    """Like the real pool: full means None at once, counted; no model means None."""
    speech = ScriptedSpeech(capacity=1, languages=["zh"])
    assert speech.try_start("en", "free") is None
    first = speech.try_start("zh", "free")
    assert first is not None
    assert speech.try_start("zh", "free") is None
    assert speech.usage.rejected == 1
    first.cancel()
    assert speech.try_start("zh", "free") is not None


async def test_silent_connections_cannot_keep_a_call_out() -> None:
    """Three hundred connections that never send a UUID: only the newest 50 are kept (the
    older ones closed at once, before the UUID deadline), and a real call still streams."""
    srv = AudioSocketServer(StreamRegistry(), port=0, uuid_timeout=5.0, max_pending=50)
    await srv.start()
    silent = []
    try:
        silent += [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(300)]
        await asyncio.sleep(0.2)
        assert srv.pending_connections <= 50
        stream, peer = await asyncio.wait_for(open_call(srv), 2)
        await peer.speak(3)
        assert await asyncio.wait_for(collect(stream, 3), 2) == [Audio(VOICE)] * 3
        closed = 0
        for reader, _ in silent[:200]:
            try:
                closed += await asyncio.wait_for(reader.read(), 1.0) == b""
            except ConnectionError:
                closed += 1
        assert closed == 200
    finally:
        for _, writer in silent:
            writer.close()
        await srv.stop()
