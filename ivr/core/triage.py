"""Accept / confirm / reject: how sure the IVR is of what a caller said, and what it does. Pure.

Theory of operation
-------------------
A wrong desk costs the citizen a transfer and the hotline an operator's time, so a speech turn
(a menu turn, a "describe your problem" turn, a yes/no confirmation) never routes on weak
evidence. ``assess`` turns what the recogniser heard into ``Evidence`` and a ``Band``:

``accept``
    strong evidence: the flow routes silently;
``confirm``
    some evidence: the flow asks "you said <skill>, right? yes 1, no 2" in the caller's language
    (a yes/no word or a key answers); "no", silence or anything else gives the key menu;
``reject``
    nothing worth asking about: the key menu.

The evidence (``Evidence``), all shown to the operator:

* ``words``: every word heard with Vosk's per-word confidence;
* ``keyword_words``: the words that belong to a phrase pointing to the winning label (a skill,
  a menu key, yes or no), and ``confidence``, their mean confidence;
* ``coverage``: the part of the words heard that are keyword words. A grammar decoder forces
  every sound onto *some* grammar word; the filler vocabulary (``filler`` in
  ``config/intents.yaml``) gives out-of-vocabulary speech somewhere else to go, so a sentence
  about something the grammar does not know comes back as filler words with low coverage
  (measured in the check pass below when it ran);
* ``share``: the winning label's part of all evidence (two skills named equally: 0.5);
* ``checked``: in grammar mode the audio is decoded twice, once with the keywords alone and
  once with keywords plus filler words. A keyword that is still heard when the filler words
  compete for the same sounds was really said; one that disappears was the only place the
  decoder could put the sound. ``None`` when no check ran (free-form decoding).

``score = confidence * share``. ``accept`` needs ``score >= bands.accept``, ``coverage >=
bands.coverage`` and a check that did not fail (``bands.accept`` None: never, for a recogniser
whose strongest evidence still misroutes); ``confirm`` needs ``score >= bands.confirm``;
otherwise ``reject``. The thresholds live in ``config/intents.yaml`` (per language) with the
figures of ``ivr bench intents`` that justify them.

Emergency cues are never dropped: the urgency of a match does not depend on the band (the
caller may go to the key menu, but the call keeps its emergency priority and the operator sees
the cue). That is the intent matcher's job (``ivr.core.intents``); this module only grades.

``CONFIRM_WORDS`` holds the yes and no words per language for confirmation turns (words the
test locale's Korean model has in its vocabulary); key 1 is always yes and key 2 no.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from ivr.core.intents import Bands, IntentCatalog, Matching, normalise

__all__ = [
    "Bands", "Evidence", "Triage", "answer", "answer_key", "assess", "confirm_words",
    "grade_keywords", "grade_problem",
]

Band = Literal["accept", "confirm", "reject"]
BANDS: Final = ("accept", "confirm", "reject")
Answer = Literal["yes", "no", "none"]
YES_KEY: Final = "1"
NO_KEY: Final = "2"

Word = tuple[str, float]

CONFIRM_WORDS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "zh": (("是", "是的", "对", "对的", "没错"), ("不是", "不对", "错了")),
    "en": (("yes", "yeah", "right", "correct"), ("no", "wrong", "not")),
    "ko": (("네", "예", "그래요"), ("아니요", "아니오", "아니", "아닙니다")),
}
CONFIRM_MATCHING: Final[Mapping[str, Matching]] = {"zh": "characters", "en": "words",
                                                   "ko": "characters"}


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a band was decided from (shown to the operator, stored with the call)."""

    words: tuple[Word, ...]
    keyword_words: tuple[Word, ...]
    confidence: float
    coverage: float
    share: float
    checked: bool | None
    score: float
    band: Band

    @property
    def words_text(self) -> str:
        """``"소음 0.82 너무 0.41"``: the words heard with their confidences."""
        return " ".join(f"{w} {c:.2f}" for w, c in self.words)


NOTHING: Final = Evidence((), (), 0.0, 0.0, 0.0, None, 0.0, "reject")


def keyword_words(
    words: Sequence[Word], phrases: Iterable[str], matching: Matching
) -> tuple[Word, ...]:
    """The words heard that are part of one of ``phrases`` (the evidence of the winner)."""
    keys = [normalise(p, matching).strip() for p in phrases]
    keys = [k for k in keys if k]
    if matching == "words":
        parts = {part for k in keys for part in k.split()}
        return tuple((w, c) for w, c in words if normalise(w, matching).strip() in parts)
    found = []
    for w, c in words:
        key = normalise(w, matching)
        if key and any(key in k or k in key for k in keys):
            found.append((w, c))
    return tuple(found)


