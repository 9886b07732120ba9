"""The prompt catalog and reading numbers back as sound files, per language."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.core.flow import announce_wait, say_digits, say_number
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


def test_queue_announcement() -> None:
    """Position and minutes are read as number words around the catalog's phrases."""
    assert announce_wait(3, 12, "zh") == (
        "ivr/queue-position-is", "ivr/num-3", "ivr/queue-wait-is", "ivr/num-10", "ivr/num-2",
        "ivr/queue-minutes",
    )


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
