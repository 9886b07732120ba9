"""Users, configuration, bulletins, operators, cases, figures and the audit log via the API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.core.flow.scenarios import scenarios_path
from ivr.core.records import CallRecord
from tests.web.conftest import api_login, audited

# -- users -----------------------------------------------------------------------------------


async def test_admin_creates_a_user_whose_generated_password_works_once_shown(
        api_as, anonymous, hotline):
    """The answer carries a generated password (never stored in clear) that logs in."""
    admin = await api_as("admin")
    resp = await admin.post("/api/users", json={"username": "li.wei", "role": "operator",
                                                "operator_id": "op1002"})
    assert resp.status == 201
    created = await resp.json()
    assert len(created["password"]) >= 16
    assert created["operator_id"] == "op1002"
    stored = await hotline.store.users.get("li.wei")
    assert created["password"] not in stored.password_hash
    assert await api_login(anonymous, "li.wei", created["password"])
    listed = await (await admin.get("/api/users")).json()
    assert {u["username"] for u in listed} == {admin.username, "li.wei"}
    assert all("password" not in u and "password_hash" not in u for u in listed)
    entry = (await audited(hotline))[0]
    assert (entry.actor, entry.action, entry.target) == (admin.username, "user.create",
                                                         "li.wei")


async def test_user_creation_refuses_duplicates_bad_roles_and_unknown_operators(api_as):
    """409 for an existing name, 400 for a role or operator that does not exist."""
    admin = await api_as("admin")
    assert (await admin.post("/api/users", json={"username": admin.username,
                                                 "role": "admin"})).status == 409
    assert (await admin.post("/api/users", json={"username": "x",
                                                 "role": "root"})).status == 400
    assert (await admin.post("/api/users", json={"username": "y", "role": "operator",
                                                 "operator_id": "op9999"})).status == 400


async def test_password_reset_replaces_the_old_password(api_as, anonymous):
    """The new password logs in; the old one no longer does."""
    admin = await api_as("admin")
    operator = await api_as("operator", "op1001")
    resp = await admin.patch(f"/api/users/{operator.username}", json={"reset_password": True})
    new_password = (await resp.json())["password"]
    old = await anonymous.post("/login", json={"username": operator.username,
                                               "password": operator.password})
    assert old.status == 401
    assert await api_login(anonymous, operator.username, new_password)


async def test_role_change_applies_to_the_open_session(api_as):
    """A supervisor promoted to admin reaches admin routes without logging in again."""
    admin = await api_as("admin")
    supervisor = await api_as("supervisor")
    assert (await supervisor.get("/api/audit")).status == 403
    await admin.patch(f"/api/users/{supervisor.username}", json={"role": "admin"})
    assert (await supervisor.get("/api/audit")).status == 200


async def test_an_operator_link_is_changed_and_cleared(api_as, hotline):
    """operator_id moves the account to another operator; null unlinks it."""
    admin = await api_as("admin")
    operator = await api_as("operator", "op1001")
    resp = await admin.patch(f"/api/users/{operator.username}", json={"operator_id": "op1002"})
    assert (await resp.json())["operator_id"] == "op1002"
    resp = await admin.patch(f"/api/users/{operator.username}", json={"operator_id": None})
    assert (await resp.json())["operator_id"] is None
    assert (await hotline.store.users.get(operator.username)).operator_id is None
    assert (await operator.post("/api/operators/op1001/login", json={})).status == 403


async def test_an_admin_cannot_lock_themselves_out(api_as):
    """Disabling or demoting one's own account is refused."""
    admin = await api_as("admin")
    for change in ({"disabled": True}, {"role": "operator"}):
        assert (await admin.patch(f"/api/users/{admin.username}", json=change)).status == 409
    assert (await admin.get("/api/audit")).status == 200


# -- configuration ---------------------------------------------------------------------------