def assess(
    words: Sequence[Word],
    phrases: Iterable[str],
    bands: Bands,
    *,
    matching: Matching,
    share: float = 1.0,
    check: Sequence[Word] | None = None,
) -> Evidence:
    """Grade what was heard against the evidence phrases of the winning label.

    ``phrases`` are the phrases found for the winner (empty: nothing pointed anywhere);
    ``share`` its part of all evidence; ``check`` the words of the filler pass (grammar mode),
    None when none ran. With a check, ``coverage`` comes from it (there the keywords competed
    with the filler words for the sounds), and a keyword missing from it fails the check.
    """
    heard = _clean(words)
    if not heard:
        return NOTHING
    phrases = list(phrases)
    evidence = keyword_words(heard, phrases, matching)
    checked: bool | None = None
    covered, among = evidence, heard
    if check is not None:
        among = _clean(check)
        covered = keyword_words(among, phrases, matching) if phrases else ()
        checked = bool(covered)
    if not evidence:
        return Evidence(heard, (), 0.0, 0.0, 0.0, checked, 0.0, "reject")
    confidence = sum(c for _, c in evidence) / len(evidence)
    coverage = len(covered) / len(among) if among else 0.0
    share = min(1.0, max(0.0, share))
    score = round(confidence * share, 4)
    band: Band
    if (bands.accept is not None and score >= bands.accept and coverage >= bands.coverage
            and checked is not False):
        band = "accept"
    elif score >= bands.confirm:
        band = "confirm"
    else:
        band = "reject"
    return Evidence(heard, evidence, round(confidence, 4), round(coverage, 4), share,
                    checked, score, band)


def _clean(words: Sequence[Word]) -> tuple[Word, ...]:
    return tuple((w, min(1.0, max(0.0, float(c)))) for w, c in words if w)


def phrases_in(text: str, phrases: Iterable[str], matching: Matching) -> set[str]:
    """Which of ``phrases`` occur in ``text`` (the check pass: did the keyword survive?)."""
    haystack = normalise(text, matching)
    found = set()
    for phrase in phrases:
        key = normalise(phrase, matching)
        if key.strip() and key in haystack:
            found.add(phrase)
    return found


def confirm_words(language: str) -> tuple[str, ...]:
    """The grammar of a confirmation turn in ``language`` (yes words, then no words)."""
    yes, no = CONFIRM_WORDS.get(language, ((), ()))
    return yes + no


def answer(transcript: str, language: str, band: Band | None) -> Answer:
    """The caller's answer to "did you mean ...?": a no word wins over a yes word (a caller who
    says "no, not that" must not be routed); a yes needs a band above reject."""
    yes, no = CONFIRM_WORDS.get(language, ((), ()))
    matching = CONFIRM_MATCHING.get(language, "words")
    said = normalise(transcript, matching)
    if not said.strip():
        return "none"
    if _has(said, no, matching):
        return "no"
    if _has(said, yes, matching) and band != "reject":
        return "yes"
    return "none"


def answer_key(digits: str) -> Answer:
    key = digits[:1]
    return "yes" if key == YES_KEY else "no" if key == NO_KEY else "none"


def _has(said: str, words: Iterable[str], matching: Matching) -> bool:
    for word in words:
        key = normalise(word, matching)
        if key.strip() and key in said:
            return True
    return False


# ---------------------------------------------------------------- the live decision


@dataclass(frozen=True, slots=True)
class Triage:
    """A "describe your problem" turn graded: the skill it points to, the band, the evidence,
    and the urgency (kept whatever the band: an emergency cue is never dropped)."""

    transcript: str
    skill: str | None
    category: str | None
    urgency: str
    cues: tuple[str, ...]  # the phrases found (for the operator)
    evidence: Evidence

    @property
    def band(self) -> Band:
        return self.evidence.band if self.skill is not None else "reject"


def grade_problem(
    text: str,
    words: Sequence[Word],
    check: Sequence[Word] | None,
    language: str,
    catalog: IntentCatalog,
) -> Triage:
    """Grade a "describe your problem" turn: the intent of ``text``, then its evidence.

    ``check`` is the words of the filler pass (grammar mode) or None (free-form decoding).
    """
    match = catalog.match(text, language)  # confidence = strength * share, ASR apart
    lang = catalog.languages.get(language)
    matching: Matching = lang.matching if lang is not None else "words"
    if match.skill is None:
        evidence = assess(words, (), catalog.bands(language), matching=matching)
        return Triage(text, None, None, match.urgency, match.evidence, evidence)
    own = set(catalog.skill_phrases(language, match.skill))
    phrases = [p for p in match.evidence if p in own]
    evidence = assess(words, phrases, catalog.bands(language), matching=matching,
                      share=match.confidence, check=check)
    return Triage(text, match.skill, match.category, match.urgency, match.evidence, evidence)


def grade_keywords(
    text: str,
    words: Sequence[Word],
    check: Sequence[Word] | None,
    keywords: Sequence[str],
    bands: Bands,
    *,
    matching: Matching = "characters",
) -> Evidence:
    """Grade a menu or confirmation turn: did the caller clearly say one of ``keywords``?"""
    found = phrases_in(text, keywords, matching)
    return assess(words, found, bands, matching=matching, check=check)
