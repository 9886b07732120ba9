"""Flows through the API: validate, simulate, diff, publish, versions, rollback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tests.web.conftest import audited

LIVE_VERSION = 'version: "2026-11-28.1"'


async def live_text(admin) -> str:
    resp = await admin.get("/api/flows/current")
    assert resp.status == 200
    return str((await resp.json())["text"])


async def test_validate_reports_each_problem_with_its_line(api_as):
    """A dangling reference is reported at the line that holds it."""
    admin = await api_as("admin")
    text = await live_text(admin)
    broken = text.replace("next: choose_language", "next: nowhere", 1)
    resp = await admin.post("/api/flows/validate", json={"text": broken})
    body = await resp.json()
    assert body["valid"] is False
    line = broken.splitlines().index("    next: nowhere") + 1
    assert any(p["line"] == line and "nowhere" in p["message"] for p in body["problems"])
    resp = await admin.post("/api/flows/validate", json={"text": text})
    assert await resp.json() == {"valid": True, "problems": []}


async def test_publishing_an_invalid_flow_changes_nothing(api_as, hotline):
    """422 with the problems; file, versions, live flow and audit log unchanged."""
    admin = await api_as("admin")
    text = await live_text(admin)
    live = hotline.flows.current()
    versions = await hotline.store.flow_versions.of(live.flow.name)
    resp = await admin.post("/api/flows/publish",
                            json={"text": text.replace("kind: menu", "kind: mneu", 1)})
    assert resp.status == 422
    body = await resp.json()
    assert body["error"] == "invalid_flow"
    assert body["problems"]
    assert hotline.flows.current() == live
    assert await hotline.store.flow_versions.of(live.flow.name) == versions
    assert await asyncio.to_thread(hotline.settings.flow_path.read_text, encoding="utf-8") == text
    assert await audited(hotline) == []


async def test_publish_then_rollback(api_as, hotline):
    """Publishing swaps the live flow at once, records who and writes the file; rollback
    brings the previous version back the same way. Both are audited."""
    admin = await api_as("admin", username="ada")
    text = await live_text(admin)
    edited = text.replace(LIVE_VERSION, 'version: "2026-11-28.2"', 1)

    resp = await admin.post("/api/flows/diff", json={"text": edited})
    diff = (await resp.json())["diff"]
    assert '-version: "2026-11-28.1"' in diff
    assert '+version: "2026-11-28.2"' in diff

    resp = await admin.post("/api/flows/publish", json={"text": edited, "note": "v2"})
    assert resp.status == 200, await resp.text()
    published = await resp.json()
    assert published["version"] == "2026-11-28.2"
    assert hotline.flows.current().flow.version == "2026-11-28.2"
    path = hotline.settings.flow_path
    assert await asyncio.to_thread(path.read_text, encoding="utf-8") == edited
    versions = await (await admin.get("/api/flows/versions")).json()
    assert versions[0]["version"] == "2026-11-28.2"
    assert versions[0]["published_by"] == "ada"
    assert versions[0]["note"] == "v2"
    assert versions[0]["live"] is True
    assert versions[1]["live"] is False

    resp = await admin.post("/api/flows/rollback", json={})
    assert resp.status == 200, await resp.text()
    assert hotline.flows.current().flow.version == "2026-11-28.1"
    assert await asyncio.to_thread(path.read_text, encoding="utf-8") == text
    versions = await (await admin.get("/api/flows/versions")).json()
    assert versions[0]["note"] == f"rollback to version #{versions[-1]['id']}"
    actions = [e.action for e in await audited(hotline)]
    assert actions == ["flow.rollback", "flow.publish"]


async def test_rollback_with_a_single_version_is_refused(api_as, hotline):
    """Nothing earlier to go back to: 409 and the live flow stays."""
    admin = await api_as("admin")
    live = hotline.flows.current()
    resp = await admin.post("/api/flows/rollback", json={})
    assert resp.status == 409
    assert hotline.flows.current() == live


async def test_simulate_walks_the_edited_flow_with_the_callers_keys(api_as):
    """Keys 1 (Mandarin) then 1 (report) end in the report queue, as `ivr flow simulate`."""
    admin = await api_as("admin")
    resp = await admin.post("/api/flows/simulate", json={"digits": "11", "language": "zh"})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert "decision:" in body["transcript"]
    assert body["path"][:2] == ["greeting", "choose_language"]
    assert body["outcome"].startswith("queue report")

    text = await live_text(admin)
    resp = await admin.post("/api/flows/simulate",
                            json={"text": text.replace("kind: menu", "kind: mneu", 1)})
    assert resp.status == 422
    assert (await resp.json())["problems"]


async def test_simulate_knows_the_callers_open_cases_and_the_case_keyed(api_as, hotline):
    """Like a live call: a caller with an open case hears the hint; a case number keyed is
    looked up and read back; the admin may also set the history by hand."""
    case = await hotline.store.cases.create(caller="13800138000", category="water",
                                            now=datetime.now(UTC))
    admin = await api_as("admin")
    resp = await admin.post("/api/flows/simulate", json={
        "digits": f"1,3,{case.number}#", "caller": "13800138000"})
    body = await resp.json()
    assert "open_cases_hint" in body["path"], body
    assert body["path"][-2:] == ["goodbye", "served"]
    resp = await admin.post("/api/flows/simulate", json={"digits": "12", "open_cases": 2,
                                                         "caller_known": True})
    assert "open_cases_hint" in (await resp.json())["path"]
    resp = await admin.post("/api/flows/simulate", json={"digits": "12"})
    assert "open_cases_hint" not in (await resp.json())["path"]
    resp = await admin.post("/api/flows/simulate", json={"digits": "12", "open_cases": "2"})
    assert resp.status == 400


async def test_draw_returns_the_graph_with_problems_a_path_and_node_lines(api_as):
    """The draft is drawn as SVG; a problem is on its node; a path is highlighted; each node
    has its line; text that cannot be read is 422, a bad path 400."""
    admin = await api_as("admin")
    text = await live_text(admin)
    resp = await admin.post("/api/flows/draw", json={
        "text": text.replace("next: choose_language", "next: nowhere", 1),
        "path": ["greeting", "choose_language"]})
    assert resp.status == 200
    body = await resp.json()
    assert body["svg"].lstrip().startswith("<?xml")
    assert 'id="node&#45;greeting" class="node flow&#45;node kind&#45;play problem on&#45;path"' \
        in body["svg"]
    assert body["lines"]["greeting"] == text.splitlines().index("  greeting:") + 1
    assert any(p["node"] == "greeting" and "nowhere" in p["message"] for p in body["problems"])
    resp = await admin.post("/api/flows/draw", json={"text": "nodes: [unclosed"})
    assert resp.status == 422
    assert (await resp.json())["error"] == "invalid_flow"
    resp = await admin.post("/api/flows/draw", json={"text": text, "path": "greeting"})
    assert resp.status == 400
    operator = await api_as("operator", operator_id="op1001")
    assert (await operator.post("/api/flows/draw", json={"text": text})).status == 403