async def test_invalid_config_lists_every_problem_and_changes_nothing(api_as, hotline):
    """Two bad operators entries: 422 naming both; the file and the settings are unchanged."""
    admin = await api_as("admin")
    original = (await (await admin.get("/api/config/operators")).json())["text"]
    bad = original.replace("skills: {report: 5, suggestion: 3}",
                           "skills: {report: 9, astrology: 3}", 1)
    assert bad != original
    resp = await admin.put("/api/config/operators", json={"text": bad})
    assert resp.status == 422
    problems = (await resp.json())["problems"]
    text = " ".join(f"{p['file']} {p['key']} {p['message']}" for p in problems)
    assert "astrology" in text
    assert "9" in text
    assert all(p["file"] == "operators.yaml" for p in problems)
    path = hotline.config_dir / "operators.yaml"
    assert await asyncio.to_thread(path.read_text, encoding="utf-8") == original
    assert hotline.reloads == 0
    assert await audited(hotline) == []


async def test_removing_a_skill_in_use_is_refused_with_the_operators_problems(api_as):
    """Dropping the report skill breaks operators.yaml and departments.yaml: that is
    reported, nothing changes."""
    admin = await api_as("admin")
    skills = (await (await admin.get("/api/config/skills")).json())["text"]
    start = skills.index("  - id: report")
    end = skills.index("  - id: inquiry")
    resp = await admin.put("/api/config/skills", json={"text": skills[:start] + skills[end:]})
    assert resp.status == 422
    problems = (await resp.json())["problems"]
    assert {p["file"] for p in problems} == {"operators.yaml", "departments.yaml"}
    assert "report" in str(problems)


async def test_removing_a_schedule_the_live_flow_uses_is_refused(api_as, hotline):
    """The live flow must still validate against the new configuration."""
    admin = await api_as("admin")
    # This flow skips the open-cases hint while the bureau is open, which the shipped
    # scenarios would refuse: this test is about the schedule, so it has none.
    await asyncio.to_thread(Path(scenarios_path(str(hotline.settings.flow_path))).unlink)
    flow = (await (await admin.get("/api/flows/current")).json())["text"]
    uses_schedule = flow.replace(
        "      - caller_has_open_cases: true\n",
        "      - schedule_open: housing_bureau\n        goto: main_menu\n"
        "      - caller_has_open_cases: true\n", 1)
    assert (await admin.post("/api/flows/publish", json={"text": uses_schedule})).status == 200
    schedules = (await (await admin.get("/api/config/schedules")).json())["text"]
    start = schedules.index("  housing_bureau:")
    end = schedules.index("  utilities_emergency:")
    resp = await admin.put("/api/config/schedules",
                           json={"text": schedules[:start] + schedules[end:]})
    assert resp.status == 422
    problems = (await resp.json())["problems"]
    assert [p["file"] for p in problems] == [hotline.settings.flow_path.name]
    assert "housing_bureau" in problems[0]["message"]
    assert hotline.reloads == 0


async def test_valid_config_is_written_audited_and_reloaded(api_as, hotline):
    """A valid edit replaces the file, writes an audit entry and reloads the settings."""
    admin = await api_as("admin")
    original = (await (await admin.get("/api/config/operators")).json())["text"]
    edited = original.replace("name: Wang Fang", "name: Wang Fang (day shift)", 1)
    resp = await admin.put("/api/config/operators", json={"text": edited})
    assert resp.status == 200, await resp.text()
    path = hotline.config_dir / "operators.yaml"
    assert await asyncio.to_thread(path.read_text, encoding="utf-8") == edited
    assert hotline.reloads == 1
    assert hotline.settings.operators["op1001"].name == "Wang Fang (day shift)"
    entry = (await audited(hotline))[0]
    assert (entry.action, entry.target) == ("config.update", "operators.yaml")


async def test_intents_are_checked_against_the_skills(api_as, hotline):
    """An intent pointing at an unknown skill is refused."""
    admin = await api_as("admin")
    text = (await (await admin.get("/api/config/intents")).json())["text"]
    bad = text.replace("skill: traffic", "skill: teleportation", 1)
    assert bad != text
    resp = await admin.put("/api/config/intents", json={"text": bad})
    assert resp.status == 422
    assert "teleportation" in str((await resp.json())["problems"])
    assert hotline.reloads == 0


