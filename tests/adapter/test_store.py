"""The SQLite store: cases with numbers a citizen can key in, surveys, flow versions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.edges.store import CallRecord, CallStore, case_number
from ivr.errors import StorageError
from ivr.flow import case_number_valid


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[CallStore]:
    s = CallStore(tmp_path / "calls.sqlite3")
    await s.open()
    yield s
    await s.close()


NOW = datetime(2026, 12, 18, 10, 30, tzinfo=UTC)


async def test_case_numbers_are_valid_and_unique_per_day(store: CallStore) -> None:
    """Every case number passes the checksum the IVR checks, and none repeats."""
    numbers = [
        (await store.create_case(caller="13800138000", category="housing", now=NOW)).number
        for _ in range(25)
    ]
    assert len(set(numbers)) == 25
    assert all(case_number_valid(n) for n in numbers)
    assert numbers[0].startswith("6352")  # 2026, day 352


def test_case_number_layout() -> None:
    """Year digit, day of year, daily sequence, Luhn digit; a day's capacity is bounded."""
    assert case_number(1, 2027, 7)[:9] == "700100007"
    with pytest.raises(StorageError):
        case_number(1, 2027, 100_000)


async def test_survey_is_stored_with_the_call_and_its_case(store: CallStore) -> None:
    """The 1-5 score lands on the call record and on the case opened for that call."""
    await store.save(CallRecord("c1", "PJSIP/x", "13800138000", "zh", NOW.isoformat()))
    case = await store.create_case(caller="13800138000", category="traffic", call_id="c1",
                                   now=NOW)
    await store.record_survey("c1", 4)
    record = await store.get("c1")
    assert record is not None
    assert record.survey_score == 4
    stored = await store.get_case(case.number)
    assert stored is not None
    assert stored.satisfaction == 4


async def test_hostile_text_is_stored_verbatim(store: CallStore) -> None:
    """Quotes, semicolons and SQL in caller data are data, never SQL."""
    nasty = "Robert'); DROP TABLE calls;--\n\"x\""
    await store.save(CallRecord("c2", "PJSIP/y", "1", "zh", NOW.isoformat(), caller_name=nasty))
    record = await store.get("c2")
    assert record is not None
    assert record.caller_name == nasty


async def test_flow_versions_keep_who_and_when(store: CallStore) -> None:
    """Published versions are listed oldest first with their publisher."""
    for i in (1, 2):
        await store.add_flow_version(flow="12345", version=f"v{i}", digest=f"d{i}", text="t",
                                     published_by="admin", published_at=NOW)
    versions = await store.flow_versions("12345")
    assert [(v.version, v.published_by) for v in versions] == [("v1", "admin"), ("v2", "admin")]


async def test_reopening_keeps_data_and_schema(tmp_path: Path) -> None:
    """Migrations run once; a second open finds the data."""
    s = CallStore(tmp_path / "db.sqlite3")
    await s.open()
    await s.save(CallRecord("c3", "PJSIP/z", "2", "en", NOW.isoformat()))
    await s.close()
    again = CallStore(tmp_path / "db.sqlite3")
    await again.open()
    assert await again.get("c3") is not None
    await again.close()
