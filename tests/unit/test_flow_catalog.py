"""The prompt catalog and reading numbers back as sound files, per language."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.core.flow import (
    POSITION_PROMPTS,
    QUEUE_PLACE,
    QUEUE_PLACE_END,
    announce_expected_wait,
    announce_wait,
    asterisk_digits,
    say_count,
    say_digits,
    say_number,
)
from ivr.core.flow.catalog import number_prompt_names
from ivr.errors import FlowError
from ivr.flows.files import load_catalog

CATALOG = Path(__file__).resolve().parents[2] / "prompts" / "catalog.yaml"


def nums(*values: int) -> tuple[str, ...]:
    return tuple(f"ivr/num-{v}" for v in values)


@pytest.mark.parametrize(
    ("n", "prompts"),
    [
        (0, nums(0)),  # 零
        (7, nums(7)),  # 七
        (10, nums(10)),  # 十
        (15, nums(10, 5)),  # 十五
        (20, nums(2, 10)),  # 二十
        (23, nums(2, 10, 3)),  # 二十三
        (100, nums(1, 100)),  # 一百
        (105, nums(1, 100, 0, 5)),  # 一百零五
        (110, nums(1, 100, 1, 10)),  # 一百一十
        (999, nums(9, 100, 9, 10, 9)),  # 九百九十九
        (1000, nums(1, 1000)),  # 一千
        (1005, nums(1, 1000, 0, 5)),  # 一千零五
        (1020, nums(1, 1000, 0, 2, 10)),  # 一千零二十
        (1200, nums(1, 1000, 2, 100)),  # 一千二百
        (2305, nums(2, 1000, 3, 100, 0, 5)),  # 二千三百零五
    ],
)
def test_mandarin_number_words(n: int, prompts: tuple[str, ...]) -> None:
    """Mandarin numbers follow 十/百/千 with 零 for skipped places."""
    assert say_number(n, "zh") == prompts


@pytest.mark.parametrize(
    ("n", "prompts"),
    [
        (0, nums(0)),
        (13, nums(13)),
        (20, nums(20)),
        (23, nums(20, 3)),
        (99, nums(90, 9)),
        (100, nums(1, 100)),
        (105, nums(1, 100, 5)),
        (342, nums(3, 100, 40, 2)),
        (2019, nums(2, 1000, 19)),
    ],
)
def test_english_number_words(n: int, prompts: tuple[str, ...]) -> None:
    """English numbers use 0-19, the tens, hundred and thousand."""
    assert say_number(n, "en") == prompts


def test_large_numbers_and_other_languages_are_read_digit_by_digit() -> None:
    """Beyond 9999, or in a language without number rules, digits are read one by one."""
    assert say_number(12345, "zh") == say_digits("12345")
    assert say_number(42, "ko") == ("ivr/digit-4", "ivr/digit-2")
    with pytest.raises(ValueError, match="negative"):
        say_number(-1, "zh")


def test_say_digits_skips_non_digits() -> None:
    """Case numbers are read per digit; separators are not spoken."""
    assert say_digits("40-1") == ("ivr/digit-4", "ivr/digit-0", "ivr/digit-1")


ANNOUNCEMENTS = [
    pytest.param(1, 3, "zh", "您是下一位。 预计等待约 三 分钟。", id="zh next"),
    pytest.param(3, 2, "zh", "您前面还有 两 位来电者。 预计等待约 两 分钟。",
                 id="zh two ahead: 两位, not 三 and not 二"),
    pytest.param(2, 12, "zh", "您前面还有 一 位来电者。 预计等待约 十 二 分钟。", id="zh 十二"),
    pytest.param(201, None, "zh",
                 "您前面还有 两 百 位来电者。 接线员将尽快为您服务，请稍候。", id="zh no estimate"),
    pytest.param(1, 1, "en", "You are next in line. The expected wait is about one minute.",
                 id="en next, one minute"),
    pytest.param(3, 2, "en", "You are number three in line. The expected wait is about two "
                 "minutes.", id="en place"),
    pytest.param(2, None, "en", "You are number two in line. An operator will be with you as "
                 "soon as possible.", id="en no estimate"),
]


@pytest.mark.parametrize(("position", "minutes", "language", "heard"), ANNOUNCEMENTS)
def test_queue_announcement_as_the_caller_hears_it(
    position: int, minutes: int | None, language: str, heard: str
) -> None:
    """The place in line and the wait, as whole sentences in the caller's language."""
    catalog = load_catalog(CATALOG)
    words = [catalog.text(p, language) for p in announce_wait(position, minutes, language)]
    assert " ".join(words) == heard


