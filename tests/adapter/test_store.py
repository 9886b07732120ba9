"""The store on a real SQLite file and a real PostgreSQL database: every test runs on both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from ivr.edges.store import (
    SCHEMA_VERSION,
    CallRecord,
    CallStore,
    case_number,
    open_store,
)
from ivr.errors import StorageError
from ivr.flow import case_number_valid
from tests.pgtools import pg_database

NOW = datetime(2026, 12, 18, 10, 30, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database: an SQLite file under tmp_path, or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        yield "sqlite:///calls.sqlite3"
    else:
        with pg_database() as url:
            yield url


@pytest_asyncio.fixture
async def store(database_url: str, tmp_path: Path) -> AsyncIterator[CallStore]:
    s = open_store(database_url, tmp_path)
    await s.open()
    yield s
    await s.close()


def call(call_id: str, *, caller: str = "13800138000", arrived: datetime = NOW,
         **fields: object) -> CallRecord:
    return CallRecord(call_id, f"PJSIP/{call_id}", caller, "zh",
                      arrived.astimezone(UTC).isoformat(timespec="milliseconds"),
                      **fields)  # type: ignore[arg-type]


# -- what existed before PostgreSQL ---------------------------------------------------------


async def test_case_numbers_are_valid_and_unique_per_day(store: CallStore) -> None:
    """Every case number passes the checksum the IVR checks, and none repeats."""
    numbers = [
        (await store.create_case(caller="13800138000", category="housing", now=NOW)).number
        for _ in range(25)
    ]
    assert len(set(numbers)) == 25
    assert all(case_number_valid(n) for n in numbers)
    assert numbers[0].startswith("6352")  # 2026, day 352
    tomorrow = await store.create_case(caller="1", category="housing",
                                       now=NOW + timedelta(days=1))
    assert tomorrow.number[:9] == "635300001"  # a new day starts at 1


def test_case_number_layout() -> None:
    """Year digit, day of year, daily sequence, Luhn digit; a day's capacity is bounded."""
    assert case_number(1, 2027, 7)[:9] == "700100007"
    with pytest.raises(StorageError):
        case_number(1, 2027, 100_000)


async def test_survey_is_stored_with_the_call_and_its_case(store: CallStore) -> None:
    """The 1-5 score lands on the call record and on the case opened for that call."""
    await store.save(call("c1"))
    case = await store.create_case(caller="13800138000", category="traffic", call_id="c1",
                                   now=NOW)
    await store.record_survey("c1", 4)
    record = await store.get("c1")
    assert record is not None
    assert record.survey_score == 4
    stored = await store.get_case(case.number)
    assert stored is not None
    assert stored.satisfaction == 4


async def test_a_saved_call_reads_back_whole_and_updates_in_place(store: CallStore) -> None:
    """Path, variables and routing reasons survive the round trip; saving again updates."""
    record = call("c1", queue="housing", priority=2, path=["welcome", "menu"],
                  variables={"case": "6352000019"}, route_reasons=["repeat caller"])
    await store.save(record)
    record.outcome, record.ended_at = "routed", NOW.isoformat()
    record.path.append("queue")
    await store.save(record)
    assert await store.get("c1") == record
    assert await store.get("nobody") is None
    await store.save(call("c2", arrived=NOW + timedelta(minutes=1)))
    assert [r.call_id for r in await store.by_caller("13800138000")] == ["c1", "c2"]


HOSTILE = [
    "Robert'); DROP TABLE calls;--",
    "line one\nline two\r\n\t\"quoted\" and 'single'",
    "王小明 反映：小区停水；\\ 100% _ % ;",
    "emoji 🚰 and combining é and RTL \u202e",
]


@pytest.mark.parametrize("nasty", HOSTILE)
async def test_caller_data_is_stored_verbatim(store: CallStore, nasty: str) -> None:
    """Quotes, newlines, SQL and any unicode in caller data are data, never SQL."""
    await store.save(call("c2", caller_name=nasty, variables={"said": nasty}))
    record = await store.get("c2")
    assert record is not None
    assert (record.caller_name, record.variables) == (nasty, {"said": nasty})
    case = await store.create_case(caller=nasty, category="water", description=nasty, now=NOW)
    assert await store.cases_of(nasty) == [case]
    updated = await store.update_case(case.number, actor=nasty, now=NOW, note=nasty)
    assert updated.description == nasty
    assert (await store.case_history(case.number))[-1].note == nasty
    await store.audit(nasty, "case.update", nasty, {"note": nasty}, NOW)
    assert (await store.audit_log())[0].detail == {"note": nasty}
    bulletin = await store.add_bulletin({"zh": nasty}, NOW, NOW + timedelta(hours=1), nasty,
                                        NOW)
    assert (await store.active_bulletins(NOW))[0].texts == {"zh": nasty} == bulletin.texts


async def test_flow_versions_keep_who_and_when(store: CallStore) -> None:
    """Published versions are listed oldest first with their publisher."""
    for i in (1, 2):
        await store.add_flow_version(flow="12345", version=f"v{i}", digest=f"d{i}", text="t",
                                     published_by="admin", published_at=NOW)
    await store.add_flow_version(flow="other", version="x", digest="d", text="t",
                                 published_by="admin", published_at=NOW)
    versions = await store.flow_versions("12345")
    assert [(v.version, v.published_by) for v in versions] == [("v1", "admin"), ("v2", "admin")]
    assert versions[0].id < versions[1].id


async def test_callbacks_keep_their_attempts(store: CallStore) -> None:
    """A callback is listed while waiting, and its attempts and status are written back."""
    request = await store.add_callback(call_id="c1", number="13800138000", skill="housing",
                                       priority=1, position=3, arrived_at=NOW.isoformat(),
                                       requested_at=NOW.isoformat())
    assert await store.callbacks("waiting") == [request]
    request.attempts.append({"at": NOW.isoformat(), "result": "no answer"})
    request.status = "failed"
    await store.update_callback(request)
    assert await store.callbacks("waiting") == []
    assert await store.callbacks() == [request]


async def test_reopening_keeps_data_and_schema(database_url: str, tmp_path: Path) -> None:
    """Migrations run once; a second open finds the data."""
    s = open_store(database_url, tmp_path)
    await s.open()
    await s.save(call("c3"))
    await s.close()
    again = open_store(database_url, tmp_path)
    await again.open()
    assert await again.get("c3") is not None
    assert await again.schema_version() == SCHEMA_VERSION
    await again.close()


async def test_a_path_still_opens_an_sqlite_file(tmp_path: Path) -> None:
    """CallStore(path) as the callers wrote it before URLs: the file appears there."""
    s = CallStore(tmp_path / "sub" / "db.sqlite3")
    await s.open()
    await s.save(call("c4"))
    await s.close()
    assert s.path == tmp_path / "sub" / "db.sqlite3"
    assert s.path.exists()
