"""What app_queue did with a call, in words: rung, skipped and why, not answered, answered
in which stage after how long, or abandoned."""

from __future__ import annotations

import pytest

from ivr.core.routing import OperatorState, QueueOutcome, callback_id_of, stage_words

A, P, C, W = (OperatorState.AVAILABLE, OperatorState.PAUSED, OperatorState.ON_CALL,
              OperatorState.WRAP_UP)


def test_a_call_widened_from_its_skill_to_the_language_queue() -> None:
    """The record tells the whole story: who was skipped, rung, silent, and who answered."""
    outcome = QueueOutcome("hotline")
    outcome.rung("inquiry", "op1008", {"op1002": P, "op1008": A, "op1009": C})
    outcome.not_answered("inquiry", "op1008", 15.0)
    outcome.rung("lang-zh", "op1005", {"op1005": A, "op1006": W, "op1007": A})
    outcome.answered("lang-zh", "op1005", 92.4)
    assert outcome.lines == [
        "inquiry (the inquiry queue): skipped op1002 (paused), op1009 (on a call)",
        "inquiry: rang op1008",
        "inquiry: op1008 did not answer within 15 s",
        "lang-zh (any operator speaking zh): skipped op1006 (wrapping up a call)",
        "lang-zh: rang op1005",
        "lang-zh: answered by op1005 after 92 s in line (any operator speaking zh)",
    ]


def test_skipped_members_are_listed_once_per_stage() -> None:
    """A second ring in the same queue adds the ring, not the skipped list again."""
    outcome = QueueOutcome("hotline")
    outcome.rung("hotline", "op1004", {"op1001": A})
    outcome.rung("hotline", "op1001", {"op1004": C})
    assert outcome.lines == ["hotline (the general pool): nobody skipped",
                             "hotline: rang op1004", "hotline: rang op1001"]


def test_a_caller_who_gave_up() -> None:
    outcome = QueueOutcome("hotline")
    outcome.abandoned("op-op1002", 12.0)
    assert outcome.lines == [
        "op-op1002: the caller hung up after 12 s in line (the previous operator op1002 alone)"]


@pytest.mark.parametrize(("queue", "words"), [
    ("inquiry", "the inquiry queue"), ("lang-en", "any operator speaking en"),
    ("op-op1003", "the previous operator op1003 alone"), ("hotline", "the general pool"),
])
def test_stage_words(queue: str, words: str) -> None:
    assert stage_words(queue, "hotline") == words


@pytest.mark.parametrize(("channel", "callback"), [
    ("Local/12@callback-queue-00000001;2", "12"), ("Local/12@callback-queue-00000001;1", "12"),
    ("PJSIP/citizen-00000001", None), ("Local/13800138000@visit-dial-0001;2", None),
    ("Local/x1@callback-queue-0001;2", None), ("", None),
])
def test_a_callback_stand_in_is_known_by_its_channel(channel: str, callback: str | None) -> None:
    assert callback_id_of(channel) == callback
