"""Paging of the API's lists: every list takes ?limit=&offset=, answers its total in
X-Total-Count with next/prev links, and refuses a bad limit or offset with a clear 400."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.core.records import CallRecord

LISTS = ["/api/calls", "/api/cases", "/api/operators", "/api/flows/versions", "/api/bulletins",
         "/api/users", "/api/tokens", "/api/config/skills/versions", "/api/audit",
         "/api/dispatch"]


async def _calls(hotline, count: int) -> None:
    for n in range(count):
        await hotline.store.calls.save(CallRecord(
            call_id=f"c{n}", channel=f"PJSIP/x-{n}", caller=f"1380000{n:04d}", language="zh",
            arrived_at=(datetime(2026, 11, 28, 9, tzinfo=UTC) + timedelta(minutes=n)
                        ).isoformat()))


async def test_calls_come_a_page_at_a_time_with_their_total(api_as, hotline):
    """Five calls, two a page: each page is the next two, newest first; the total is 5 on
    every page, and the links lead to the neighbouring pages."""
    await _calls(hotline, 5)
    supervisor = await api_as("supervisor")
    seen = []
    url = "/api/calls?limit=2"
    pages = 0
    while url:
        resp = await supervisor.get(url)
        assert resp.status == 200
        assert resp.headers["X-Total-Count"] == "5"
        seen += [c["call_id"] for c in await resp.json()]
        url = resp.links.get("next", {}).get("url", "")
        url = str(url.relative()) if url else ""
        pages += 1
    assert seen == ["c4", "c3", "c2", "c1", "c0"]
    assert pages == 3
    resp = await supervisor.get("/api/calls?limit=2&offset=2")
    assert [c["call_id"] for c in await resp.json()] == ["c2", "c1"]
    assert "limit=2&offset=0" in str(resp.links["prev"]["url"])


async def test_an_operators_total_counts_only_their_calls(api_as, hotline):
    await _calls(hotline, 3)
    operator = await api_as("operator", "op1001")
    resp = await operator.get("/api/calls")
    assert (await resp.json(), resp.headers["X-Total-Count"]) == ([], "0")


async def test_cases_total_follows_the_search(api_as):
    operator = await api_as("operator", "op1001")
    for text in ("one", "two", "three"):
        resp = await operator.post("/api/cases", json={
            "caller": "13800001111", "category": "report", "description": text})
        assert resp.status == 201
    await operator.post("/api/cases", json={"caller": "13900002222", "category": "report",
                                            "description": "other"})
    resp = await operator.get("/api/cases?caller=1380000&limit=1&offset=1")
    assert resp.headers["X-Total-Count"] == "3"
    assert [c["description"] for c in await resp.json()] == ["two"]


async def test_audit_pages(api_as):
    admin = await api_as("admin")
    for name in ("a1", "a2", "a3"):
        await admin.post("/api/users", json={"username": name, "role": "supervisor"})
    resp = await admin.get("/api/audit?limit=2&offset=1")
    assert resp.headers["X-Total-Count"] == "4"  # three creations and the login
    assert [e["target"] for e in await resp.json()] == ["a2", "a1"]
    users = await admin.get("/api/users?limit=1&offset=2")
    assert users.headers["X-Total-Count"] == str(len(await (await admin.get("/api/users")).json()))
    assert len(await users.json()) == 1


@pytest.mark.parametrize("url", LISTS)
async def test_every_list_says_its_total(api_as, url):
    admin = await api_as("admin")
    resp = await admin.get(url)
    assert resp.status == 200, await resp.text()
    assert int(resp.headers["X-Total-Count"]) == len(await resp.json())


@pytest.mark.parametrize("url", LISTS)
async def test_bad_paging_is_a_clear_400(api_as, url):
    """Never clamped or ignored: the answer says which parameter and what it takes."""
    admin = await api_as("admin")
    for query in ("limit=0", "limit=1001", "limit=ten", "limit=-5", "limit=2.5",
                  "offset=-1", "offset=x"):
        resp = await admin.get(f"{url}?{query}")
        assert resp.status == 400, query
        body = await resp.json()
        assert body["error"] == "bad_paging"
        assert query.split("=", maxsplit=1)[0] in body["message"]


async def test_a_misspelt_field_of_a_body_is_refused_with_the_name_meant(api_as):
    """The bodies' models (the document's schemas) refuse a field they do not declare: a
    typo is never dropped silently (the case would be opened without its description)."""
    operator = await api_as("operator", "op1001")
    resp = await operator.post("/api/cases", json={
        "caller": "13800001111", "category": "report", "descripton": "broken streetlight"})
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "unknown_field"
    assert body["problems"] == [
        {"field": "descripton", "message": "unknown key; did you mean 'description'?"}]
    assert (await operator.get("/api/cases")).headers["X-Total-Count"] == "0"
