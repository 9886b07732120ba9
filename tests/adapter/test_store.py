"""The store on a real SQLite file and a real PostgreSQL database: every test runs on both."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, create_engine, inspect, text

from ivr import settings
from ivr.core.cases import case_number, case_number_valid
from ivr.core.records import CallRecord
from ivr.core.routing import FALLBACK_REASON, QueueOutcome
from ivr.core.words import say
from ivr.edges.storage import migrations
from ivr.edges.storage.migrations import SCHEMA_VERSION
from ivr.edges.storage.store import Store, open_store
from ivr.edges.storage.tables import metadata
from ivr.edges.translations import load_catalogs
from ivr.errors import StorageError
from ivr.tools import admin
from ivr.web.i18n import LOCALE_DIR

NOW = datetime(2026, 12, 18, 10, 30, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def call(call_id: str, *, caller: str = "13800138000", arrived: datetime = NOW,
         **fields: object) -> CallRecord:
    return CallRecord(call_id, f"PJSIP/{call_id}", caller, "zh",
                      arrived.astimezone(UTC).isoformat(timespec="milliseconds"),
                      **fields)  # type: ignore[arg-type]


# -- what existed before PostgreSQL ---------------------------------------------------------


async def test_case_numbers_are_valid_and_unique_per_day(store: Store) -> None:
    """Every case number passes the checksum the IVR checks, and none repeats."""
    numbers = [
        (await store.cases.create(caller="13800138000", category="housing", now=NOW)).number
        for _ in range(25)
    ]
    assert len(set(numbers)) == 25
    assert all(case_number_valid(n) for n in numbers)
    assert numbers[0].startswith("6352")  # 2026, day 352
    tomorrow = await store.cases.create(caller="1", category="housing",
                                       now=NOW + timedelta(days=1))
    assert tomorrow.number[:9] == "635300001"  # a new day starts at 1


def test_case_number_layout() -> None:
    """Year digit, day of year, daily sequence, Luhn digit; a day's capacity is bounded."""
    assert case_number(1, 2027, 7)[:9] == "700100007"
    with pytest.raises(StorageError):
        case_number(1, 2027, 100_000)


async def test_survey_is_stored_with_the_call_and_its_case(store: Store) -> None:
    """The 1-5 score lands on the call record and on the case opened for that call."""
    await store.calls.save(call("c1"))
    case = await store.cases.create(caller="13800138000", category="traffic", call_id="c1",
                                   now=NOW)
    await store.calls.record_survey("c1", 4)
    record = await store.calls.get("c1")
    assert record is not None
    assert record.survey_score == 4
    stored = await store.cases.get(case.number)
    assert stored is not None
    assert stored.satisfaction == 4


async def test_a_saved_call_reads_back_whole_and_updates_in_place(store: Store) -> None:
    """Path, variables and routing reasons survive the round trip; saving again updates."""
    record = call("c1", queue="housing", priority=2, path=["welcome", "menu"],
                  variables={"case": "6352000019"}, route_reasons=["repeat caller"])
    await store.calls.save(record)
    record.outcome, record.ended_at = "routed", NOW.isoformat()
    record.path.append("queue")
    await store.calls.save(record)
    assert await store.calls.get("c1") == record
    assert await store.calls.get("nobody") is None
    await store.calls.save(call("c2", arrived=NOW + timedelta(minutes=1)))
    assert [r.call_id for r in await store.calls.by_caller("13800138000")] == ["c1", "c2"]


HOSTILE = [
    "Robert'); DROP TABLE calls;--",
    "line one\nline two\r\n\t\"quoted\" and 'single'",
    "王小明 反映：小区停水；\\ 100% _ % ;",
    "emoji 🚰 and combining é and RTL \u202e",
]


async def test_routing_reasons_keep_their_words_for_each_readers_language(
    store: Store,
) -> None:
    """A call's reasons and queue lines come back sayable in Chinese (their templates and
    values kept); lines stored as plain text before come back as they were."""
    zh = load_catalogs(LOCALE_DIR)["zh_CN"].ugettext
    queue = QueueOutcome("hotline")
    queue.answered("inquiry", "op1002", 12.4)
    record = call("c9", route_reasons=[FALLBACK_REASON, "an old plain line"],
                  queue_outcome=list(queue.lines))
    await store.calls.save(record)
    got = await store.calls.get("c9")
    assert got is not None
    assert got == record
    assert [say(line, zh) for line in got.route_reasons] == [
        "兜底：应用未对此来电分配路由；Asterisk 拨号方案将其同时分配给所有已登录话务员（综合队列）",
        "an old plain line"]
    assert [say(line, zh) for line in got.queue_outcome] == [
        "inquiry：排队 12 秒后由 op1002 接听（inquiry 队列）"]


