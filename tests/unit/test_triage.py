"""Accept / confirm / reject: the grading of what a caller said (ivr.core.triage) and the live
decision built on it (ivr.speech.triage)."""

from __future__ import annotations

import pytest

from ivr.core.intents import Bands, IntentCatalog
from ivr.core.triage import answer, answer_key, assess, grade_keywords, grade_problem
from ivr.edges.vosk import Transcript
from ivr.speech.triage import decide

CATALOG = IntentCatalog.from_mapping({
    "bands": {"accept": 0.9, "confirm": 0.5, "coverage": 0.5},
    "languages": {
        "ko": {
            "matching": "characters",
            "intents": [
                {"skill": "utilities", "category": "gas_leak", "urgency": "emergency",
                 "phrases": ["가스 냄새"]},
                {"skill": "utilities", "category": "power", "phrases": ["정전"]},
                {"skill": "environment", "category": "noise", "phrases": ["소음"]},
                {"skill": "labour", "category": "wages", "phrases": ["임금", "노동"]},
            ],
            "urgency": {"emergency": ["긴급"]},
            "filler": ["너무", "여기"],
        },
        "zh": {"matching": "characters",
               "intents": [{"skill": "traffic", "category": "road", "phrases": ["红绿灯"]}],
               "bands": {"accept": 0.8, "confirm": 0.3, "coverage": 0.0}},
    },
})
BANDS = CATALOG.bands("ko")


def test_a_clear_keyword_alone_is_accepted() -> None:
    ev = assess([("소음", 0.95)], ["소음"], BANDS, matching="characters", check=[("소음", 0.7)])
    assert (ev.band, ev.coverage, ev.confidence, ev.checked) == ("accept", 1.0, 0.95, True)


@pytest.mark.parametrize(
    ("words", "check", "band"),
    [
        # Gone once the filler words compete for the sound: ask, never act.
        ([("소음", 0.95)], [("너무", 0.9)], "confirm"),
        # Still there, but a third of what was said: ask.
        ([("소음", 1.0)], [("소음", 0.95), ("너무", 0.9), ("여기", 0.9)], "confirm"),
        ([("소음", 0.6)], [("소음", 0.9)], "confirm"),
        ([("소음", 0.3)], [("소음", 0.9)], "reject"),
        ([("소음", 0.95)], None, "accept"),  # free-form decoding: no check to fail
        ([("너무", 1.0)], None, "reject"),  # filler only: nothing points anywhere
        ([], None, "reject"),
    ],
)
def test_weak_or_partial_evidence_is_never_accepted(
    words: list[tuple[str, float]], check: list[tuple[str, float]] | None, band: str
) -> None:
    phrases = ["소음"] if any(w == "소음" for w, _ in words) else []
    assert assess(words, phrases, BANDS, matching="characters", check=check).band == band


def test_two_skills_named_halve_the_score() -> None:
    triage = grade_problem("소음 임금", [("소음", 1.0), ("임금", 1.0)], None, "ko", CATALOG)
    assert triage.evidence.share == 0.5
    assert triage.band == "confirm"


def test_an_emergency_cue_is_kept_whatever_the_band() -> None:
    """A weakly heard gas smell is not routed silently, but the call keeps the emergency."""
    heard = Transcript("가스 냄새", 0.3, (("가스", 0.3), ("냄새", 0.2)), check_text="너무",
                       check_words=(("너무", 0.9),))
    decision = decide(heard, "problem", (), "ko", CATALOG)
    assert decision.event.band == "reject"
    assert decision.variables["urgency"] == "emergency"
    assert decision.variables["intent_evidence"] == "가스 냄새"
    assert decision.variables["speech_words"] == "가스 0.30 냄새 0.20"


def test_decision_for_the_operator_names_words_band_and_check() -> None:
    heard = Transcript("정전", 1.0, (("정전", 1.0),), check_text="정전",
                       check_words=(("정전", 0.97),))
    decision = decide(heard, "problem", (), "ko", CATALOG)
    assert decision.event.skill == "utilities"
    assert decision.event.band == "accept"
    assert decision.variables | {"speech_band": "accept", "speech_checked": "yes",
                                 "intent_category": "power",
                                 "speech_words": "정전 1.00"} == decision.variables


def test_free_form_language_uses_its_own_bands_without_coverage() -> None:
    words = [("那个", 0.9), ("红绿灯", 0.95), ("坏了", 0.9)]
    triage = grade_problem("那个红绿灯坏了", words, None, "zh", CATALOG)
    assert (triage.skill, triage.band) == ("traffic", "accept")


def test_menu_keyword_graded_with_the_filler_check() -> None:
    words = [("상담원", 0.99), ("연결", 0.98)]
    sure = grade_keywords("상담원 연결", words, words, ["상담원 연결"], BANDS)
    lost = grade_keywords("상담원 연결", words, [("너무", 1.0), ("여기", 1.0)], ["상담원 연결"],
                          BANDS)
    assert (sure.band, lost.band) == ("accept", "confirm")


@pytest.mark.parametrize(
    ("said", "band", "expected"),
    [("네", "accept", "yes"), ("아니요", "accept", "no"), ("네 아니요", "accept", "no"),
     ("네", "reject", "none"), ("너무", "accept", "none"), ("", None, "none")],
)
def test_yes_no_answers(said: str, band: str | None, expected: str) -> None:
    assert answer(said, "ko", band) == expected  # type: ignore[arg-type]


def test_keys_answer_yes_1_no_2() -> None:
    assert [answer_key(k) for k in ("1", "2", "", "5")] == ["yes", "no", "none", "none"]


def test_bands_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="confirm"):
        Bands(accept=0.4, confirm=0.6)
