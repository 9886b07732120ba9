"""Speech triage of recordings with the live code: ``ivr speech triage`` and ``ivr bench intents``.

A recording goes through what a call's "describe your problem" turn does, nothing else: the
turn plan (``plan``: grammar and filler words of a grammar-only language), a ``SpeechTurn`` of
the shared ``SpeechRecognizer`` fed 20 ms frames as AudioSocket delivers them (the same
endpointer decides when the caller stopped), the live decision (``decide``), and then the flow
engine itself, on a speech node that routes every skill of the language and falls back to a key
menu: so the action reported (route silently, confirm, keys) is the one a call would take.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ivr.core.flow import (
    ArrivalFacts,
    CollectDigits,
    Command,
    DigitsCollected,
    FlowRun,
    ListenForSpeech,
    Routed,
    RouteToQueue,
    load_flow,
)
from ivr.core.flow.model import confirm_prompt
from ivr.core.intents import IntentCatalog
from ivr.core.protocols.audiosocket import EndpointerSettings, Utterance
from ivr.core.settings import Settings
from ivr.edges.audio import read_telephony_pcm
from ivr.edges.vosk import ModelRegistry, ModelSource, SpeechRecognizer, Transcript
from ivr.errors import AudioError, ModelUnavailable, SpeechError
from ivr.speech.intents_file import load_intents
from ivr.speech.service import endpointing_for, recognizer_for
from ivr.speech.triage import NOTHING_HEARD, TurnDecision, decide, plan

FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit audio: one AudioSocket frame
PROBLEM_TIMEOUT = 6.0
KEY_MENU = "ivr/report-menu"
_NOON = datetime(2026, 1, 7, 12, 0)  # a fixed arrival: the flow below asks nothing of time


def problem_turn(timeout: float = PROBLEM_TIMEOUT) -> ListenForSpeech:
    """The "describe your problem" turn, as a speech node asks it."""
    return ListenForSpeech(("ivr/describe-problem",), "free", (), timeout, "problem")


@dataclass(frozen=True, slots=True)
class Heard:
    """One recording through the live path: what was heard, the decision, the flow's action.

    ``action``: ``route`` (silently), ``confirm`` (the caller is asked about ``skill``) or
    ``keys`` (the key menu). ``routed`` is where the call ends up once the caller answered a
    confirmation (``answer``): a skill, or None for the key menu.
    """

    file: str
    transcript: Transcript | None
    decision: TurnDecision
    action: str
    skill: str | None
    routed: str | None

    def to_dict(self) -> dict[str, object]:
        ev = self.decision.evidence
        t = self.transcript
        return {
            "file": self.file,
            "transcript": t.text if t else "",
            "check": t.check_text if t else None,
            "check_words": [[w, round(c, 3)] for w, c in t.check_words] if t else [],
            "words": [[w, round(c, 3)] for w, c in ev.words] if ev else [],
            "skill": self.skill,
            "band": self.decision.event.band or "reject",
            "action": self.action,
            "score": ev.score if ev else 0.0,
            "coverage": ev.coverage if ev else 0.0,
            "checked": ev.checked if ev else None,
            "urgency": self.decision.variables.get("urgency", "normal"),
            "evidence": self.decision.variables.get("intent_evidence", ""),
        }


async def hear(
    recognizer: SpeechRecognizer, pcm: bytes, language: str, *,
    intents: IntentCatalog | None, grammar_only: tuple[str, ...] | frozenset[str],
    endpointing: EndpointerSettings, command: ListenForSpeech | None = None,
) -> tuple[Transcript | None, TurnDecision]:
    """Decode one recording as a live turn would; ``SpeechError`` if no turn can start."""
    command = command or problem_turn()
    how = plan(command, language, grammar_only=grammar_only, intents=intents,
               endpointing=endpointing)
    turn = recognizer.try_start(language, how.mode, how.keywords, how.endpointing,
                                filler=how.filler)
    if turn is None:
        raise SpeechError(f"no speech turn for {language!r}: model not loaded or pool full")
    for start in range(0, len(pcm), FRAME_BYTES):
        turn.feed(pcm[start:start + FRAME_BYTES])
        if turn.over:
            break
    if turn.state is Utterance.WAITING:
        # The recording ended before anything loud enough to be speech: as a stream that ends.
        turn.cancel()
        return None, TurnDecision(NOTHING_HEARD, {}, None)
    transcript = await turn.finish()
    return transcript, decide(transcript, command.purpose, how.keywords, language, intents)


def triage_flow(skills: list[str], language: str, timeout: float = PROBLEM_TIMEOUT) -> str:
    """A flow with one speech node routing every skill, falling back to a key menu."""
    routes = "".join(f"      {skill}: to_{skill}\n" for skill in skills)
    targets = "".join(
        f"  to_{skill}: {{kind: route, skill: {skill}, priority: 5}}\n" for skill in skills
    )
    return (
        f"name: triage\nversion: '1'\nlanguages: [{language}]\nstart: describe\nnodes:\n"
        f"  describe:\n    kind: speech\n    prompts: [ivr/describe-problem]\n"
        f"    timeout: {timeout}\n    routes:\n{routes}    fallback: keys\n"
        f"  keys:\n    kind: menu\n    prompts: [{KEY_MENU}]\n"
        f"    options: {{'0': operator}}\n    on_exhausted: operator\n"
        f"  operator: {{kind: route, skill: hotline, priority: 5}}\n{targets}"
    )


class Triage:
    """The flow engine's side: what a call does with a decision (see the module docstring)."""

    def __init__(self, intents: IntentCatalog, language: str) -> None:
        self.language = language
        self.skills = sorted(intents.skills(language))
        self.flow = load_flow(triage_flow(self.skills, language), "triage")

    def act(
        self, file: str, transcript: Transcript | None, decision: TurnDecision,
        answer: Callable[[str], str] = lambda skill: "",
    ) -> Heard:
        """Run the engine on the decision; ``answer(skill)`` is the caller's key when asked to
        confirm ``skill`` ("1" yes, "2" no, "" silence)."""
        run = FlowRun(self.flow, ArrivalFacts("triage", self.language, _NOON))
        run.start()
        batch = run.handle(decision.event)
        action, skill = "keys", decision.event.skill
        if _asks_confirmation(batch[-1], skill):
            action = "confirm"
            assert skill is not None  # noqa: S101 - a confirmation names its skill
            batch = run.handle(DigitsCollected(answer(skill)))
        elif isinstance(batch[-1], RouteToQueue):
            action = "route"
        routed = run.outcome.skill if isinstance(run.outcome, Routed) else None
        return Heard(file, transcript, decision, action, skill, routed)