@pytest.mark.parametrize("nasty", HOSTILE)
async def test_caller_data_is_stored_verbatim(store: Store, nasty: str) -> None:
    """Quotes, newlines, SQL and any unicode in caller data are data, never SQL."""
    await store.calls.save(call("c2", caller_name=nasty, variables={"said": nasty}))
    record = await store.calls.get("c2")
    assert record is not None
    assert (record.caller_name, record.variables) == (nasty, {"said": nasty})
    case = await store.cases.create(caller=nasty, category="water", description=nasty, now=NOW)
    assert await store.cases.of_caller(nasty) == [case]
    updated = await store.cases.update(case.number, actor=nasty, now=NOW, note=nasty)
    assert updated.description == nasty
    assert (await store.cases.history(case.number))[-1].note == nasty
    await store.audit.record(nasty, "case.update", nasty, {"note": nasty}, NOW)
    assert (await store.audit.latest())[0].detail == {"note": nasty}
    bulletin = await store.bulletins.add({"zh": nasty}, NOW, NOW + timedelta(hours=1), nasty,
                                        NOW)
    assert (await store.bulletins.active(NOW))[0].texts == {"zh": nasty} == bulletin.texts


async def test_flow_versions_keep_who_and_when(store: Store) -> None:
    """Published versions are listed oldest first with their publisher."""
    for i in (1, 2):
        await store.flow_versions.add(flow="12345", version=f"v{i}", digest=f"d{i}", text="t",
                                     published_by="admin", published_at=NOW)
    await store.flow_versions.add(flow="other", version="x", digest="d", text="t",
                                 published_by="admin", published_at=NOW)
    versions = await store.flow_versions.of("12345")
    assert [(v.version, v.published_by) for v in versions] == [("v1", "admin"), ("v2", "admin")]
    assert versions[0].id < versions[1].id


async def test_config_versions_are_kept_apart_from_flow_versions(store: Store) -> None:
    """One table, two kinds: a config file named like a flow has versions of its own."""
    await store.flow_versions.add(flow="skills", version="v1", digest="f", text="flow",
                                 published_by="admin", published_at=NOW)
    config = await store.config_versions.add(flow="skills", version="c", digest="c",
                                             text="skills: []", published_by="ada",
                                             published_at=NOW, note="as installed")
    assert await store.config_versions.of("skills") == [config]
    assert [v.text for v in await store.flow_versions.of("skills")] == ["flow"]


async def test_callbacks_keep_their_attempts(store: Store) -> None:
    """A callback is listed while waiting, and its attempts and status are written back."""
    request = await store.callbacks.add(call_id="c1", number="13800138000", skill="housing",
                                       priority=1, position=3, arrived_at=NOW.isoformat(),
                                       requested_at=NOW.isoformat())
    assert await store.callbacks.listing("waiting") == [request]
    request.attempts.append({"at": NOW.isoformat(), "result": "no answer"})
    request.status = "failed"
    await store.callbacks.update(request)
    assert await store.callbacks.listing("waiting") == []
    assert await store.callbacks.listing() == [request]


async def test_reopening_keeps_data_and_schema(database_url: str, tmp_path: Path) -> None:
    """Migrations run once; a second open finds the data."""
    s = open_store(database_url, tmp_path)
    await s.open()
    await s.calls.save(call("c3"))
    await s.close()
    again = open_store(database_url, tmp_path)
    await again.open()
    assert await again.calls.get("c3") is not None
    assert await again.schema_version() == SCHEMA_VERSION
    await again.close()


async def test_a_path_still_opens_an_sqlite_file(tmp_path: Path) -> None:
    """open_store(path) as the callers wrote it before URLs: the file appears there."""
    s = open_store(tmp_path / "sub" / "db.sqlite3")
    await s.open()
    await s.calls.save(call("c4"))
    await s.close()
    assert s.path == tmp_path / "sub" / "db.sqlite3"
    assert s.path.exists()


# -- calls through the queue -----------------------------------------------------------------


