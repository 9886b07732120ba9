"""Quality reviews in the store, on SQLite and PostgreSQL: one review a call (the latest
saved wins), the search of answered calls by every criterion of the quality page, and the
reviews and answered counts per operator of a period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ivr.core.quality import CallReview, CallSearch, Checklist, ChecklistItem, score
from ivr.core.records import CallRecord
from ivr.edges.storage.store import Store
from ivr.edges.storage.tables import utc_text

NOW = datetime(2026, 12, 18, 10, 30, tzinfo=UTC)
CHECKLIST = Checklist((ChecklistItem("greeting", {"zh": "问候"}, 10),
                       ChecklistItem("accurate", {"zh": "准确"}, 30)))


async def answered(store: Store, call_id: str, operator: str, *, minutes: int = 0,
                   skill: str = "report", survey: int | None = None,
                   talk: float = 120.0) -> None:
    arrived = NOW + timedelta(minutes=minutes)
    await store.calls.save(CallRecord(
        call_id, f"PJSIP/{call_id}", "13800138000", "zh", utc_text(arrived), queue=skill,
        skill=skill, outcome="routed"))
    await store.calls.set_answered(call_id, operator, arrived + timedelta(seconds=5), 5.0)
    await store.calls.set_completed(call_id, arrived + timedelta(seconds=talk), talk)
    if survey is not None:
        await store.calls.record_survey(call_id, survey)


def review(call_id: str, operator: str, reviewer: str, greeting: int, accurate: int,
           minutes: int = 60, arrived: int = 0) -> CallReview:
    result = score(CHECKLIST, {"greeting": greeting, "accurate": accurate})
    return CallReview.of((call_id, operator, utc_text(NOW + timedelta(minutes=arrived))),
                         reviewer, result, "备注", utc_text(NOW + timedelta(minutes=minutes)))


async def test_a_call_has_one_review_and_the_latest_save_wins(store: Store) -> None:
    await answered(store, "c1", "op1001")
    await store.reviews.save(review("c1", "op1001", "sue", 10, 30))
    first = await store.reviews.get("c1")
    assert first is not None
    assert (first.percent, first.passed, first.missed, first.comment) == (100.0, True, (), "备注")
    await store.reviews.save(review("c1", "op1001", "li", 5, 10, minutes=90))
    latest = await store.reviews.get("c1")
    assert latest is not None
    assert (latest.reviewer, latest.points, latest.percent, latest.passed) == \
        ("li", 15, 37.5, False)
    assert latest.marks == {"greeting": 5, "accurate": 10}
    assert latest.missed == ("greeting", "accurate")
    assert await store.reviews.get("nope") is None


async def test_the_search_filters_by_every_criterion(store: Store) -> None:
    await answered(store, "a", "op1001", minutes=0, survey=1, talk=60)
    await answered(store, "b", "op1001", minutes=10, survey=5, talk=300, skill="housing")
    await answered(store, "c", "op1002", minutes=20, survey=2, talk=600)
    await answered(store, "late", "op1001", minutes=60 * 24 * 3)
    await store.calls.save(CallRecord("ivr-only", "PJSIP/x", "1", "zh", utc_text(NOW),
                                      outcome="caller_hung_up"))
    await store.reviews.save(review("b", "op1001", "sue", 10, 30))
    day = CallSearch(utc_text(NOW - timedelta(hours=1)), utc_text(NOW + timedelta(days=1)))

    async def ids(**terms: object) -> list[str]:
        search = CallSearch(day.start, day.end, **terms)  # type: ignore[arg-type]
        found = [c.call_id for c, _r in await store.reviews.search(search, 50)]
        assert await store.reviews.count(search) == len(found)
        return found

    assert await ids() == ["c", "b", "a"]  # answered calls of the range, newest first
    assert await ids(operator="op1001") == ["b", "a"]
    assert await ids(skill="housing") == ["b"]
    assert await ids(survey_max=2) == ["c", "a"]
    assert await ids(survey_min=2, survey_max=4) == ["c"]
    assert await ids(talk_min=200) == ["c", "b"]
    assert await ids(talk_max=300) == ["b", "a"]
    assert await ids(reviewed=True) == ["b"]
    assert await ids(reviewed=False) == ["c", "a"]
    page = await store.reviews.search(day, 2, offset=1)
    assert [(c.call_id, r.percent if r else None) for c, r in page] == [("b", 100.0),
                                                                         ("a", None)]


async def test_reviews_and_answered_calls_per_operator_of_a_period(store: Store) -> None:
    await answered(store, "a", "op1001")
    await answered(store, "b", "op1001", minutes=5)
    await answered(store, "c", "op1002", minutes=7)
    await answered(store, "old", "op1002", minutes=-60 * 24 * 2)
    await store.reviews.save(review("a", "op1001", "sue", 10, 30))
    await store.reviews.save(review("c", "op1002", "sue", 0, 30))
    await store.reviews.save(review("old", "op1002", "sue", 0, 0, arrived=-60 * 24 * 2))
    start, end = utc_text(NOW - timedelta(hours=1)), utc_text(NOW + timedelta(hours=1))
    assert await store.reviews.answered_per_operator(start, end) == {"op1001": 2, "op1002": 1}
    got = sorted((r.operator, r.percent, r.passed, r.missed)
                 for r in await store.reviews.of_calls_between(start, end))
    assert got == [("op1001", 100.0, True, ()), ("op1002", 75.0, False, ("greeting",))]
