"""A user's language is stored with their account (SQLite and PostgreSQL): set on a page or
through the API, it wins over the browser's; cleared, the browser decides again."""

from __future__ import annotations

from typing import Any


async def test_language_is_stored_with_the_account(api_as: Any, hotline: Any) -> None:
    """The choice is the account's (every browser, every node); the browser decides again
    once it is cleared; an unknown language is refused and nothing changes."""
    session = await api_as("operator", operator_id="op1001")
    english = {"Accept-Language": "en"}
    assert '<html lang="en">' in await (await session.get("/console", headers=english)).text()
    resp = await session.put("/api/me/language", json={"language": "zh_CN"})
    assert resp.status == 200
    assert (await hotline.store.users.get(session.username)).language == "zh_CN"
    assert '<html lang="zh-CN">' in await (await session.get("/console",
                                                             headers=english)).text()
    resp = await session.put("/api/me/language", json={"language": "fr"})
    assert resp.status == 400
    assert (await hotline.store.users.get(session.username)).language == "zh_CN"
    resp = await session.post("/account/language", data={"language": "browser",
                                                          "next": "/console"},
                              allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/console"
    assert (await hotline.store.users.get(session.username)).language is None
    assert '<html lang="en">' in await (await session.get("/console", headers=english)).text()