async def test_a_call_answered_then_completed_keeps_its_figures(store: Store) -> None:
    """Operator, wait and talk time land on the call; the IVR saving it later loses nothing."""
    ivr_copy = call("c1", queue="housing", skill="housing", outcome="routed")
    await store.calls.save(ivr_copy)
    told = ["housing (the housing queue): skipped op6 (paused)", "housing: rang op7",
            "housing: answered by op7 after 42 s in line (the housing queue)"]
    await store.calls.set_answered("c1", "op7", NOW + timedelta(seconds=42), 42.5, told)
    await store.calls.set_completed("c1", NOW + timedelta(minutes=5), 257.5)
    ivr_copy.path.append("survey")  # the IVR's stale copy, saved after the queue events
    await store.calls.save(ivr_copy)
    record = await store.calls.get("c1")
    assert record is not None
    assert (record.operator, record.wait_seconds, record.talk_seconds, record.skill) == (
        "op7", 42.5, 257.5, "housing")
    assert record.answered_at is not None
    assert datetime.fromisoformat(record.answered_at) == NOW + timedelta(seconds=42)
    assert record.outcome == "routed"
    assert record.path == ["survey"]
    assert record.queue_outcome == told  # what app_queue did, kept through the IVR's save


async def test_an_abandoned_call_says_so(store: Store) -> None:
    """A caller who gave up in the queue: outcome abandoned, end time and wait recorded."""
    await store.calls.save(call("c1", queue="housing", outcome="routed"))
    await store.calls.set_abandoned("c1", NOW + timedelta(seconds=90), 88.0,
                                    ["housing: the caller hung up after 88 s in line"])
    record = await store.calls.get("c1")
    assert record is not None
    assert (record.outcome, record.wait_seconds, record.operator) == ("abandoned", 88.0, None)
    assert record.queue_outcome == ["housing: the caller hung up after 88 s in line"]
    assert record.ended_at is not None
    assert datetime.fromisoformat(record.ended_at) == NOW + timedelta(seconds=90)
    with pytest.raises(StorageError, match="no call"):
        await store.calls.set_answered("unknown", "op1", NOW, 1.0)


async def test_calls_between_is_a_half_open_window_and_recent_is_newest_first(
    store: Store,
) -> None:
    """calls_between takes [start, end) whatever the zone of its bounds; recent_calls is capped."""
    for minute in range(5):
        await store.calls.save(call(f"c{minute}", arrived=NOW + timedelta(minutes=minute)))
    start = (NOW + timedelta(minutes=1)).astimezone(SHANGHAI)  # same instants, local zone
    end = (NOW + timedelta(minutes=3)).astimezone(SHANGHAI)
    assert [r.call_id for r in await store.calls.between(start, end)] == ["c1", "c2"]
    assert [r.call_id for r in await store.calls.recent(3)] == ["c4", "c3", "c2"]
    assert len(await store.calls.recent()) == 5


async def test_the_calls_in_progress_are_found_among_the_latest_only(store: Store) -> None:
    """What the reconciler looks at: the unfinished calls among the latest few, newest first;
    an older unfinished call is outside the window, finished ones are never returned."""
    outcomes = ["in_progress", "routed", "in_progress", "caller_hung_up", "in_progress"]
    for minute, outcome in enumerate(outcomes):
        record = call(f"c{minute}", arrived=NOW + timedelta(minutes=minute))
        record.outcome = outcome
        await store.calls.save(record)
    assert [r.call_id for r in await store.calls.in_progress(3)] == ["c4", "c2"]
    assert [r.call_id for r in await store.calls.in_progress(5)] == ["c4", "c2", "c0"]
    assert await store.calls.in_progress(0) == []


# -- cases: workflow, history, lists ------------------------------------------------------------

FORWARD = [
    ("new", "dispatched"), ("new", "in_progress"), ("new", "closed"),
    ("dispatched", "resolved"), ("in_progress", "resolved"), ("resolved", "closed"),
    ("resolved", "in_progress"),  # reopened
]
REFUSED = [
    ("dispatched", "new"), ("in_progress", "dispatched"), ("resolved", "new"),
    ("resolved", "dispatched"), ("closed", "in_progress"), ("closed", "resolved"),
]


async def _case_at(store: Store, status: str) -> str:
    case = await store.cases.create(caller="13800138000", category="housing", now=NOW)
    if status != "new":
        await store.cases.set_status(case.number, status, NOW)
    return case.number


@pytest.mark.parametrize(("before", "after"), FORWARD)
async def test_case_status_moves_forward_or_reopens(
    store: Store, before: str, after: str
) -> None:
    """Forward steps (skipping allowed) and reopening a resolved case are accepted."""
    number = await _case_at(store, before)
    later = NOW + timedelta(hours=1)
    case = await store.cases.update(number, actor="alice", now=later, status=after)
    assert case.status == after
    assert case.updated_at == later.isoformat(timespec="seconds")
    last = (await store.cases.history(number))[-1]
    assert (last.actor, last.status) == ("alice", after)
    if before == "resolved" and after == "in_progress":
        assert "reopened" in last.note


