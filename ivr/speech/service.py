"""Speech turns on live calls: AudioSocket + Vosk + intents, behind one service.

For a ``ListenForSpeech`` command the call handler asks ``SpeechService.turn``. It starts a
recognition turn (or finds the pool full / the language without a model and falls back to
keys at once, so a caller never waits behind recognition), asks Asterisk over AGI to open an
AudioSocket stream for the call, plays the prompt itself over that stream so the caller can
interrupt it by speaking or pressing a key (barge-in), and answers with the engine's event.
What was heard, the intent, its evidence and confidence come back as call variables: stored
with the call, given to routing (urgency) and shown to the operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog

from ivr.core.flow import DigitsCollected, Event, ListenForSpeech
from ivr.core.intents import IntentCatalog
from ivr.core.protocols.audiosocket import EndpointerSettings, GateSettings
from ivr.core.settings import Settings, SpeechSettings
from ivr.edges.audiosocket import AudioSocketServer, StreamRegistry, read_prompt_pcm
from ivr.edges.fastagi import AgiChannel
from ivr.edges.vosk import ModelRegistry, SpeechRecognizer, listen
from ivr.errors import AudioError, SpeechError, StreamNotConnected
from ivr.speech.intents_file import load_intents
from ivr.speech.triage import NOTHING_HEARD, decide, plan

log = structlog.get_logger("ivr.speech.service")

ALL_KEYS = "0123456789*#"
CLAIM_TIMEOUT = 3.0  # Asterisk connects the AudioSocket within milliseconds on loopback
TURN_DEADLINE = 45.0  # below the AGI command timeout: EXEC AudioSocket holds the AGI session


def endpointing_for(s: SpeechSettings) -> EndpointerSettings:
    """The endpointer settings of ``[speech]``."""
    return EndpointerSettings(no_speech_timeout=s.no_speech_timeout, end_silence=s.end_silence,
                              max_duration=s.max_duration)


def recognizer_for(
    s: SpeechSettings, models: ModelRegistry, *, workers: int | None = None,
    capacity: int | None = None, gating: bool | None = None,
) -> SpeechRecognizer:
    """The decoding pool as ``[speech]`` configures it (live calls, triage, benchmarks);
    ``workers``, ``capacity`` and ``gating`` override the file (benchmarks, one-off runs)."""
    return SpeechRecognizer(
        models, workers=workers or s.workers or None, capacity=capacity or s.capacity or None,
        endpointing=endpointing_for(s), vad_aggressiveness=s.vad_aggressiveness,
        gating=GateSettings(enabled=s.gating if gating is None else gating,
                            pre_roll=s.pre_roll, hangover=s.hangover),
    )


class SpeechService:
    """Speech turns for the call handler; the composition root hands it the AudioSocket server
    and its stream registry, the models and the recogniser's pool."""

    def __init__(
        self, settings: Settings, *, streams: StreamRegistry, server: AudioSocketServer,
        models: ModelRegistry, recognizer: SpeechRecognizer, endpointing: EndpointerSettings,
    ) -> None:
        self._settings = settings
        self.streams = streams
        self.server = server
        self.models = models
        self.recognizer = recognizer
        self.endpointing = endpointing
        self.intents: IntentCatalog | None = None
        self._prompts: dict[tuple[str, str], bytes] = {}

    @property
    def available(self) -> bool:
        """True when at least one language can take speech turns."""
        return any(self.models.loaded(lang) for lang in self.models.languages)

    async def reload_intents(self, settings: Settings) -> None:
        """Take an edited intents file (and skill list) for the next speech turns."""
        self._settings = settings
        self.intents = await asyncio.to_thread(
            load_intents, settings.speech.intents, set(settings.skills)
        )

    async def start(self) -> None:
        self.intents = await asyncio.to_thread(
            load_intents, self._settings.speech.intents, set(self._settings.skills)
        )
        await self.server.start()
        for language, problem in (await self.models.load_all()).items():
            if problem:
                # One clear warning per language: its callers use keys only.
                log.warning("speech_disabled", language=language, reason=problem)
            else:
                log.info("speech_enabled", language=language)

    async def stop(self) -> None:
        await self.server.stop()
        self.recognizer.close()
        await self.models.unload()

    async def _prompt(self, language: str, prompts: tuple[str, ...]) -> bytes:
        parts = []
        for name in prompts:
            key = (language, name)
            if key not in self._prompts:
                path = self._settings.prompts_dir / "audio" / language / f"{name}.wav"
                self._prompts[key] = await asyncio.to_thread(read_prompt_pcm, path)
            parts.append(self._prompts[key])
        return b"".join(parts)

    async def turn(
        self, channel: AgiChannel, command: ListenForSpeech, language: str
    ) -> tuple[Event, dict[str, str]]:
        """Carry out one speech turn; the event for the engine and variables for the call."""
        how = plan(command, language, grammar_only=self._settings.speech.grammar_only,
                   intents=self.intents, endpointing=self.endpointing)
        mode, keywords = how.mode, how.keywords
        turn = self.recognizer.try_start(language, mode, keywords, how.endpointing,
                                         filler=how.filler)
        usage = self.recognizer.usage
        log.info("speech_turn", language=language, mode=mode, started=turn is not None,
                 pool_busy=usage.busy, pool_capacity=usage.capacity, pool_rejected=usage.rejected)
        if turn is None:
            return await self._by_keys(channel, command), {"speech_fallback": "keys"}
        call_id = self.streams.reserve()
        exec_task = asyncio.create_task(channel.command(
            "EXEC", "AudioSocket", f"{call_id},{self.server.address}"
        ))
        try:
            stream = await self.streams.claim(call_id, CLAIM_TIMEOUT)
        except StreamNotConnected:
            turn.cancel()
            self.streams.release(call_id)
            result = await exec_task
            log.warning("audiosocket_not_connected", agi_code=result.code)
            if result.hung_up:
                return NOTHING_HEARD, {}
            return await self._by_keys(channel, command), {"speech_fallback": "no_stream"}
        try:
            prompt = await self._prompt(language, command.prompts)
            outcome = await listen(stream, turn, prompt, deadline=TURN_DEADLINE)
        except (SpeechError, AudioError) as exc:
            log.error("speech_turn_failed", error=str(exc))
            outcome = None
        finally:
            await stream.close()
            await exec_task
        if outcome is None:
            return await self._by_keys(channel, command), {"speech_fallback": "error"}
        # A confirmation's barge-in is its own (a key cutting "you said ..., right?" short).
        barge_in = "confirm_barge_in" if command.purpose == "confirm" else "speech_barge_in"
        variables = {barge_in: "yes" if outcome.barged_in else "no"}
        if outcome.key:
            return DigitsCollected(outcome.key), variables
        transcript = outcome.transcript
        if transcript is None or not transcript.text:
            return NOTHING_HEARD, variables
        decision = decide(transcript, command.purpose, keywords, language, self.intents)
        evidence = decision.evidence
        log.info("speech_heard", purpose=command.purpose, transcript=transcript.text,
                 check=transcript.check_text, skill=decision.event.skill,
                 band=decision.event.band, score=evidence.score if evidence else 0.0,
                 coverage=evidence.coverage if evidence else 0.0)
        # The engine routes silently only in the accept band (see ivr.core.triage).
        return decision.event, variables | decision.variables

    async def _by_keys(self, channel: AgiChannel, command: ListenForSpeech) -> Event:
        """No recogniser for this turn: the same prompt, answered by a key."""
        for sound in command.prompts:
            result = await channel.stream_file(sound, ALL_KEYS)
            if result.hung_up:
                return NOTHING_HEARD
            if result.digit:
                return DigitsCollected(result.digit)
        if command.mode == "free":
            return NOTHING_HEARD  # the flow's fallback asks by keys
        result = await channel.wait_for_digit(int(command.timeout * 1000))
        return DigitsCollected(result.digit) if result.digit else DigitsCollected("", True)


def speech_variables_for_operator(variables: Mapping[str, str]) -> dict[str, str]:
    """Channel variables the operator's side reads (screen pop): what the caller said."""
    names = {
        "transcript": "IVR_TRANSCRIPT", "intent_category": "IVR_CATEGORY",
        "urgency": "IVR_URGENCY", "intent_confidence": "IVR_CONFIDENCE",
        "speech_band": "IVR_SPEECH_BAND", "speech_confirmed": "IVR_SPEECH_CONFIRMED",
    }
    return {channel: variables[key] for key, channel in names.items() if variables.get(key)}
