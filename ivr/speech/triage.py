"""The live decision of a speech turn: what was heard -> the engine's event and the call's
variables. The speech service runs it on every call; ``ivr bench intents`` and ``ivr speech
triage`` run this same function on recordings.

The grading itself is pure (``ivr.core.triage``); this module picks the grading for the turn's
purpose and writes what the operator sees: the words heard with their confidences, the band,
the skill and the evidence, and the urgency (kept whatever the band).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ivr.core.flow import SpeechHeard
from ivr.core.intents import DEFAULT_BANDS, IntentCatalog
from ivr.core.triage import Evidence, Triage, grade_keywords, grade_problem
from ivr.edges.vosk import Transcript

NOTHING_HEARD = SpeechHeard("", None, 0.0)


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
        triage = grade_problem(text, transcript.words, transcript.check_text, language, intents)
        evidence = triage.evidence
        variables = _seen(evidence) | {
            "transcript": text,
            "intent_skill": triage.skill or "", "intent_category": triage.category or "",
            "urgency": triage.urgency, "intent_confidence": f"{evidence.score:.2f}",
            "intent_evidence": ", ".join(triage.cues),
        }
        event = SpeechHeard(text, triage.skill, evidence.score, triage.band)
        return TurnDecision(event, variables, evidence, triage)
    evidence = grade_keywords(text, transcript.words, transcript.check_text, keywords, bands,
                              matching=matching)
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
