"""Intent matching: what a caller's words are about (skill, category) and how urgent they are.

Pure: ``IntentCatalog.from_mapping`` takes the parsed ``config/intents.yaml``
(``ivr.speech.intents_file.load_intents`` reads it).

Theory of operation
-------------------
``config/intents.yaml`` lists, per language, *intents* (phrases -> skill, category, optionally an
urgency such as "a gas smell is an emergency") and *urgency cues* (phrases -> urgency only,
such as "an old man living alone"). ``IntentCatalog.match(text, language)``:

1. normalises the text (NFKC, case folded). Languages written without word spaces (``zh``) or
   with particles glued to words (``ko``) use ``matching: characters``: spaces are ignored and
   phrases match anywhere. ``matching: words`` (``en``) matches whole words only.
2. finds every phrase, longest first, never two on overlapping text ("交通事故" is one piece of
   evidence, not also "交通").
3. sums phrase weights per skill; the best skill wins, its best category is the category.
4. ``confidence = strength * share * asr_confidence`` where ``strength = min(1, best / 1.0)``
   (one full-weight phrase is enough evidence), ``share`` is the best skill's part of all
   evidence (two skills named equally: 0.5), and ``asr_confidence`` is the recogniser's.
5. urgency is the highest level any matched phrase carries (emergency > elderly > normal).

A match below the catalog's ``threshold`` is returned with ``confident=False``: the flow must
confirm ("did you mean traffic? press 1") or offer the DTMF sub-menu, never route on it
silently. No evidence at all gives ``skill=None``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from ivr.errors import ConfigError, ConfigProblem

URGENCY_LEVELS: Final = ("normal", "elderly", "emergency")  # routing.Urgency values, ascending
DEFAULT_THRESHOLD: Final = 0.6
FULL_EVIDENCE: Final = 1.0
_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_NOT_WORD = re.compile(r"[^\w]+")
Matching = Literal["characters", "words"]


@dataclass(frozen=True, slots=True)
class Intent:
    """Phrases that point to one skill and category; ``urgency`` if they also mean urgency."""

    skill: str
    category: str
    phrases: tuple[str, ...]
    urgency: str = "normal"
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class UrgencyCue:
    phrases: tuple[str, ...]
    urgency: str


@dataclass(frozen=True, slots=True)
class Bands:
    """A language's accept / confirm / coverage thresholds (``ivr.core.triage`` grades with
    them; ``config/intents.yaml`` sets them)."""

    accept: float | None = 0.9  # None: never route silently (always confirm or keys)
    confirm: float = 0.5
    coverage: float = 0.5

    def __post_init__(self) -> None:
        for name in ("accept", "confirm", "coverage"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1, not {value}")
        if self.accept is not None and self.confirm > self.accept:
            raise ValueError("confirm must not be above accept")


DEFAULT_BANDS: Final = Bands(accept=0.9, confirm=0.5, coverage=0.5)


@dataclass(frozen=True, slots=True)
class LanguageIntents:
    language: str
    matching: Matching
    intents: tuple[Intent, ...]
    urgency_cues: tuple[UrgencyCue, ...] = ()
    filler: tuple[str, ...] = ()  # grammar words that are evidence of nothing (see triage)
    bands: Bands | None = None  # None: the catalog's


@dataclass(frozen=True, slots=True)
class IntentMatch:
    """The outcome of one match, with the phrases that justify it (for the operator's screen).

    ``skill`` is None when nothing matched. ``confident`` is False when the flow must confirm
    or offer the DTMF sub-menu instead of routing.
    """

    skill: str | None
    category: str | None
    urgency: str
    confidence: float
    evidence: tuple[str, ...]
    confident: bool
    alternatives: tuple[str, ...] = ()  # other skills with evidence, best first

    @property
    def needs_confirmation(self) -> bool:
        return self.skill is not None and not self.confident


@dataclass(frozen=True, slots=True)
class _Phrase:
    text: str  # as configured: the evidence shown to people
    key: str  # normalised for matching
    skill: str | None
    category: str | None
    urgency: str
    weight: float


def normalise(text: str, matching: Matching) -> str:
    """The form phrases and transcripts are compared in; see the module docstring."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if matching == "characters":
        return "".join(_NOT_WORD.sub(" ", folded).split())
    return " " + " ".join(_NOT_WORD.sub(" ", folded).split()) + " "


class IntentCatalog:
    """Every language's intents, ready to match; build with ``from_mapping``."""

    def __init__(
        self, languages: Iterable[LanguageIntents], threshold: float,
        bands: Bands = DEFAULT_BANDS,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be within 0..1")
        self.threshold = threshold
        self.default_bands = bands
        self.languages = {lang.language: lang for lang in languages}
        self._phrases = {code: _index(lang) for code, lang in self.languages.items()}
        self._skill_order = {
            code: {skill: n for n, skill in enumerate(dict.fromkeys(i.skill for i in lang.intents))}
            for code, lang in self.languages.items()
        }

    def match(self, text: str, language: str, asr_confidence: float = 1.0) -> IntentMatch:
        """Match a transcript in ``language``; unknown languages match nothing."""
        lang = self.languages.get(language)
        if lang is None or not text.strip():
            return IntentMatch(None, None, "normal", 0.0, (), confident=False)
        haystack = normalise(text, lang.matching)
        taken: list[tuple[int, int]] = []
        found: list[_Phrase] = []
        for phrase in self._phrases[language]:
            key = phrase.key if lang.matching == "characters" else f" {phrase.key} "
            for m in re.finditer(re.escape(key), haystack):
                span = (m.start(), m.end()) if lang.matching == "characters" else (
                    m.start() + 1, m.end() - 1
                )
                if all(span[1] <= a or span[0] >= b for a, b in taken):
                    taken.append(span)
                    found.append(phrase)
        urgency = max(
            (p.urgency for p in found), key=URGENCY_LEVELS.index, default="normal"
        )
        scores: dict[str, float] = {}
        categories: dict[tuple[str, str], float] = {}
        for p in found:
            if p.skill is None or p.category is None:
                continue
            scores[p.skill] = scores.get(p.skill, 0.0) + p.weight
            categories[p.skill, p.category] = categories.get((p.skill, p.category), 0.0) + p.weight
        evidence = tuple(dict.fromkeys(p.text for p in found))
        if not scores:
            return IntentMatch(None, None, urgency, 0.0, evidence, confident=False)
        order = self._skill_order[language]
        ranked = sorted(scores, key=lambda s: (-scores[s], order[s]))  # ties: config order
        best = ranked[0]
        category = max(
            (c for s, c in categories if s == best), key=lambda c: categories[best, c]
        )
        strength = min(1.0, scores[best] / FULL_EVIDENCE)
        share = scores[best] / sum(scores.values())
        confidence = round(strength * share * min(1.0, max(0.0, asr_confidence)), 4)
        return IntentMatch(
            skill=best,
            category=category,
            urgency=urgency,
            confidence=confidence,
            evidence=evidence,
            confident=confidence >= self.threshold,
            alternatives=tuple(ranked[1:]),
        )

    def keywords_for_grammar(self, language: str) -> list[str]:
        """Every phrase of the language, once, in config order: a Vosk grammar for a menu turn."""
        lang = self.languages.get(language)
        if lang is None:
            return []
        phrases = [p for i in lang.intents for p in i.phrases]
        phrases += [p for cue in lang.urgency_cues for p in cue.phrases]
        return list(dict.fromkeys(phrases))

    def filler(self, language: str) -> tuple[str, ...]:
        """The language's filler words (grammar turns: evidence of nothing)."""
        lang = self.languages.get(language)
        return lang.filler if lang else ()

    def bands(self, language: str) -> Bands:
        """The language's accept / confirm / coverage thresholds."""
        lang = self.languages.get(language)
        return lang.bands if lang is not None and lang.bands is not None else self.default_bands

    def skill_phrases(self, language: str, skill: str) -> tuple[str, ...]:
        """Every phrase pointing to ``skill`` (its evidence, for grading a match)."""
        lang = self.languages.get(language)
        if lang is None:
            return ()
        return tuple(p for i in lang.intents if i.skill == skill for p in i.phrases)

    def skills(self, language: str) -> set[str]:
        lang = self.languages.get(language)
        return {i.skill for i in lang.intents} if lang else set()

    # ------------------------------------------------------------ loading

    @classmethod
    def from_mapping(
        cls, data: Any, source: str = "intents.yaml", known_skills: Iterable[str] | None = None
    ) -> IntentCatalog:
        """Validate the YAML structure; every problem is reported together in a ConfigError."""
        problems: list[ConfigProblem] = []

        def problem(key: str, reason: str) -> None:
            problems.append(ConfigProblem(source, key, reason))

        skills = set(known_skills) if known_skills is not None else None
        if not isinstance(data, Mapping):
            raise ConfigError([ConfigProblem(source, "(top)", "must be a mapping")])
        default_bands = _bands(data.get("bands"), "bands", DEFAULT_BANDS, problem)
        threshold = data.get("threshold", DEFAULT_THRESHOLD)
        if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
            problem("threshold", "must be a number within 0..1")
            threshold = DEFAULT_THRESHOLD
        languages_data = data.get("languages")
        languages: list[LanguageIntents] = []
        if not isinstance(languages_data, Mapping) or not languages_data:
            problem("languages", "must map language codes to their intents")
            languages_data = {}
        for code, body in languages_data.items():
            where = f"languages.{code}"
            if not isinstance(body, Mapping):
                problem(where, "must be a mapping")
                continue
            matching = body.get("matching", "characters")
            if matching not in ("characters", "words"):
                problem(f"{where}.matching", "must be 'characters' or 'words'")
                matching = "characters"
            intents = []
            seen: dict[str, str] = {}
            for n, item in enumerate(body.get("intents") or []):
                at = f"{where}.intents[{n}]"
                if not isinstance(item, Mapping):
                    problem(at, "must be a mapping")
                    continue
                skill, category = item.get("skill"), item.get("category")
                if not isinstance(skill, str) or not _ID.match(skill):
                    problem(f"{at}.skill", "must be a skill id")
                    continue
                if skills is not None and skill not in skills:
                    problem(f"{at}.skill", f"unknown skill {skill!r}")
                if not isinstance(category, str) or not _ID.match(category):
                    problem(f"{at}.category", "must be a lower-case id")
                    continue
                urgency = item.get("urgency", "normal")
                if urgency not in URGENCY_LEVELS:
                    problem(f"{at}.urgency", f"must be one of {', '.join(URGENCY_LEVELS)}")
                    urgency = "normal"
                weight = item.get("weight", 1.0)
                if not isinstance(weight, int | float) or not 0 < weight <= 10:
                    problem(f"{at}.weight", "must be a number within (0, 10]")
                    weight = 1.0
                phrases = _phrases(item.get("phrases"), f"{at}.phrases", problem)
                for phrase in phrases:
                    key = normalise(phrase, matching)
                    if key in seen and seen[key] != f"{skill}/{category}":
                        problem(f"{at}.phrases", f"{phrase!r} already means {seen[key]}")
                    seen[key] = f"{skill}/{category}"
                intents.append(Intent(skill, category, phrases, urgency, float(weight)))
            cues = []
            for level, cue_phrases in (body.get("urgency") or {}).items():
                if level not in URGENCY_LEVELS[1:]:
                    problem(f"{where}.urgency.{level}", "must be elderly or emergency")
                    continue
                cues.append(UrgencyCue(_phrases(cue_phrases, f"{where}.urgency.{level}", problem),
                                       level))
            if not intents:
                problem(f"{where}.intents", "must list at least one intent")
            filler: tuple[str, ...] = ()
            if body.get("filler") is not None:
                filler = _phrases(body.get("filler"), f"{where}.filler", problem)
                keys = [normalise(p, matching).strip() for i in intents for p in i.phrases]
                for word in filler:
                    w = normalise(word, matching).strip()
                    if any(w in k or k in w for k in keys) if matching == "characters" else (
                        w in keys
                    ):
                        problem(f"{where}.filler", f"{word!r} is part of an intent phrase")
            bands = (
                _bands(body.get("bands"), f"{where}.bands", default_bands, problem)
                if body.get("bands") is not None else None
            )
            languages.append(LanguageIntents(
                str(code), matching, tuple(intents), tuple(cues), filler, bands
            ))
        if problems:
            raise ConfigError(problems)
        return cls(languages, float(threshold), default_bands)


def _bands(value: Any, where: str, default: Bands, problem: Any) -> Bands:
    if value is None:
        return default
    if not isinstance(value, Mapping):
        problem(where, "must map accept, confirm and coverage to numbers within 0..1")
        return default
    numbers: dict[str, float | None] = {}
    for name in ("accept", "confirm", "coverage"):
        number = value.get(name, getattr(default, name))
        if number is None and name == "accept":
            numbers[name] = None  # never route silently
            continue
        if isinstance(number, bool) or not isinstance(number, int | float) or not (
            0.0 <= number <= 1.0
        ):
            problem(f"{where}.{name}", "must be a number within 0..1"
                    + (" (or null: never route silently)" if name == "accept" else ""))
            number = getattr(default, name)
        numbers[name] = float(number)
    for name in value:
        if name not in numbers:
            problem(f"{where}.{name}", "unknown key (accept, confirm, coverage)")
    accept = numbers["accept"]
    confirm, coverage = numbers["confirm"] or 0.0, numbers["coverage"] or 0.0  # never null
    if accept is not None and confirm > accept:
        problem(f"{where}.confirm", "must not be above accept")
        return default
    return Bands(accept=accept, confirm=confirm, coverage=coverage)


def _phrases(value: Any, where: str, problem: Any) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        problem(where, "must be a non-empty list of phrases")
        return ()
    good = []
    for phrase in value:
        if not isinstance(phrase, str) or not phrase.strip():
            problem(where, f"not a phrase: {phrase!r}")
        else:
            good.append(phrase.strip())
    return tuple(good)


def _index(lang: LanguageIntents) -> list[_Phrase]:
    phrases = [
        _Phrase(p, normalise(p, lang.matching).strip(), i.skill, i.category, i.urgency, i.weight)
        for i in lang.intents
        for p in i.phrases
    ]
    phrases += [
        _Phrase(p, normalise(p, lang.matching).strip(), None, None, cue.urgency, 0.0)
        for cue in lang.urgency_cues
        for p in cue.phrases
    ]
    # Longest first, so the most specific phrase claims its words before a shorter one.
    return sorted(phrases, key=lambda p: -len(p.key))
