"""The wallboard: live figures per skill fed by AMI-like events into a real LiveFigures, over
HTTP (/wallboard/data) and in a real headless Chromium (table, colours, SVG charts, refresh)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect

from ivr.core.asterisk_render import WRAP_UP_SECONDS
from ivr.core.figures import LiveFigures, agents_needed
from ivr.core.protocols.ami import AmiEvent
from tests.web.conftest import ApiSession, WebHotline, WebUser, browser_login

Client = TestClient[web.Request, web.Application]
Q = "report"  # target 80 % in 20 s
ALICE, BOB, CAROL = "PJSIP/op1001", "PJSIP/op1005", "PJSIP/op1003"
PREVIOUS_CALLS, PREVIOUS_TALK = 20, 240


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The wallboard reads live figures only: one backend is enough."""
    return f"sqlite:///{tmp_path / 'web.sqlite3'}"


def ev(name: str, **fields: object) -> AmiEvent:
    return AmiEvent(name, {k: str(v) for k, v in fields.items()})


def feed(figures: LiveFigures, now: float) -> None:
    """A busy previous interval (20 calls answered by Alice), then in the last minute: Bob
    answers one caller after 5 s, one hangs up after 40 s, one is still waiting (30 s);
    Alice available, Carol paused for a meal."""
    start = now - 900
    for n in range(PREVIOUS_CALLS):
        uid = f"prev-{n}"
        figures.apply(ev("QueueCallerJoin", Queue=Q, Uniqueid=uid, Position=1), start)
        figures.apply(ev("AgentConnect", Queue=Q, Uniqueid=uid, Interface=ALICE, HoldTime=3),
                      start + 3)
        figures.apply(ev("AgentComplete", Queue=Q, Uniqueid=uid, Interface=ALICE, HoldTime=3,
                         TalkTime=PREVIOUS_TALK, Reason="caller"), start + 5)
    for interface, paused in ((ALICE, 0), (BOB, 0), (CAROL, 1)):
        figures.apply(ev("QueueMemberAdded", Queue=Q, Interface=interface, MemberName=interface,
                         Status=1, Paused=paused, PausedReason="meal" if paused else ""),
                      now - 120)
    figures.apply(ev("QueueCallerJoin", Queue=Q, Uniqueid="c2", Position=1), now - 60)
    figures.apply(ev("QueueCallerJoin", Queue=Q, Uniqueid="c1", Position=2), now - 50)
    figures.apply(ev("AgentConnect", Queue=Q, Uniqueid="c1", Interface=BOB, HoldTime=5),
                  now - 45)
    figures.apply(ev("QueueCallerJoin", Queue=Q, Uniqueid="c3", Position=2), now - 30)
    figures.apply(ev("QueueCallerAbandon", Queue=Q, Uniqueid="c2", HoldTime=40, Position=1,
                     OriginalPosition=1), now - 20)


async def test_wallboard_is_for_supervisors(anonymous: Client, api_as: Any) -> None:
    """Anonymous users go to /login; an operator is refused the page and the figures."""
    page = await anonymous.get("/wallboard", allow_redirects=False)
    assert page.status == 302
    assert (await anonymous.get("/wallboard/data")).status == 401
    wang: ApiSession = await api_as("operator", operator_id="op1001")
    assert (await wang.get("/wallboard", allow_redirects=False)).status == 403
    assert (await wang.get("/wallboard/data")).status == 403


