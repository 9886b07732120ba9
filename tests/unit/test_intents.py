"""Intent matching on transcripts: skill, category, urgency, confidence and evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.core.intents import IntentCatalog
from ivr.errors import ConfigError
from ivr.speech.intents_file import load_intents

ROOT = Path(__file__).resolve().parents[2]
SKILLS = [s["id"] for s in yaml.safe_load((ROOT / "config" / "skills.yaml").read_text())["skills"]]


@pytest.fixture(scope="module")
def catalog() -> IntentCatalog:
    return load_intents(ROOT / "config" / "intents.yaml", SKILLS)


ROUTED = [
    # language, what the caller said, skill, category, urgency
    ("zh", "我家楼下夜间施工噪音太大了", "environment", "noise", "normal"),
    ("zh", "厨房里闻到煤气味", "utilities", "gas_leak", "emergency"),
    ("zh", "小区停水两天了", "utilities", "water", "normal"),
    ("zh", "老板拖欠工资三个月", "labour", "wages", "normal"),
    ("zh", "路口 红绿灯 坏 了", "traffic", "road", "normal"),  # Vosk puts spaces between words
    ("zh", "买到假货商家不给退款", "market", "consumer_rights", "normal"),
    ("zh", "我想查询工单进度", "case_status", "progress", "normal"),
    ("zh", "转人工", "hotline", "operator", "normal"),
    ("zh", "独居老人家里暖气不热", "utilities", "heating", "elderly"),
    ("en", "There is construction noise at night near my building", "environment", "noise",
     "normal"),
    ("en", "I can smell gas in the kitchen", "utilities", "gas_leak", "emergency"),
    ("en", "My employer has not paid my wages", "labour", "wages", "normal"),
    ("en", "There's a huge POTHOLE on our street!", "traffic", "road", "normal"),
    ("en", "I want to talk to an operator", "hotline", "operator", "normal"),
    ("ko", "상담원 연결", "hotline", "operator", "normal"),
    ("ko", "환경", "environment", "pollution", "normal"),
    ("ko", "노동", "labour", "wages", "normal"),
    ("ko", "문의", "inquiry", "policy", "normal"),
    ("ko", "처리 현황", "case_status", "progress", "normal"),
    ("ko", "가스 냄새가 나요", "utilities", "gas_leak", "emergency"),  # particle glued on
]


@pytest.mark.parametrize(("language", "text", "skill", "category", "urgency"), ROUTED)
def test_clear_requests_route_confidently(
    catalog: IntentCatalog, language: str, text: str, skill: str, category: str, urgency: str
) -> None:
    """A caller who names the problem plainly reaches its department without a question."""
    match = catalog.match(text, language)
    assert (match.skill, match.category, match.urgency) == (skill, category, urgency)
    assert match.confident
    assert match.evidence


def test_evidence_names_the_phrases_heard(catalog: IntentCatalog) -> None:
    """The operator sees which words led to the category, as configured."""
    match = catalog.match("闻到煤气味, 老人在家", "zh")
    assert match.evidence == ("闻到煤气", "老人")
    assert match.urgency == "emergency"  # the highest cue wins over elderly


def test_longest_phrase_claims_the_words(catalog: IntentCatalog) -> None:
    """'gas leak' is one piece of evidence, not also the plain 'gas' category."""
    match = catalog.match("there is a gas leak", "en")
    assert match.category == "gas_leak"
    assert match.evidence == ("gas leak",)


WEAK = [
    pytest.param("zh", "我要投诉", "report", id="vague-complaint"),
    pytest.param("en", "noise from the bus depot", "environment", id="two-departments"),
    pytest.param("en", "I have a question", "inquiry", id="vague-inquiry"),
]


@pytest.mark.parametrize(("language", "text", "skill"), WEAK)
def test_weak_matches_ask_for_confirmation(
    catalog: IntentCatalog, language: str, text: str, skill: str
) -> None:
    """Vague or split evidence is returned with its best guess but never routed silently."""
    match = catalog.match(text, language)
    assert match.skill == skill
    assert not match.confident
    assert match.needs_confirmation
    assert match.confidence < catalog.threshold


def test_split_evidence_lists_the_alternatives(catalog: IntentCatalog) -> None:
    """Two departments named equally: the first configured wins, the other is an alternative."""
    match = catalog.match("noise from the bus depot", "en")
    assert match.confidence == 0.5
    assert match.alternatives == ("traffic",)


def test_recogniser_confidence_lowers_the_match(catalog: IntentCatalog) -> None:
    """A clear word heard with low ASR confidence still needs a confirmation."""
    sure = catalog.match("환경", "ko", asr_confidence=0.95)
    unsure = catalog.match("환경", "ko", asr_confidence=0.4)
    assert sure.confident
    assert not unsure.confident
    assert unsure.confidence == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "hello there"), ("zh", ""), ("en", "   "), ("fr", "bruit la nuit")],
)
def test_no_evidence_means_no_skill(catalog: IntentCatalog, language: str, text: str) -> None:
    """Nothing recognisable (or an unknown language): no skill, the DTMF menu takes over."""
    match = catalog.match(text, language)
    assert match.skill is None
    assert match.confidence == 0.0
    assert not match.confident
    assert not match.needs_confirmation


def test_english_matches_whole_words_only(catalog: IntentCatalog) -> None:
    """'bus' inside 'business' is not evidence for transit."""
    assert catalog.match("my business partner", "en").skill is None


def test_urgency_without_a_department(catalog: IntentCatalog) -> None:
    """An emergency cue alone raises urgency but names no skill."""
    match = catalog.match("help me please", "en")
    assert match.skill is None
    assert match.urgency == "emergency"
    assert match.evidence == ("help me",)


def test_grammar_keywords(catalog: IntentCatalog) -> None:
    """Grammar turns get every phrase of the language once, in config order."""
    words = catalog.keywords_for_grammar("ko")
    assert words[0] == "가스 냄새"
    assert {"상담원 연결", "환경", "노동", "문의", "처리 현황", "긴급"} <= set(words)
    assert len(words) == len(set(words))
    assert catalog.keywords_for_grammar("fr") == []


def test_every_shipped_language_covers_the_departments(catalog: IntentCatalog) -> None:
    """zh and en reach every skill by speech; the ko test locale reaches most."""
    assert catalog.skills("zh") == set(SKILLS)
    assert catalog.skills("en") == set(SKILLS)
    assert len(catalog.skills("ko")) >= 8


def bad(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "threshold": 0.6,
        "languages": {"en": {"matching": "words", "intents": [
            {"skill": "traffic", "category": "road", "phrases": ["road"]},
        ]}},
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("data", "key"),
    [
        pytest.param(bad(threshold=2), "threshold", id="threshold"),
        pytest.param(bad(languages={}), "languages", id="no-languages"),
        pytest.param(bad(languages={"en": {"matching": "fuzzy", "intents": [
            {"skill": "traffic", "category": "road", "phrases": ["road"]}]}}),
            "languages.en.matching", id="matching"),
        pytest.param(bad(languages={"en": {"intents": [
            {"skill": "parks", "category": "road", "phrases": ["road"]}]}}),
            "languages.en.intents[0].skill", id="unknown-skill"),
        pytest.param(bad(languages={"en": {"intents": [
            {"skill": "traffic", "category": "Road!", "phrases": ["road"]}]}}),
            "languages.en.intents[0].category", id="category"),
        pytest.param(bad(languages={"en": {"intents": [
            {"skill": "traffic", "category": "road", "phrases": []}]}}),
            "languages.en.intents[0].phrases", id="no-phrases"),
        pytest.param(bad(languages={"en": {"intents": [
            {"skill": "traffic", "category": "road", "urgency": "panic", "phrases": ["x"]}]}}),
            "languages.en.intents[0].urgency", id="urgency"),
        pytest.param(bad(languages={"en": {"intents": [
            {"skill": "traffic", "category": "road", "phrases": ["road"]},
            {"skill": "housing", "category": "building", "phrases": ["Road"]}]}}),
            "languages.en.intents[1].phrases", id="phrase-meaning-two-things"),
        pytest.param(bad(languages={"en": {"intents": [
            {"skill": "traffic", "category": "road", "phrases": ["road"]}],
            "urgency": {"normal": ["x"]}}}),
            "languages.en.urgency.normal", id="urgency-cue-level"),
    ],
)
def test_config_mistakes_are_reported(data: dict[str, Any], key: str) -> None:
    """Each mistake in intents.yaml is reported with its key."""
    with pytest.raises(ConfigError) as caught:
        IntentCatalog.from_mapping(data, known_skills=SKILLS)
    assert key in [p.key for p in caught.value.problems]


def test_all_problems_are_reported_together() -> None:
    """Several mistakes come back in one ConfigError, not one per start-up."""
    data = bad(threshold=-1, languages={"en": {"intents": [
        {"skill": "parks", "category": "road", "phrases": ["road"]},
        {"skill": "traffic", "category": "road", "weight": 0, "phrases": ["x"]},
    ]}})
    with pytest.raises(ConfigError) as caught:
        IntentCatalog.from_mapping(data, known_skills=SKILLS)
    assert len(caught.value.problems) == 3


def test_unreadable_file(tmp_path: Path) -> None:
    """A YAML syntax error is a ConfigError naming the file."""
    path = tmp_path / "intents.yaml"
    path.write_text("languages: [unclosed\n")
    with pytest.raises(ConfigError, match=r"intents\.yaml"):
        load_intents(path)
