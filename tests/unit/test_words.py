"""Lines the core writes for people (``ivr.core.words``): English text as a plain string,
said in another language from the catalog, stored and read back, never broken by a bad
translation or a hostile stored value."""

from __future__ import annotations

import json

import pytest

from ivr.core.words import Words, from_json, joined, lines_from_json, lines_json, say

CATALOG = {"%(queue)s: rang %(operator)s": "%(queue)s：振铃 %(operator)s",
           "the %(queue)s queue": "%(queue)s 队列",
           "stage %(n)s: %(reason)s": "第 %(n)s 阶段：%(reason)s"}


def chinese(message: str) -> str:
    return CATALOG.get(message, message)


def test_a_line_is_its_english_text_and_says_itself_in_another_language() -> None:
    line = Words("stage %(n)s: %(reason)s", n=2, reason=Words("the %(queue)s queue",
                                                              queue="inquiry"))
    assert line == "stage 2: the inquiry queue"
    assert f"{line}" == "stage 2: the inquiry queue"
    assert say(line, chinese) == "第 2 阶段：inquiry 队列"
    assert say("a plain line", chinese) == "a plain line"
    both = joined("; ", [Words("%(queue)s: rang %(operator)s", queue="q", operator="op1"),
                         "plain"])
    assert (both, say(both, chinese)) == ("q: rang op1; plain", "q：振铃 op1; plain")


def test_a_broken_translation_says_the_english_line() -> None:
    line = Words("%(queue)s: rang %(operator)s", queue="q", operator="op1")
    assert say(line, lambda m: "%(nobody)s %(queue)s") == "q: rang op1"
    assert say(line, lambda m: "100%") == "q: rang op1"


def test_lines_survive_storage_with_their_words_and_old_plain_lines_stay_plain() -> None:
    lines = [Words("stage %(n)s: %(reason)s", n=1, reason=Words("the %(queue)s queue",
                                                                queue="q")), "old line"]
    back = lines_from_json(json.loads(json.dumps(lines_json(lines), ensure_ascii=False)))
    assert back == lines
    assert isinstance(back[0], Words)
    assert say(back[0], chinese) == "第 1 阶段：q 队列"
    assert not isinstance(back[1], Words)


@pytest.mark.parametrize("stored", [
    {"template": "%(x)s", "values": {}, "text": "kept"},
    {"template": "%d", "values": {"x": "y"}, "text": "kept"},
    {"template": "%(x", "values": {"x": "y"}, "text": "kept"},
    {"template": 5, "values": {}, "text": "kept"},
    {"text": "kept"},
])
def test_a_stored_line_that_is_not_well_formed_reads_back_as_its_text(
    stored: dict[str, object],
) -> None:
    assert from_json(stored) == "kept"
    assert lines_from_json([stored]) == ["kept"]
