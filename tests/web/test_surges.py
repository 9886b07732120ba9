"""The surge signal in the web: cases of one category in one place well above the same hour of
past weeks show on the supervisors' page, the API and the wallboard; the page's prefilled
bulletin is posted as an emergency bulletin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.web.conftest import WebHotline


async def filed(hotline: WebHotline, when: datetime, n: int, place: str = "ronghua",
                category: str = "environment") -> None:
    for i in range(n):
        await hotline.store.cases.create(caller=f"1390000{i:04d}", category=category,
                                         description="荣华中路停水", now=when, place=place)


async def test_a_surge_is_shown_and_a_bulletin_posted_from_it(api_as, hotline: WebHotline):
    now = datetime.now(ZoneInfo(hotline.settings.timezone))
    await filed(hotline, now - timedelta(minutes=10), 8)  # 8 in the last hour
    for week in (1, 2, 3, 4):  # usually 1 in that hour
        await filed(hotline, now - timedelta(weeks=week, minutes=20), 1)
    await filed(hotline, now - timedelta(minutes=5), 8, place="boxing", category="traffic")
    for week in (1, 2, 3, 4):  # a busy place at its usual rate: no surge
        await filed(hotline, now - timedelta(weeks=week, minutes=20), 6, place="boxing",
                    category="traffic")
    await filed(hotline, now - timedelta(minutes=5), 9, place="")  # no place named: not counted
    await hotline.surges.check()

    supervisor = await api_as("supervisor")
    body = await (await supervisor.get("/api/surges")).json()
    assert [(s["category"], s["place"], s["count"], s["usual"]) for s in body["surges"]] == [
        ("environment", "ronghua", 8, 1.0)]
    assert body["surges"][0]["place_name"] == "荣华街道"
    page = await (await supervisor.get("/surges")).text()
    assert 'data-category="environment" data-place="ronghua"' in page
    assert "荣华街道的环境噪音问题我们已经收到多位市民反映" in page
    board = await (await supervisor.get("/wallboard/data")).json()
    assert [s["place"] for s in board["surges"]] == ["ronghua"]
    bulletins_page = await (await supervisor.get("/admin/bulletins")).text()
    assert 'id="surge-notice"' in bulletins_page

    expires = (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    resp = await supervisor.post("/surges/bulletin", data={
        "csrf": supervisor.csrf, "text-zh": "荣华街道停水正在抢修，请勿重复来电。",
        "text-en": "The water cut in Ronghua is being repaired.", "expires_at": expires},
        allow_redirects=False)
    assert resp.status == 303, await resp.text()
    active = await hotline.store.bulletins.active(datetime.now(UTC))
    assert [b.texts["zh"] for b in active] == ["荣华街道停水正在抢修，请勿重复来电。"]

    resp = await supervisor.post("/surges/bulletin", data={
        "csrf": supervisor.csrf, "text-zh": "", "text-en": "", "expires_at": expires})
    assert resp.status == 400
    assert "请至少用一种语言填写公告" in await resp.text()
    operator = await api_as("operator", "op1001")
    assert (await operator.get("/surges", allow_redirects=False)).status == 403


async def test_no_surge_on_a_quiet_hotline(api_as, hotline: WebHotline):
    await hotline.surges.check()
    supervisor = await api_as("supervisor")
    page = await (await supervisor.get("/surges")).text()
    assert 'id="no-surges"' in page
    assert (await (await supervisor.get("/api/surges")).json())["surges"] == []
