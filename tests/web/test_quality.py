"""Quality review over the real app and store (SQLite and PostgreSQL): only supervisors and
admins reach it; the search finds answered calls by operator, skill, survey score, talk time
and reviewed or not; a review is scored against config/quality.yaml and audited; marks that
do not fit are a clear 400 and nothing is saved; the scores reach /reports and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr.core.records import CallRecord
from ivr.edges.schema import conforms
from ivr.edges.storage.store import Store
from ivr.web.openapi import answer_type
from tests.web.conftest import ApiSession, WebHotline, audited

Client = TestClient[web.Request, web.Application]
TZ = ZoneInfo("Asia/Shanghai")
DAY = "2026-03-10"
FULL = {"greeting": 10, "listening": 20, "verified": 20, "accurate": 20, "case_recorded": 20,
        "closing": 10}


def local(day: str, hh_mm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hh_mm}:00").replace(tzinfo=TZ)


async def answered(store: Store, call_id: str, operator: str, arrived: datetime, *,
                   skill: str = "report", survey: int | None = None, talk: float = 120.0,
                   transcript: str = "路灯坏了") -> None:
    """An answered call as the application records it."""
    await store.calls.save(CallRecord(
        call_id, f"PJSIP/citizen-{call_id}", "13800138000", "zh",
        arrived.astimezone(UTC).isoformat(timespec="milliseconds"), queue=skill, skill=skill,
        outcome="routed", variables={"transcript": transcript},
        route_reasons=[f"intent {skill} (score 0.91)"]))
    await store.calls.set_answered(call_id, operator, arrived + timedelta(seconds=8), 8.0)
    await store.calls.set_completed(call_id, arrived + timedelta(seconds=8 + talk), talk)
    if survey is not None:
        await store.calls.record_survey(call_id, survey)


async def calls_of_a_day(store: Store) -> None:
    await answered(store, "a", "op1001", local(DAY, "09:05"), survey=1, talk=60)
    await answered(store, "b", "op1001", local(DAY, "09:20"), survey=5, talk=300,
                   skill="housing")
    await answered(store, "c", "op1002", local(DAY, "10:00"), survey=2, talk=500)
    await answered(store, "d", "op1002", local("2026-03-12", "10:00"))
    await store.calls.save(CallRecord("ivr-only", "PJSIP/x", "1", "zh",
                                      local(DAY, "09:00").isoformat(), outcome="caller_hung_up"))


def ids(found: list[dict[str, Any]]) -> list[str]:
    return [c["call_id"] for c in found]


async def test_quality_is_for_supervisors_and_admins(anonymous: Client, api_as: Any,
                                                     hotline: WebHotline) -> None:
    """Operators and departments get 403 on the page, the review and every API."""
    await calls_of_a_day(hotline.store)
    assert (await anonymous.get("/quality", allow_redirects=False)).status == 302
    paths = ("/quality", "/quality/calls/a", "/api/quality/calls", "/api/quality/checklist",
             "/api/quality/reviews/a", "/api/quality/operators")
    for role, kw in (("operator", {"operator_id": "op1001"}),
                     ("department", {"department": "ronghua"})):
        user: ApiSession = await api_as(role, **kw)
        for path in paths:
            assert (await user.get(path, allow_redirects=False)).status == 403, (role, path)
        put = await user.put("/api/quality/reviews/a", json={"marks": FULL})
        assert put.status == 403
        form = await user.post("/quality/calls/a", data={"csrf": user.csrf, "mark.greeting": "1"},
                               allow_redirects=False)
        assert form.status == 403
    assert await hotline.store.reviews.get("a") is None
    for role in ("supervisor", "admin"):
        user = await api_as(role)
        assert (await user.get("/quality")).status == 200
    # The supervisor's menu leads there.
    page = await (await user.get("/reports")).text()
    assert 'href="/quality"' in page


async def test_the_search_finds_calls_by_every_criterion(api_as: Any,
                                                         hotline: WebHotline) -> None:
    await calls_of_a_day(hotline.store)
    sue: ApiSession = await api_as("supervisor")

    async def found(query: str) -> list[str]:
        resp = await sue.get(f"/api/quality/calls?from={DAY}&to={DAY}&{query}")
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert conforms(answer_type("GET", "/api/quality/calls"), body) == []
        assert int(resp.headers["X-Total-Count"]) == len(body)
        return ids(body)

    assert await found("") == ["c", "b", "a"]  # answered calls of the day, newest first
    assert await found("operator=op1001") == ["b", "a"]
    assert await found("skill=housing") == ["b"]
    assert await found("survey_max=2") == ["c", "a"]
    assert await found("survey_min=5") == ["b"]
    assert await found("talk_min=200&talk_max=400") == ["b"]
    assert await found("reviewed=yes") == []
    paged = await sue.get(f"/api/quality/calls?from={DAY}&to={DAY}&limit=2")
    assert ids(await paged.json()) == ["c", "b"]
    assert 'rel="next"' in paged.headers["Link"]
    for bad in ("from=2026-03-10&to=2026-05-10", "from=10.3.2026", "survey_max=9",
                "reviewed=maybe", "talk_min=abc"):
        resp = await sue.get(f"/api/quality/calls?{bad}")
        assert resp.status == 400, bad
        assert (await resp.json())["error"] == "bad_query"
    page = await (await sue.get(f"/quality?from={DAY}&to={DAY}&operator=op1002")).text()
    assert 'data-call="c"' in page
    assert 'data-call="a"' not in page


async def test_a_review_is_scored_stored_and_audited(api_as: Any,
                                                     hotline: WebHotline) -> None:
    await calls_of_a_day(hotline.store)
    sue: ApiSession = await api_as("supervisor")
    resp = await sue.put("/api/quality/reviews/a", json={
        "marks": {**FULL, "closing": 0, "verified": 10}, "comment": "未报结束语"})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert conforms(answer_type("PUT", "/api/quality/reviews/{call_id}"), body) == []
    assert (body["percent"], body["passed"], body["operator"], body["reviewer"]) == \
        (80.0, True, "op1001", sue.username)
    assert body["missed"] == ["verified", "closing"]
    got = await (await sue.get("/api/quality/reviews/a")).json()
    assert got["marks"]["closing"] == 0
    assert got["comment"] == "未报结束语"
    entry = next(e for e in await audited(hotline) if e.action == "call_reviewed")
    assert (entry.actor, entry.target, entry.detail["percent"]) == (sue.username, "a", 80.0)
    assert entry.detail["marks"]["verified"] == 10
    # A second save replaces the review (latest wins).
    again = await sue.put("/api/quality/reviews/a", json={"marks": FULL})
    assert (await again.json())["percent"] == 100.0
    assert ids(await (await sue.get(
        f"/api/quality/calls?from={DAY}&to={DAY}&reviewed=yes")).json()) == ["a"]
    checklist = await (await sue.get("/api/quality/checklist")).json()
    assert conforms(answer_type("GET", "/api/quality/checklist"), checklist) == []
    assert [i["id"] for i in checklist["items"]] == list(FULL)


@pytest.mark.parametrize(("marks", "items"), [
    ({**FULL, "greeting": 11}, ["greeting"]),
    ({**FULL, "smile": 3}, ["smile"]),
    ({**FULL, "closing": "ten"}, ["closing"]),
    ({"greeting": 10}, ["listening", "verified", "accurate", "case_recorded", "closing"]),
])
async def test_bad_marks_are_a_clear_400_and_save_nothing(
    api_as: Any, hotline: WebHotline, marks: dict[str, object], items: list[str]
) -> None:
    await calls_of_a_day(hotline.store)
    sue: ApiSession = await api_as("supervisor")
    resp = await sue.put("/api/quality/reviews/a", json={"marks": marks},
                         headers={"Accept-Language": "zh-CN"})
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "bad_marks"
    assert body["message"] == "评分与评分表不符，未保存任何内容。"
    assert [p["item"] for p in body["problems"]] == items
    assert all(p["message"] for p in body["problems"])
    assert await hotline.store.reviews.get("a") is None
    assert not [e for e in await audited(hotline) if e.action == "call_reviewed"]


async def test_other_refusals(api_as: Any, hotline: WebHotline) -> None:
    """An unknown field, an unknown call, a call nobody answered, no marks at all."""
    await calls_of_a_day(hotline.store)
    sue: ApiSession = await api_as("supervisor")
    typo = await sue.put("/api/quality/reviews/a", json={"marks": FULL, "coment": "x"})
    assert (typo.status, (await typo.json())["error"]) == (400, "unknown_field")
    nothing = await sue.put("/api/quality/reviews/a", json={"comment": "x"})
    assert nothing.status == 400
    missing = await sue.put("/api/quality/reviews/nope", json={"marks": FULL})
    assert missing.status == 404
    ivr_only = await sue.put("/api/quality/reviews/ivr-only", json={"marks": FULL})
    assert ivr_only.status == 409
    assert (await sue.get("/api/quality/reviews/b")).status == 404
    assert await hotline.store.reviews.get("a") is None


async def test_scores_per_operator_reach_the_report_and_its_csv(
    api_as: Any, hotline: WebHotline
) -> None:
    await calls_of_a_day(hotline.store)
    sue: ApiSession = await api_as("supervisor")
    await sue.put("/api/quality/reviews/a", json={"marks": FULL})
    await sue.put("/api/quality/reviews/b", json={"marks": {**FULL, "closing": 0,
                                                            "accurate": 10}})
    await sue.put("/api/quality/reviews/d", json={"marks": FULL})  # another day
    figures = await (await sue.get(f"/api/quality/operators?from={DAY}&to={DAY}")).json()
    assert conforms(answer_type("GET", "/api/quality/operators"), figures) == []
    by = {f["operator"]: f for f in figures}
    assert (by["op1001"]["answered"], by["op1001"]["reviewed"],
            by["op1001"]["average_percent"], by["op1001"]["passed"]) == (2, 2, 90.0, 2)
    assert by["op1001"]["miss_rates"]["closing"] == 0.5
    assert (by["op1002"]["answered"], by["op1002"]["reviewed"],
            by["op1002"]["average_percent"]) == (1, 0, None)

    text = await (await sue.get(f"/reports.csv?from={DAY}&to={DAY}&kind=quality")).text()
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [(r["operator"], r["answered"], r["reviewed"], r["average_score_percent"])
            for r in rows] == [("op1001", "2", "2", "90.0"), ("op1002", "1", "0", "")]
    assert rows[0]["missed_closing_percent"] == "50.0"
    page = await (await sue.get(f"/reports?from={DAY}&to={DAY}",
                                headers={"Accept-Language": "zh-CN"})).text()
    assert "各话务员质检" in page
    assert '<tr data-operator="op1001">' in page
    assert "90.0 %" in page


async def test_the_review_form_refuses_bad_marks_with_the_items_named(
    api_as: Any, hotline: WebHotline
) -> None:
    """The page's form: a mark out of range is a 400 page naming the item in the user's
    language, the marks typed kept in the form, nothing saved; good marks save and show."""
    await calls_of_a_day(hotline.store)
    sue: ApiSession = await api_as("supervisor")
    zh = {"Accept-Language": "zh-CN"}
    form = {"csrf": sue.csrf, **{f"mark.{k}": str(v) for k, v in FULL.items()},
            "comment": "好"}
    bad = await sue.post("/quality/calls/a", data={**form, "mark.greeting": "99"}, headers=zh)
    assert bad.status == 400
    page = await bad.text()
    assert "评分与评分表不符，未保存任何内容。" in page
    assert '<li data-item="greeting">规范问候并报工号: 得分必须是 0 到 10 之间的整数</li>' in page
    assert 'name="mark.greeting" min="0" max="10" step="1" value="99"' in page
    assert await hotline.store.reviews.get("a") is None
    good = await sue.post("/quality/calls/a", data=form, headers=zh, allow_redirects=False)
    assert (good.status, good.headers["Location"]) == (303, "/quality/calls/a?saved=1")
    shown = await (await sue.get("/quality/calls/a?saved=1", headers=zh)).text()
    assert "评分已保存：100.0 %（100 分中得 100 分）。" in shown
    call_page = await (await sue.get("/calls/a")).text()
    assert 'id="review-link" href="/quality/calls/a"' in call_page


async def test_the_checklist_is_edited_like_the_other_config_files(
    api_as: Any, hotline: WebHotline
) -> None:
    """An admin publishes config/quality.yaml from /api/config/quality: an invalid one is
    refused with every problem and changes nothing; a valid one is the next reviews'."""
    admin: ApiSession = await api_as("admin")
    sue: ApiSession = await api_as("supervisor")
    bad = await admin.put("/api/config/quality", json={"text": (
        "pass_percent: 101\nitems:\n  - {id: greeting, names: {zh: 问候}, points: 0}\n")})
    assert bad.status == 422
    keys = sorted(p["key"] for p in (await bad.json())["problems"])
    assert keys == ["items[greeting].names.en", "items[greeting].points", "pass_percent"]
    assert len((await (await sue.get("/api/quality/checklist")).json())["items"]) == 6
    good = await admin.put("/api/config/quality", json={"text": (
        "pass_percent: 60\nitems:\n"
        "  - {id: polite, names: {zh: 礼貌用语, en: Polite words}, points: 5}\n")})
    assert good.status == 200, await good.text()
    checklist = await (await sue.get("/api/quality/checklist")).json()
    assert (checklist["pass_percent"], [i["id"] for i in checklist["items"]]) == (60, ["polite"])
    await calls_of_a_day(hotline.store)
    review = await sue.put("/api/quality/reviews/a", json={"marks": {"polite": 3}})
    assert ((await review.json())["percent"], (await review.json())["passed"]) == (60.0, True)