async def test_routing_policy_is_versioned_diffed_and_rolled_back(api_as, hotline):
    """routing.toml through the API: an edit is a version, its diff is shown, a rollback
    brings the earlier policy back; nothing before the first version: 409."""
    admin = await api_as("admin")
    resp = await admin.post("/api/config/routing/rollback", json={})
    assert resp.status == 409
    original = (await (await admin.get("/api/config/routing")).json())["text"]
    edited = original.replace("elderly_bonus = 1 ", "elderly_bonus = 2 ", 1)
    assert edited != original
    diff = await (await admin.post("/api/config/routing/diff", json={"text": edited})).json()
    assert "+elderly_bonus = 2" in diff["diff"]
    resp = await admin.put("/api/config/routing", json={"text": edited, "note": "elders"})
    assert resp.status == 200, await resp.text()
    assert hotline.settings.routing.elderly_bonus == 2
    versions = await (await admin.get("/api/config/routing/versions")).json()
    assert [(v["note"], v["live"]) for v in versions] == [("elders", True),
                                                          ("as installed", False)]
    diff = await (await admin.post("/api/config/routing/diff",
                                   json={"version_id": versions[1]["id"]})).json()
    assert "-elderly_bonus = 2" in diff["diff"]
    assert (await admin.post("/api/config/routing/diff",
                             json={"version_id": "x"})).status == 400
    resp = await admin.post("/api/config/routing/rollback", json={})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["rolled_back_to"] == versions[1]["id"]
    assert hotline.settings.routing.elderly_bonus == 1
    assert [e.action for e in await audited(hotline)][:2] == ["config.rollback",
                                                               "config.update"]


async def test_unknown_config_file_is_404(api_as):
    """Only the shared files of /admin/config can be read or written (not ivr.toml)."""
    admin = await api_as("admin")
    assert (await admin.get("/api/config/ivr")).status == 404
    assert (await admin.put("/api/config/secrets", json={"text": ""})).status == 404


# -- bulletins -------------------------------------------------------------------------------


async def test_supervisor_posts_lists_and_withdraws_a_bulletin(api_as, hotline):
    """Posted with texts per language and expiry; withdrawn; both audited."""
    supervisor = await api_as("supervisor")
    expires = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    resp = await supervisor.post("/api/bulletins", json={
        "texts": {"zh": "地铁一号线停运", "en": "Metro line 1 is closed"},
        "expires_at": expires})
    assert resp.status == 201, await resp.text()
    bulletin = await resp.json()
    assert bulletin["texts"]["en"] == "Metro line 1 is closed"
    sounds = hotline.settings.asterisk_sounds
    for lang in ("zh", "en"):
        audio = sounds / lang / "bulletins" / f"{bulletin['id']}.wav"
        assert (await asyncio.to_thread(audio.stat)).st_size > 1000
    listed = await (await supervisor.get("/api/bulletins")).json()
    assert [b["id"] for b in listed] == [bulletin["id"]]
    assert len(await hotline.store.bulletins.active(datetime.now(UTC))) == 1
    resp = await supervisor.post(f"/api/bulletins/{bulletin['id']}/withdraw")
    assert resp.status == 200
    assert (await resp.json())["withdrawn_at"]
    assert await hotline.store.bulletins.active(datetime.now(UTC)) == []
    actions = [e.action for e in await audited(hotline)]
    assert actions == ["bulletin.withdraw", "bulletin.post"]


async def test_bulletin_needs_a_known_language_and_a_future_expiry(api_as):
    """Unknown languages, no text and past expiry are 400."""
    supervisor = await api_as("supervisor")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for body in ({"texts": {"xx": "hi"}, "expires_at": future},
                 {"texts": {"en": "  "}, "expires_at": future},
                 {"texts": {"en": "hi"}, "expires_at": past},
                 {"texts": {"en": "hi"}, "expires_at": "tomorrow"}):
        assert (await supervisor.post("/api/bulletins", json=body)).status == 400


# -- operators and figures -------------------------------------------------------------------