def _asks_confirmation(command: Command, skill: str | None) -> bool:
    if skill is None:
        return False
    prompts = command.prompts if isinstance(command, ListenForSpeech | CollectDigits) else ()
    return prompts == (confirm_prompt(skill),)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A file that could not be triaged, and why (the others go on)."""

    file: str
    error: str

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "error": self.error}


async def triage_files(
    settings: Settings, files: Sequence[Path], language: str
) -> AsyncIterator[Heard | Unreadable]:
    """Each recording through the live decision, the model loaded once; one result per file,
    in order. ``ModelUnavailable`` (before any file) when the language has no model."""
    value = settings.speech.models.get(language)
    if value is None:
        raise ModelUnavailable(f"no speech model configured for language {language!r} "
                               "(config/ivr.toml [speech.models])")
    intents = await asyncio.to_thread(load_intents, settings.speech.intents, set(settings.skills))
    if language not in intents.languages:
        raise ModelUnavailable(f"{settings.speech.intents} has no intents for {language!r}")
    models = ModelRegistry([ModelSource.from_config(language, value)])
    await models.load(language)
    recognizer = recognizer_for(settings.speech, models, workers=1)
    endpointing = endpointing_for(settings.speech)
    flow = Triage(intents, language)
    try:
        for path in files:
            try:
                pcm = await asyncio.to_thread(read_telephony_pcm, path)
            except AudioError as exc:
                yield Unreadable(str(path), str(exc))
                continue
            transcript, decision = await hear(
                recognizer, pcm, language, intents=intents,
                grammar_only=settings.speech.grammar_only, endpointing=endpointing,
            )
            yield flow.act(str(path), transcript, decision)
    finally:
        recognizer.close()
        await models.unload()


def describe(heard: Heard) -> str:
    """One line per file for people: what was heard, the evidence, the band, the action."""
    ev = heard.decision.evidence
    said = heard.transcript.text if heard.transcript else ""
    words = ev.words_text if ev else ""
    check = heard.transcript.check_text if heard.transcript else None
    action = {"route": f"route to {heard.skill} silently",
              "confirm": f"ask the caller to confirm {heard.skill}",
              "keys": "key menu"}[heard.action]
    urgency = heard.decision.variables.get("urgency", "normal")
    parts = [
        f"{heard.file}: heard {said!r}" if said else f"{heard.file}: nothing heard",
        f"words [{words}]" if words else "",
        f"check {check!r}" if check is not None and said else "",
        (f"score {ev.score:.2f} coverage {ev.coverage:.2f}" if ev else ""),
        f"skill {heard.skill or '-'}", f"band {heard.decision.event.band or 'reject'}",
        f"urgency {urgency}" if urgency != "normal" else "",
        f"-> {action}",
    ]
    return "; ".join(p for p in parts if p)