@pytest.mark.parametrize(("n", "heard"), [
    (2, "两"), (12, "十 二"), (20, "二 十"), (22, "二 十 二"), (200, "两 百"), (2000, "两 千"),
    (1002, "一 千 零 二"), (3, "三"),
])
def test_mandarin_counts_say_liang(n: int, heard: str) -> None:
    """两 where Mandarin counts things (两位, 两百), 二 elsewhere (十二, 二十)."""
    catalog = load_catalog(CATALOG)
    assert " ".join(catalog.text(p, "zh") for p in say_count(n, "zh")) == heard
    assert say_count(n, "en") == say_number(n, "en")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_catalog_has_every_number_prompt_in_both_languages(language: str) -> None:
    """Every prompt the number readers can produce exists in the shipped catalog."""
    catalog = load_catalog(CATALOG)
    assert catalog.missing(sorted(number_prompt_names()), [language]) == []
    for n in range(10_000):
        assert all(catalog.has(p, language) for p in say_number(n, language))


def test_catalog_texts_are_simplified_chinese_and_english() -> None:
    """Mandarin texts are in Chinese script; English texts in Latin script."""
    catalog = load_catalog(CATALOG)
    greeting = catalog.text("ivr/greeting", "zh")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in greeting)
    assert catalog.text("ivr/greeting", "en").isascii()


def test_unreadable_catalog_is_a_flow_error() -> None:
    """A missing catalog file raises FlowError naming it, never a bare OSError."""
    with pytest.raises(FlowError, match="cannot read catalog"):
        load_catalog(CATALOG.with_name("nope.yaml"))


@pytest.mark.parametrize(("language", "words", "heard"), [
    ("zh", ["digits/3"], "您现在排在第 三 位。"), ("zh", ["digits/2"], "您现在排在第 二 位。"),
    ("zh", ["digits/10", "digits/2"], "您现在排在第 十 二 位。"),
    ("zh", ["digits/20", "digits/5"], "您现在排在第 二十 五 位。"),
    ("zh", ["digits/1", "digits/hundred"], "您现在排在第 一 百 位。"),
])
def test_the_place_app_queue_tells_while_waiting(
    language: str, words: list[str], heard: str
) -> None:
    """app_queue's update: the catalog's words around the place, the number read from
    Asterisk's ``digits/`` files, the Mandarin ones built from our number words (第二位: 二
    is right for a place)."""
    catalog = load_catalog(CATALOG)
    digits = asterisk_digits()
    number = [catalog.text(digits[f], language) for f in words]
    said = [catalog.text(QUEUE_PLACE, language), *number, catalog.text(QUEUE_PLACE_END, language)]
    assert " ".join(said) == heard


def test_every_prompt_app_queue_plays_is_in_the_catalog() -> None:
    catalog = load_catalog(CATALOG)
    assert catalog.missing(sorted(POSITION_PROMPTS), ["zh", "en"]) == []
    assert catalog.missing(sorted(set(asterisk_digits().values())), ["zh"]) == []
    assert set(asterisk_digits()) >= {f"digits/{n}" for n in range(20)} | {"digits/hundred"}


@pytest.mark.parametrize(("minutes", "language", "heard"), [
    (2, "zh", "预计等待约 两 分钟。"),
    (None, "en", "An operator will be with you as soon as possible."),
])
def test_the_wait_alone_when_app_queue_tells_the_place(
    minutes: int | None, language: str, heard: str
) -> None:
    catalog = load_catalog(CATALOG)
    words = [catalog.text(p, language) for p in announce_expected_wait(minutes, language)]
    assert " ".join(words) == heard