@pytest.mark.parametrize(("before", "after"), REFUSED)
async def test_case_status_never_goes_back(store: Store, before: str, after: str) -> None:
    """A backward step is refused with a message naming both statuses; nothing changes."""
    number = await _case_at(store, before)
    history = await store.cases.history(number)
    with pytest.raises(StorageError, match=f"from {before} to {after}"):
        await store.cases.update(number, actor="alice", now=NOW, status=after)
    stored = await store.cases.get(number)
    assert stored is not None
    assert stored.status == before
    assert await store.cases.history(number) == history


async def test_case_edits_are_written_to_its_history(store: Store) -> None:
    """Creation, a reassignment with a note, and a status change each leave one history row."""
    case = await store.cases.create(caller="1", category="housing", department="Housing Bureau",
                                   now=NOW, actor="ivr")
    one = NOW + timedelta(minutes=5)
    moved = await store.cases.update(case.number, actor="alice", now=one, category="water",
                                    department="Water Company", note="wrong desk")
    assert (moved.category, moved.department, moved.status) == ("water", "Water Company", "new")
    await store.cases.update(case.number, actor="bob", now=one, status="dispatched")
    unchanged = await store.cases.update(case.number, actor="bob", now=one, category="water")
    assert unchanged == await store.cases.get(case.number)
    history = await store.cases.history(case.number)
    assert [(e.actor, e.status) for e in history] == [
        ("ivr", "new"), ("alice", "new"), ("bob", "dispatched")]
    assert "wrong desk" in history[1].note
    assert "housing -> water" in history[1].note
    with pytest.raises(StorageError, match="no case 0000000000"):
        await store.cases.update("0000000000", actor="bob", now=one, status="closed")
    with pytest.raises(StorageError, match="unknown case status"):
        await store.cases.update(case.number, actor="bob", now=one, status="done")


async def test_cases_list_newest_first_by_status_with_paging(store: Store) -> None:
    """The case list pages newest first, filters by status, and counts per category."""
    numbers = []
    for i in range(5):
        case = await store.cases.create(caller="1", category="housing" if i % 2 else "water",
                                       now=NOW + timedelta(minutes=i))
        numbers.append(case.number)
    await store.cases.update(numbers[0], actor="a", now=NOW, status="resolved")
    assert [c.number for c in await store.cases.page()] == numbers[::-1]
    assert [c.number for c in await store.cases.page(limit=2, offset=1)] == numbers[3:1:-1]
    assert [c.number for c in await store.cases.page("resolved")] == [numbers[0]]
    assert await store.cases.counts() == {
        ("water", "resolved"): 1, ("water", "new"): 2, ("housing", "new"): 2}


@pytest.mark.parametrize("nodes", [1, 2])
async def test_concurrent_cases_get_distinct_numbers(
    database_url: str, tmp_path: Path, nodes: int
) -> None:
    """20 cases created at once (from one or two application nodes) get 20 distinct numbers."""
    stores = [open_store(database_url, tmp_path) for _ in range(nodes)]
    await asyncio.gather(*(s.open() for s in stores))  # two nodes migrate at once, too
    try:
        cases = await asyncio.gather(*(
            stores[i % nodes].cases.create(caller=f"1380000{i:04d}", category="housing", now=NOW)
            for i in range(20)
        ))
    finally:
        for s in stores:
            await s.close()
    numbers = {c.number for c in cases}
    assert len(numbers) == 20
    assert {int(n[4:9]) for n in numbers} == set(range(1, 21))


# -- users and sessions ----------------------------------------------------------------------


async def test_users_are_created_once_and_updated(store: Store) -> None:
    """A user name is unique, a role must be known, and updates change only what is given."""
    alice = await store.users.create("alice", "supervisor", "$argon2id$x", NOW)
    assert await store.users.get("alice") == alice
    assert (alice.disabled, alice.operator_id) == (False, None)
    with pytest.raises(StorageError, match="user 'alice' already exists"):
        await store.users.create("alice", "admin", "$argon2id$y", NOW)
    with pytest.raises(StorageError, match="unknown role 'root'"):
        await store.users.create("bob", "root", "$argon2id$y", NOW)
    await store.users.create("bob", "operator", "$argon2id$b", NOW, operator_id="op7")
    assert [u.username for u in await store.users.all()] == ["alice", "bob"]
    bob = await store.users.update("bob", disabled=True, password_hash="$argon2id$new")
    assert (bob.role, bob.operator_id, bob.disabled, bob.password_hash) == (
        "operator", "op7", True, "$argon2id$new")
    bob = await store.users.update("bob", operator_id="", disabled=False, role="supervisor")
    assert (bob.role, bob.operator_id, bob.disabled) == ("supervisor", None, False)
    assert await store.users.get("bob") == bob
    assert await store.users.get("carol") is None
    with pytest.raises(StorageError, match="no user 'carol'"):
        await store.users.update("carol", disabled=True)
    with pytest.raises(StorageError, match="unknown role"):
        await store.users.update("bob", role="king")


