"""The live decision of a speech turn: what was heard -> the engine's event and the call's
variables. The speech service runs it on every call; ``ivr bench intents`` and ``ivr speech
triage`` run this same function on recordings.

The grading itself is pure (``ivr.core.triage``); this module picks the grading for the turn's
purpose and writes what the operator sees: the words heard with their confidences, the band,
the skill and the evidence, and the urgency (kept whatever the band).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ivr.core.flow import ListenForSpeech, SpeechHeard
from ivr.core.intents import DEFAULT_BANDS, IntentCatalog
from ivr.core.protocols.audiosocket import EndpointerSettings
from ivr.core.triage import Evidence, Triage, grade_keywords, grade_problem
from ivr.edges.vosk import Mode, Transcript

NOTHING_HEARD = SpeechHeard("", None, 0.0)


@dataclass(frozen=True, slots=True)
class TurnPlan:
    """How a ListenForSpeech is decoded: mode, grammar, filler words, endpointing."""

    mode: Mode
    keywords: tuple[str, ...]
    filler: tuple[str, ...]
    endpointing: EndpointerSettings


def plan(
    command: ListenForSpeech, language: str, *, grammar_only: Collection[str],
    intents: IntentCatalog | None, endpointing: EndpointerSettings,
) -> TurnPlan:
    """The decoding of one turn: a free turn in a grammar-only language listens for the intent
    phrases; every grammar turn gets the language's filler words (the check pass)."""
    mode: Mode = command.mode
    keywords = command.keywords
    if mode == "free" and language in grammar_only and intents is not None:
        keywords, mode = tuple(intents.keywords_for_grammar(language)), "grammar"
    filler = intents.filler(language) if mode == "grammar" and intents is not None else ()
    return TurnPlan(mode, keywords, filler,
                    dataclasses.replace(endpointing, no_speech_timeout=command.timeout))


@dataclass(frozen=True, slots=True)
class TurnDecision:
    """The event for the engine, the variables for the call, and the grading behind them."""

    event: SpeechHeard
    variables: dict[str, str]
    evidence: Evidence | None
    triage: Triage | None = None


def decide(
    transcript: Transcript, purpose: str, keywords: Sequence[str], language: str,
    intents: IntentCatalog | None,
) -> TurnDecision:
    """Grade one finished turn; ``purpose`` is the ListenForSpeech's (menu, problem, confirm)."""
    text = transcript.text
    if not text:
        return TurnDecision(NOTHING_HEARD, {}, None)
    lang = intents.languages.get(language) if intents is not None else None
    matching = lang.matching if lang is not None else "characters"
    bands = intents.bands(language) if intents is not None else DEFAULT_BANDS
    if purpose == "problem" and intents is not None:
        check = transcript.check_words if transcript.check_text is not None else None
        triage = grade_problem(text, transcript.words, check, language, intents)
        evidence = triage.evidence
        variables = _seen(evidence) | {
            "transcript": text,
            "intent_skill": triage.skill or "", "intent_category": triage.category or "",
            "urgency": triage.urgency, "intent_confidence": f"{evidence.score:.2f}",
            "intent_evidence": ", ".join(triage.cues),
        }
        event = SpeechHeard(text, triage.skill, evidence.score, triage.band)
        return TurnDecision(event, variables, evidence, triage)
    check = transcript.check_words if transcript.check_text is not None else None
    evidence = grade_keywords(text, transcript.words, check, keywords, bands, matching=matching)
    if purpose == "confirm":
        variables = {"confirm_heard": text, "confirm_words": evidence.words_text,
                     "confirm_band": evidence.band}
    else:
        variables = _seen(evidence) | {"transcript": text}
    return TurnDecision(SpeechHeard(text, None, evidence.score, evidence.band), variables,
                        evidence)


def _seen(evidence: Evidence) -> dict[str, str]:
    checked = {None: "", True: "yes", False: "no"}[evidence.checked]
    return {
        "speech_words": evidence.words_text, "speech_band": evidence.band,
        "speech_score": f"{evidence.score:.2f}", "speech_coverage": f"{evidence.coverage:.2f}",
        "speech_checked": checked,
    }