async def test_operator_changes_only_their_own_state(api_as, hotline):
    """op1001 logs in and pauses themselves; acting for op1002 is refused."""
    operator = await api_as("operator", "op1001")
    resp = await operator.post("/api/operators/op1001/login", json={})
    assert resp.status == 200
    assert set((await resp.json())["skills"]) == {"report", "suggestion"}
    assert (await operator.post("/api/operators/op1001/pause",
                                json={"reason": "training"})).status == 200
    assert (await operator.post("/api/operators/op1002/login", json={})).status == 403
    listed = {o["id"]: o for o in await (await operator.get("/api/operators")).json()}
    assert listed["op1001"]["paused"] is True
    assert listed["op1001"]["reason"] == "training"
    assert listed["op1002"]["queues"] == []
    assert hotline.operators.actions == [("login", "op1001"), ("pause", "op1001")]


async def test_supervisor_acts_for_any_operator_and_it_is_audited(api_as, hotline):
    """A supervisor logs op1002 in with one skill; the audit says who did it."""
    supervisor = await api_as("supervisor")
    resp = await supervisor.post("/api/operators/op1002/login", json={"skills": ["inquiry"]})
    assert (await resp.json())["skills"] == ["inquiry"]
    assert (await supervisor.post("/api/operators/op1002/logout")).status == 200
    assert (await supervisor.post("/api/operators/op4242/logout")).status == 404
    entries = await audited(hotline)
    assert [(e.actor, e.action, e.target) for e in entries] == [
        (supervisor.username, "operator.logout", "op1002"),
        (supervisor.username, "operator.login", "op1002")]


async def test_figures_per_skill_for_supervisors(api_as, hotline):
    """Every configured skill has its live figures."""
    supervisor = await api_as("supervisor")
    figures = await (await supervisor.get("/api/figures")).json()
    assert set(figures) == set(hotline.settings.skills)
    assert figures["report"]["waiting"] == 0
    assert figures["report"]["target"]["percent"] == 80


# -- cases and calls -------------------------------------------------------------------------


async def test_operator_opens_and_moves_a_case_with_history(api_as):
    """Created as new, dispatched, then a backward step is refused with the reason."""
    operator = await api_as("operator", "op1001")
    resp = await operator.post("/api/cases", json={
        "caller": "13800001111", "category": "report", "description": "broken streetlight"})
    assert resp.status == 201, await resp.text()
    case = await resp.json()
    assert case["status"] == "new"
    assert case["department"] == ""  # dispatching gives it one
    number = case["number"]
    resp = await operator.patch(f"/api/cases/{number}",
                                json={"status": "dispatched", "note": "to the district"})
    assert (await resp.json())["status"] == "dispatched"
    resp = await operator.patch(f"/api/cases/{number}", json={"status": "new"})
    assert resp.status == 409
    assert (await resp.json())["message"]
    detail = await (await operator.get(f"/api/cases/{number}")).json()
    assert [h["status"] for h in detail["history"]] == ["new", "dispatched"]
    assert detail["history"][1]["actor"] == operator.username
    assert detail["history"][1]["note"] == "to the district"
    listed = await (await operator.get("/api/cases?status=dispatched")).json()
    assert [c["number"] for c in listed] == [number]
    assert (await operator.get("/api/cases/0000000000")).status == 404


async def test_recent_calls_newest_first(api_as, hotline):
    """/api/calls lists what the store has, newest first, limited."""
    for n in range(3):
        await hotline.store.calls.save(CallRecord(
            call_id=f"c{n}", channel=f"PJSIP/x-{n}", caller="1380000000{n}", language="zh",
            arrived_at=(datetime(2026, 11, 28, 9, tzinfo=UTC) + timedelta(minutes=n)
                        ).isoformat()))
    supervisor = await api_as("supervisor")  # an operator sees only their own calls
    calls = await (await supervisor.get("/api/calls?limit=2")).json()
    assert [c["call_id"] for c in calls] == ["c2", "c1"]


async def test_audit_log_is_newest_first_for_admins(api_as):
    """Each mutation appears with actor, action, target and detail."""
    admin = await api_as("admin")
    await admin.post("/api/users", json={"username": "zhang", "role": "supervisor"})
    await admin.patch("/api/users/zhang", json={"disabled": True})
    entries = await (await admin.get("/api/audit")).json()
    assert [(e["action"], e["target"]) for e in entries] == [
        ("user.update", "zhang"), ("user.create", "zhang"), ("login", admin.username)]
    assert entries[0]["detail"]["disabled"] is True
    assert entries[0]["actor"] == admin.username