async def test_sessions_expire(store: Store) -> None:
    """A session is found until it expires, then not; expired ones are swept and counted."""
    await store.users.create("alice", "admin", "h", NOW)
    expires = NOW + timedelta(hours=8)
    session = await store.sessions.create("hash1", "alice", "csrf1", NOW, expires)
    await store.sessions.create("hash2", "alice", "csrf2", NOW, NOW + timedelta(hours=1))
    local_now = (NOW + timedelta(hours=2)).astimezone(SHANGHAI)
    assert await store.sessions.get("hash1", local_now) == session
    assert await store.sessions.get("hash2", local_now) is None
    assert await store.sessions.get("hash1", expires) is None  # expired at the instant
    assert await store.sessions.get("nope", NOW) is None
    assert await store.sessions.delete_expired(local_now) == 1
    assert await store.sessions.delete_expired(local_now) == 0
    await store.sessions.delete("hash1")
    assert await store.sessions.get("hash1", NOW) is None
    with pytest.raises(StorageError, match="no user 'mallory'"):
        await store.sessions.create("hash3", "mallory", "c", NOW, expires)


async def test_disabling_a_user_signs_them_out(store: Store) -> None:
    """A disabled account's sessions, or those of one whose password was reset, end at once;
    other people stay signed in."""
    for name in ("alice", "bob"):
        await store.users.create(name, "operator", "h", NOW)
        await store.sessions.create(f"{name}-token", name, "c", NOW, NOW + timedelta(hours=8))
    await store.users.update("alice", role="supervisor")
    assert await store.sessions.get("alice-token", NOW) is not None
    await store.users.update("alice", password_hash="h2")
    assert await store.sessions.get("alice-token", NOW) is None
    await store.sessions.create("alice-token", "alice", "c", NOW, NOW + timedelta(hours=8))
    await store.users.update("alice", disabled=True)
    assert await store.sessions.get("alice-token", NOW) is None
    assert await store.sessions.get("bob-token", NOW) is not None


# -- audit, bulletins, operator states ----------------------------------------------------------


async def test_audit_log_is_newest_first_with_its_details(store: Store) -> None:
    """Each action is kept with who, what, and a detail mapping that reads back as written."""
    for i in range(3):
        await store.audit.record("alice", "user.create", f"user{i}", {"role": "operator", "n": i},
                          NOW + timedelta(seconds=i))
    entries = await store.audit.latest()
    assert [e.target for e in entries] == ["user2", "user1", "user0"]
    assert entries[0].detail == {"role": "operator", "n": 2}
    assert (entries[0].actor, entries[0].action) == ("alice", "user.create")
    assert [e.target for e in await store.audit.latest(limit=1)] == ["user2"]


async def test_bulletins_play_only_within_their_window(store: Store) -> None:
    """Active means started, not expired, not withdrawn; newest first."""
    morning = await store.bulletins.add({"zh": "停水", "en": "Water off"}, NOW,
                                       NOW + timedelta(hours=4), "alice", NOW)
    noon = await store.bulletins.add({"zh": "停电"}, NOW + timedelta(hours=2),
                                    NOW + timedelta(hours=6), "alice", NOW)
    assert await store.bulletins.active(NOW - timedelta(seconds=1)) == []
    assert await store.bulletins.active(NOW) == [morning]
    at_three = (NOW + timedelta(hours=3)).astimezone(SHANGHAI)
    assert await store.bulletins.active(at_three) == [noon, morning]
    assert await store.bulletins.active(NOW + timedelta(hours=4)) == [noon]
    withdrawn = await store.bulletins.withdraw(noon.id, at_three)
    assert withdrawn.withdrawn_at is not None
    assert await store.bulletins.active(at_three) == [morning]
    again = await store.bulletins.withdraw(noon.id, at_three + timedelta(minutes=5))
    assert again.withdrawn_at == withdrawn.withdrawn_at
    assert await store.bulletins.latest() == [withdrawn, morning]
    assert await store.bulletins.latest(limit=1) == [withdrawn]
    with pytest.raises(StorageError, match="no bulletin #999"):
        await store.bulletins.withdraw(999, NOW)
    with pytest.raises(StorageError, match="expire after it starts"):
        await store.bulletins.add({"zh": "x"}, NOW, NOW, "alice", NOW)


