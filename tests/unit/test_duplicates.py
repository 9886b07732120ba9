"""Likely duplicates and merging (pure): who may merge what, what the duplicate becomes, and
how it follows its main case."""

from __future__ import annotations

import dataclasses

import pytest

from ivr.core.cases import Actor, Case, CaseStatus, follow_main, merge
from ivr.core.duplicates import likely_duplicates, similarity
from ivr.errors import RecordNotFound, RecordRefused

BASE = Case("6337000010", "13800000001", "environment", "new", "2026-12-03T09:00:00+08:00",
            "2026-12-03T09:00:00+08:00", description="荣华中路工地夜里施工噪音很大",
            place="ronghua")
CENTRE = Actor("op")


def other(**changes: object) -> Case:
    return dataclasses.replace(BASE, number="6337000028", caller="13800000002", **changes)


@pytest.mark.parametrize(("candidate", "found"), [
    (other(description="荣华中路那个工地半夜施工，噪音太大"), True),
    (other(description="荣华中路工地夜里施工噪音很大"), True),
    (other(description="小区门口有人卖过期食品"), False),  # other words
    (other(description="荣华中路工地夜里施工噪音很大", category="traffic"), False),
    (other(description="荣华中路工地夜里施工噪音很大", place="boxing"), False),
    (other(description="荣华中路工地夜里施工噪音很大", place=""), False),
    (other(description="荣华中路工地夜里施工噪音很大",
           created_at="2026-12-06T09:00:00+08:00"), False),  # 3 days later
    (other(description="荣华中路工地夜里施工噪音很大", status="resolved"), False),
    (other(description="荣华中路工地夜里施工噪音很大", status="merged",
           merged_into="6337000036"), False),
])
def test_likely_duplicates(candidate, found):
    assert bool(likely_duplicates(BASE, [candidate, BASE])) is found


def test_most_alike_first_and_similarity_bounds():
    near = other(description="荣华中路工地夜里施工噪音很大")
    far = dataclasses.replace(near, number="6337000036", description="荣华中路工地半夜有噪音")
    assert [d.case.number for d in likely_duplicates(BASE, [far, near])] == [
        near.number, far.number]
    assert similarity("一样的话", "一样的话") == 1.0
    assert similarity("", "abc") == 0.0


def test_merge_writes_both_histories_and_clears_the_duplicates_deadlines():
    dup = other(status="dispatched", department="ecology", resolve_by="2026-12-20T00:00:00+08:00")
    mine, main = merge(dup, BASE, CENTRE, at="2026-12-03T10:00:00+08:00", has_duplicates=False)
    assert mine.values["status"] == "merged"
    assert mine.values["merged_into"] == BASE.number
    assert (mine.values["department"], mine.values["resolve_by"]) == ("", None)
    assert mine.note == f"merged into {BASE.number} (was with ecology)"
    assert main.values == {}
    assert main.note == f"case {dup.number} (caller 13800000002) merged into this one"


@pytest.mark.parametrize(("dup", "main", "has", "error"), [
    (BASE, BASE, False, "itself"),
    (other(status="resolved"), BASE, False, "only open cases"),
    (other(), dataclasses.replace(BASE, status="closed"), False, "only open cases"),
    (other(), dataclasses.replace(BASE, status="merged", merged_into="1"), False, "only open"),
    (other(), BASE, True, "instead"),
])
def test_merges_refused(dup, main, has, error):
    with pytest.raises(RecordRefused, match=error):
        merge(dup, main, CENTRE, at="t", has_duplicates=has)


def test_a_department_cannot_merge():
    with pytest.raises(RecordNotFound):
        merge(other(), BASE, Actor("d", "ecology"), at="t", has_duplicates=False)


def test_a_duplicate_follows_its_main_case():
    dup = other(status=CaseStatus.MERGED.value, merged_into=BASE.number)
    main = dataclasses.replace(BASE, status="resolved", department="ronghua", reply="已停工",
                               dispatched_at="2026-12-03T09:05:00+08:00")
    follow = follow_main(dup, main, at="2026-12-04T09:00:00+08:00")
    assert follow is not None
    assert (follow.values["status"], follow.values["department"], follow.values["reply"],
            follow.values["visit_status"]) == ("resolved", "ronghua", "已停工", "pending")
    closed = follow_main(dup, dataclasses.replace(main, status="closed"), at="t")
    assert closed is not None
    assert closed.values == {"status": "closed"}
    assert follow_main(dup, dataclasses.replace(main, status="in_progress"), at="t") is None
    assert follow_main(other(), main, at="t") is None  # not merged into it