async def test_a_skill_name_that_would_add_lines_to_queues_conf_is_refused(api_as, hotline):
    """Names edited in the admin page end up in queues.conf: a line break is a 422 naming
    the key, and neither the file nor the settings change."""
    admin = await api_as("admin")
    original = (await (await admin.get("/api/config/skills")).json())["text"]
    bad = original.replace("en: Environment and noise}",
                           'en: "Noise\\n[evil]\\nmember => PJSIP/intruder"}', 1)
    assert bad != original
    resp = await admin.put("/api/config/skills", json={"text": bad})
    assert resp.status == 422
    problems = (await resp.json())["problems"]
    assert [(p["file"], p["key"]) for p in problems] == [
        ("skills.yaml", "skills[environment].names.en")]
    path = hotline.config_dir / "skills.yaml"
    assert await asyncio.to_thread(path.read_text, encoding="utf-8") == original
    assert hotline.reloads == 0


async def test_a_bulletin_longer_than_the_playing_limit_is_refused_at_posting(api_as, hotline):
    """A text that would play past the AGI command timeout (it would end every caller's IVR
    as a hang-up) is refused when posted, naming how long it lasts; nothing is left behind."""
    supervisor = await api_as("supervisor")
    expires = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    text = ("Water supply in the eastern districts is interrupted until further notice; "
            "please keep tap water for drinking. ") * 9
    assert len(text) <= 1000
    resp = await supervisor.post("/api/bulletins", json={"texts": {"en": text[:1000]},
                                                         "expires_at": expires})
    assert resp.status == 409, await resp.text()  # Refused
    message = (await resp.json())["message"]
    assert "lasts" in message
    assert "at most 55 s" in message
    assert await hotline.store.bulletins.active(datetime.now(UTC)) == []
    folder = hotline.settings.asterisk_sounds / "en" / "bulletins"
    left = await asyncio.to_thread(lambda: list(folder.iterdir()) if folder.exists() else [])
    assert left == []


async def test_place_updates_are_part_of_the_routing_policy(api_as, hotline):
    """routing.toml's position_every (the place-in-line updates) is edited like the rest of
    the policy, checked with the whole configuration, and reaches the live settings."""
    admin = await api_as("admin")
    got = await (await admin.get("/api/config/routing")).json()
    assert got["file"] == "routing.toml"
    assert "widening = [" in got["text"]
    path = hotline.config_dir / "routing.toml"
    edited = got["text"].replace("position_every = 0 ", "position_every = 60 ", 1)
    assert edited != got["text"]
    resp = await admin.put("/api/config/routing", json={"text": edited})
    assert resp.status == 200, await resp.text()
    assert await asyncio.to_thread(path.read_text, encoding="utf-8") == edited
    assert hotline.settings.routing.position_every == 60
    assert (await (await admin.get("/api/config/routing")).json())["text"] == edited


@pytest.mark.parametrize(("old", "new", "said"), [
    ("previous_operator_seconds = 20", "previous_operator_seconds = 95",
     "must end before the search leaves"),
    ("position_every = 0 ", "position_every = 5 ", "position_every"),
    ("{after = 30, min_level = 2}", "{after = 30, min_level = 9}", "outside 1..5"),
])
async def test_a_bad_routing_policy_is_refused_and_nothing_changes(api_as, hotline, old, new,
                                                                  said):
    admin = await api_as("admin")
    text = (await (await admin.get("/api/config/routing")).json())["text"]
    path = hotline.config_dir / "routing.toml"
    before = await asyncio.to_thread(path.read_text, encoding="utf-8")
    resp = await admin.put("/api/config/routing", json={"text": text.replace(old, new, 1)})
    assert resp.status == 422
    assert said in str((await resp.json())["problems"])
    assert await asyncio.to_thread(path.read_text, encoding="utf-8") == before
    assert hotline.reloads == 0