async def test_operator_state_history(store: Store) -> None:
    """State changes since a moment, for everyone or one operator, oldest first."""
    steps = [("op1", "available", ""), ("op2", "available", ""), ("op1", "on_call", "c1"),
             ("op1", "paused", "lunch")]
    for minute, (operator, state, reason) in enumerate(steps):
        await store.operator_states.record(operator, state, reason,
                                          NOW + timedelta(minutes=minute))
    since = (NOW + timedelta(minutes=1)).astimezone(SHANGHAI)
    assert [(c.operator_id, c.state) for c in await store.operator_states.since(since)] == [
        ("op2", "available"), ("op1", "on_call"), ("op1", "paused")]
    mine = await store.operator_states.since(NOW, "op1")
    assert [(c.state, c.reason) for c in mine] == [
        ("available", ""), ("on_call", "c1"), ("paused", "lunch")]
    with pytest.raises(StorageError, match="unknown operator state 'asleep'"):
        await store.operator_states.record("op1", "asleep", "", NOW)


async def test_each_operators_last_login_is_one_row_whatever_the_history(store: Store) -> None:
    """A resync asks for the skills of each operator's last login: one row per operator, the
    latest login winning, a late replay of an older login not taking its place."""
    for day in range(3):
        at = NOW + timedelta(days=day)
        await store.operator_states.record("op1", "available", f"login: day{day}", at)
        await store.operator_states.record("op1", "paused", "lunch", at + timedelta(hours=4))
        await store.operator_states.record("op1", "logged_out", "", at + timedelta(hours=8))
    await store.operator_states.record("op2", "available", "login: inquiry,housing", NOW)
    await store.operator_states.record("op1", "available", "login: replayed", NOW)  # older
    assert await store.operator_states.last_logins() == {
        "op1": "login: day2", "op2": "login: inquiry,housing"}


# -- URLs, errors, upgrades ----------------------------------------------------------------------


def test_urls_resolve_and_mask_their_password(tmp_path: Path) -> None:
    """Relative SQLite files live in the state dir; PostgreSQL uses psycopg; passwords hide."""
    assert open_store("sqlite:///ivr.sqlite3", tmp_path).path == tmp_path / "ivr.sqlite3"
    assert open_store(f"sqlite:///{tmp_path}/abs.db", Path("/elsewhere")).path == (
        tmp_path / "abs.db")
    pg = open_store("postgresql://ivr:s3cret@db.example:5433/hotline", tmp_path)
    assert pg.path is None
    assert pg.url == "postgresql+psycopg://ivr:***@db.example:5433/hotline"
    for bad in ("mysql://u:s3cret@h/db", "sqlite://", "sqlite:///:memory:", "nonsense"):
        with pytest.raises(StorageError) as caught:
            open_store(bad, tmp_path)
        assert "s3cret" not in str(caught.value)


async def test_an_unreachable_database_is_a_storage_error_without_the_password(
    tmp_path: Path,
) -> None:
    """Nobody listens on port 1: open fails with StorageError naming the server, not the secret."""
    store = open_store("postgresql://ivr:s3cret@127.0.0.1:1/hotline", tmp_path)
    with pytest.raises(StorageError) as caught:
        await store.open()
    await store.close()
    assert "127.0.0.1" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    closed = open_store("sqlite:///x.db", tmp_path)
    with pytest.raises(StorageError, match="not open"):
        await closed.calls.get("c1")
    await closed.close()