async def test_figures_per_skill_with_staffing_hint(
    api_as: Any, hotline: WebHotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waiting, longest wait, service level and its colour, abandon rate, ASA, operators by
    state, the Erlang C hint from the previous interval, and the history bars."""
    # The middle of a 15-minute interval, so "the last minute" never straddles two of them.
    now = (time.time() // 900) * 900 + 450
    monkeypatch.setattr(hotline.clock, "time", lambda: now)
    feed(hotline.figures, now)
    sue: ApiSession = await api_as("supervisor")
    response = await sue.get("/wallboard/data", params={"hours": "2"})
    assert response.status == 200
    data = await response.json()
    skills = {s["skill"]: s for s in data["skills"]}
    assert list(skills)[:3] == ["hotline", "report", "inquiry"]  # settings order
    report = skills[Q]
    assert report["waiting"] == 1
    assert 29 <= report["longest_wait_seconds"] <= 33
    assert report["service_level_percent"] == 50.0
    assert report["service_level_colour"] == "red"
    assert report["window"]["abandon_rate_percent"] == 50.0
    assert report["window"]["asa_seconds"] == 5.0
    ops = report["operators"]
    assert (ops["available"], ops["busy"], ops["wrap_up"], ops["paused"]) == (1, 1, 0, 1)
    hint = report["staffing"]
    aht = PREVIOUS_TALK + WRAP_UP_SECONDS
    assert hint["calls_per_hour"] == PREVIOUS_CALLS * 4
    assert hint["aht_seconds"] == aht
    assert hint["needed"] == agents_needed(PREVIOUS_CALLS * 4, aht, 80, 20)
    assert hint["staffed"] == 2
    assert hint["needed"] > hint["staffed"]
    bars = report["history"]
    assert len(bars) == 8
    assert bars[-2]["offered"] == PREVIOUS_CALLS
    assert bars[-2]["service_level_percent"] == 100.0
    assert bars[-1]["abandoned"] == 1
    everything = data["total"]
    assert (everything["waiting"], everything["window"]["offered"]) == (1, 3)
    assert everything["window"]["service_level_percent"] == 50.0
    assert 29 <= everything["longest_wait_seconds"] <= 33
    quiet = skills["inquiry"]
    assert (quiet["waiting"], quiet["service_level_percent"]) == (0, None)
    assert quiet["service_level_colour"] == "grey"
    # Alice stayed available while c2 (40 s), c1 (5 s) and c3 (30 s so far) waited.
    assert report["today"]["idle_wait_seconds"] == 75
    assert quiet["today"]["idle_wait_seconds"] == 0


async def test_stage_queues_are_folded_into_their_skills(
    api_as: Any, hotline: WebHotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller of inquiry waiting in lang-zh and op-op1002 (later stages of their wait) is
    shown under inquiry, with the seconds an operator there sat idle; no stage queue is a row."""
    now = (time.time() // 900) * 900 + 450
    monkeypatch.setattr(hotline.clock, "time", lambda: now)
    live = hotline.figures
    live.note_priorities("s1", {"inquiry": 5, "lang-zh": 6}, "inquiry")
    live.apply(ev("QueueMemberAdded", Queue="lang-zh", Interface=ALICE, MemberName=ALICE,
                  Status=1, Paused=0), now - 100)
    live.apply(ev("QueueMemberAdded", Queue="op-op1002", Interface=BOB, MemberName=BOB,
                  Status=2, Paused=0), now - 100)
    live.apply(ev("QueueCallerJoin", Queue="inquiry", Uniqueid="s1", Position=1), now - 90)
    live.apply(ev("QueueCallerLeave", Queue="inquiry", Uniqueid="s1", Position=1), now - 40)
    live.apply(ev("QueueCallerJoin", Queue="lang-zh", Uniqueid="s1", Position=1), now - 40)
    live.apply(ev("QueueCallerJoin", Queue="op-op1002", Uniqueid="s2", Position=1), now - 10)
    sue: ApiSession = await api_as("supervisor")
    data = await (await sue.get("/wallboard/data")).json()
    rows = {s["skill"]: s for s in data["skills"]}
    assert not [name for name in rows if name.startswith(("lang-", "op-"))], list(rows)
    inquiry = rows["inquiry"]
    assert (inquiry["waiting"], inquiry["waiting_in_stages"]) == (1, 1)
    assert inquiry["today"]["idle_wait_seconds"] == 40  # Alice free in lang-zh all along
    assert data["total"]["waiting"] == 2  # s2 (its skill not known here) in the total only


async def test_hours_must_be_sensible(api_as: Any) -> None:
    """A chart span that is not a number, or longer than a day, is refused with a reason."""
    sue: ApiSession = await api_as("supervisor")
    for hours in ("x", "0", "48"):
        response = await sue.get("/wallboard/data", params={"hours": hours})
        assert response.status == 400
        assert "hours" in (await response.json())["message"]


async def test_wallboard_in_a_browser_shows_and_refreshes_the_figures(
    page: Page, live_url: str, web_user: WebUser, hotline: WebHotline
) -> None:
    """The report row shows 1 waiting and a red 50 % level, its chart has bars and a level
    line; when the waiting caller is answered the board shows 0 within one refresh."""
    feed(hotline.figures, time.time())
    username, password = await web_user("supervisor")
    await browser_login(page, live_url, username, password, "/wallboard")
    row = page.locator('#board tr[data-skill="report"]')
    await expect(row.locator("td.waiting")).to_have_text("1")
    level = row.locator("td.level")
    await expect(level).to_contain_text("50.0 %")
    await expect(level).to_have_class("level red")
    await expect(row.locator("td.ops-busy")).to_have_text("1")
    await expect(page.locator("#board tfoot td.waiting")).to_have_text("1")
    await expect(row.locator("td.paused")).to_have_text("1")
    await expect(row.locator("td.staffing")).to_have_class("staffing short")
    chart = page.locator('#charts svg[data-skill="report"]')
    await expect(chart.locator("rect.bar.offered")).not_to_have_count(0)
    await expect(chart.locator("polyline.level-line")).to_have_count(1)
    hotline.figures.apply(ev("AgentConnect", Queue=Q, Uniqueid="c3", Interface=ALICE,
                             HoldTime=35), time.time())
    await expect(row.locator("td.waiting")).to_have_text("0", timeout=3000)
    await expect(row.locator("td.ops-busy")).to_have_text("2")
    # c2 40 s, c1 5 s, c3 30-35 s while Alice was free: over a minute of idle waiting.
    await expect(row.locator("td.idle-wait")).to_contain_text("1:1")