# The SQL of migrations 1-4 exactly as released (SQLite only), to build a version-4 file.
RELEASED_V4 = [
    """CREATE TABLE calls (call_id TEXT PRIMARY KEY, channel TEXT NOT NULL, caller TEXT NOT NULL,
        caller_name TEXT NOT NULL DEFAULT '', language TEXT NOT NULL, arrived_at TEXT NOT NULL,
        ended_at TEXT, path TEXT NOT NULL DEFAULT '[]', queue TEXT, priority INTEGER,
        outcome TEXT NOT NULL, hangup_node TEXT, ivr_ms INTEGER);
    CREATE INDEX calls_caller ON calls (caller);""",
    """ALTER TABLE calls ADD COLUMN flow_version INTEGER;
    ALTER TABLE calls ADD COLUMN variables TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE calls ADD COLUMN survey_score INTEGER;
    CREATE TABLE cases (number TEXT PRIMARY KEY, call_id TEXT, caller TEXT NOT NULL,
        category TEXT NOT NULL, department TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL, satisfaction INTEGER);
    CREATE INDEX cases_caller ON cases (caller);
    CREATE INDEX cases_call ON cases (call_id);
    CREATE TABLE case_sequence (day TEXT PRIMARY KEY, last INTEGER NOT NULL);
    CREATE TABLE flow_versions (id INTEGER PRIMARY KEY AUTOINCREMENT, flow TEXT NOT NULL,
        version TEXT NOT NULL, digest TEXT NOT NULL, text TEXT NOT NULL,
        published_by TEXT NOT NULL, published_at TEXT NOT NULL, note TEXT NOT NULL DEFAULT '');""",
    "ALTER TABLE calls ADD COLUMN route_reasons TEXT NOT NULL DEFAULT '[]';",
    """CREATE TABLE callbacks (id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL,
        number TEXT NOT NULL, skill TEXT NOT NULL, priority INTEGER NOT NULL,
        position INTEGER NOT NULL, arrived_at TEXT NOT NULL, requested_at TEXT NOT NULL,
        status TEXT NOT NULL, attempts TEXT NOT NULL DEFAULT '[]');
    CREATE INDEX callbacks_status ON callbacks (status);""",
]


def _write_version_4_file(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    for version, script in enumerate(RELEASED_V4, start=1):
        db.executescript(f"BEGIN; {script}; INSERT INTO schema_version VALUES ({version}); "  # noqa: S608
                         "COMMIT;")
    db.execute(
        "INSERT INTO calls (call_id, channel, caller, language, arrived_at, outcome, path,"
        " variables) VALUES ('old', 'PJSIP/1', '13800138000', 'zh', ?, 'routed', '[\"menu\"]',"
        " '{\"k\": \"v\"}')", (NOW.isoformat(),))
    db.execute(
        "INSERT INTO cases (number, caller, category, status, created_at, updated_at)"
        " VALUES (?, '13800138000', 'housing', 'dispatched', ?, ?)",
        (case_number(352, 2026, 1), NOW.isoformat(), NOW.isoformat()))
    db.execute("INSERT INTO case_sequence VALUES (?, 1)", (NOW.date().isoformat(),))
    db.execute("INSERT INTO flow_versions (flow, version, digest, text, published_by,"
               " published_at) VALUES ('12345', 'v1', 'd', 't', 'admin', ?)", (NOW.isoformat(),))
    db.close()


async def test_a_version_4_sqlite_file_upgrades_and_keeps_everything(tmp_path: Path) -> None:
    """A file written by the previous release opens: old rows intact, new features work."""
    path = tmp_path / "ivr.sqlite3"
    await asyncio.to_thread(_write_version_4_file, path)
    store = open_store("sqlite:///ivr.sqlite3", tmp_path)
    await store.open()
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        old = await store.calls.get("old")
        assert old is not None
        assert (old.path, old.variables, old.operator) == (["menu"], {"k": "v"}, None)
        await store.calls.set_answered("old", "op1", NOW, 3.0)
        number = case_number(352, 2026, 1)
        history = await store.cases.history(number)
        assert [(e.status, e.actor) for e in history] == [("dispatched", "migration")]
        await store.cases.update(number, actor="alice", now=NOW, status="resolved")
        nxt = await store.cases.create(caller="1", category="housing", now=NOW)
        assert nxt.number == case_number(352, 2026, 2)  # the day's sequence carried on
        assert [v.version for v in await store.flow_versions.of("12345")] == ["v1"]
        await store.users.create("alice", "admin", "h", NOW)
    finally:
        await store.close()
    reopened = open_store("sqlite:///ivr.sqlite3", tmp_path)
    await reopened.open()
    assert await reopened.schema_version() == SCHEMA_VERSION
    await reopened.close()


async def test_logins_in_an_older_database_become_the_last_logins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database from before the last-login table (migration 14) keeps its operators' skills:
    the table is filled from the state history as it is created."""
    with monkeypatch.context() as older:  # the release before migration 14
        older.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:13])
        older.setattr(migrations, "SCHEMA_VERSION", 13)
        store = open_store("sqlite:///ivr.sqlite3", tmp_path)
        await store.open()
        assert await store.schema_version() == 13

        def add_history(conn: Connection) -> None:  # what that release's logins wrote
            for minute, (operator, reason) in enumerate(
                    [("op1", "login: inquiry"), ("op2", "login: housing"),
                     ("op1", "login: traffic"), ("op1", "")]):
                conn.execute(text(
                    "INSERT INTO operator_states (operator_id, state, reason, at)"
                    " VALUES (:o, 'available', :r, :at)"),
                    {"o": operator, "r": reason,
                     "at": (NOW + timedelta(minutes=minute)).isoformat()})
        await store.database.write(add_history)
        await store.close()
    again = open_store("sqlite:///ivr.sqlite3", tmp_path)
    await again.open()
    try:
        assert await again.schema_version() == SCHEMA_VERSION
        assert await again.operator_states.last_logins() == {
            "op1": "login: traffic", "op2": "login: housing"}
    finally:
        await again.close()


async def test_queries_and_migrations_agree_on_every_column(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    """The tables the queries use are exactly what the migrations built, on both databases."""
    def reflect() -> dict[str, set[str]]:
        engine = create_engine(store.database.url.sqlalchemy)
        try:
            found = inspect(engine)
            return {name: {c["name"] for c in found.get_columns(name)}
                    for name in found.get_table_names()}
        finally:
            engine.dispose()

    tables = await asyncio.to_thread(reflect)
    declared = {t.name: {c.name for c in t.columns} for t in metadata.sorted_tables}
    assert {name: tables.get(name) for name in declared} == declared
    assert set(tables) == {*declared, "schema_version"}


async def test_a_newer_schema_is_refused(database_url: str, tmp_path: Path) -> None:
    """A database migrated by a later release is not written to by this one."""
    store = open_store(database_url, tmp_path)
    await store.open()
    await store.close()

    def bump(url: str) -> None:
        engine = create_engine(open_store(url, tmp_path).database.url.sqlalchemy)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO schema_version (version) VALUES (:v)"),
                         {"v": SCHEMA_VERSION + 1})
        engine.dispose()

    await asyncio.to_thread(bump, database_url)
    again = open_store(database_url, tmp_path)
    with pytest.raises(StorageError, match="newer than this release"):
        await again.open()
    await again.close()


async def test_admin_cli_cases_work_on_either_database(database_url: str, tmp_path: Path) -> None:
    """`ivr case add` / `ivr case show` go to whatever database the settings name."""
    cfg = dataclasses.replace(await asyncio.to_thread(settings.load), state_dir=tmp_path,
                              database_url=database_url)
    text, code = await admin.case_add(cfg, caller="13800138000", category="housing",
                                      description="leak", status="dispatched")
    assert code == 0
    number = text.split()[1]
    assert case_number_valid(number)
    text, code = await admin.case_show(cfg, number)
    assert (code, text.split("\t")[:3]) == (0, [number, "dispatched", "housing"])
    assert (await admin.case_show(cfg, "0000000000"))[1] == 1
    store = open_store(database_url, tmp_path)
    await store.open()
    history = await store.cases.history(number)
    await store.close()
    assert [e.status for e in history] == ["new", "dispatched"]


def file_modes(directory: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}


async def test_the_sqlite_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    """Callers, transcripts and password hashes: the database and its WAL are 0600 from their
    creation under a permissive umask, and an older, readable database is tightened."""
    old_umask = os.umask(0o002)
    try:
        s = open_store(tmp_path / "fresh.sqlite3")
        await s.open()
        await s.calls.save(call("private-1"))
        modes = await asyncio.to_thread(file_modes, tmp_path)
        await s.close()
        assert modes["fresh.sqlite3"] == 0o600
        assert all(mode == 0o600 for mode in modes.values()), modes
        older = tmp_path / "older.sqlite3"
        sqlite3.connect(older).close()
        older.chmod(0o664)
        again = open_store(older)
        await again.open()
        await again.close()
        assert stat.S_IMODE(older.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)


async def test_caller_history_is_their_cases_and_latest_calls(store: Store) -> None:
    """The call path's one read: the caller's cases oldest first, their latest calls newest
    first (bounded), nobody else's."""
    for n in range(3):
        await store.calls.save(call(f"h{n}", arrived=NOW + timedelta(minutes=n)))
    await store.calls.save(call("other", caller="13900000000"))
    first = await store.cases.create(caller="13800138000", category="water", description="a",
                                     now=NOW)
    second = await store.cases.create(caller="13800138000", category="noise", description="b",
                                      now=NOW + timedelta(hours=1))
    cases, calls = await store.calls.caller_history("13800138000", 2)
    assert cases == [first, second] == await store.cases.of_caller("13800138000")
    assert calls == ["h2", "h1"]
    assert await store.calls.caller_history("13700000000") == ([], [])
