"""Recordings of answered calls on SQLite and PostgreSQL, with a fake clock: noted at answer,
settled at hang-up (ok and tightened to 0600, or failed when the file is missing or empty),
purged past keep_days with an audit entry; names never leave the recordings directory; the
disk use is measured for /metrics and /healthz."""

from __future__ import annotations

import dataclasses
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.calls import recordings as recordings_module
from ivr.calls.recordings import CallRecordings, file_name
from ivr.core.records import CallRecord
from ivr.core.settings import RecordingSettings
from ivr.edges.clock import FakeClock
from ivr.edges.storage.store import Store

NOW = datetime(2026, 12, 18, 10, 30, tzinfo=UTC)


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    d = tmp_path / "recordings"
    d.mkdir(mode=0o700)
    return d


def call(call_id: str, days_ago: float) -> CallRecord:
    arrived = (NOW - timedelta(days=days_ago)).isoformat(timespec="milliseconds")
    return CallRecord(call_id, f"PJSIP/citizens-{call_id}", "13800138000", "zh", arrived,
                      queue="inquiry", outcome="routed", operator="op1002",
                      answered_at=arrived)


def desk(store: Store, directory: Path, keep_days: int = 30, *,
         enabled: bool = True) -> CallRecordings:
    rec = RecordingSettings(enabled=enabled, directory=directory, keep_days=keep_days)
    return CallRecordings(lambda: rec, store.calls, store.audit, leads=lambda: True,
                          clock=FakeClock(NOW))


def audio(path: Path, size: int = 16_044, mode: int = 0o644) -> None:
    path.write_bytes(b"RIFF" + b"\0" * (size - 4))
    path.chmod(mode)


async def test_answered_call_is_noted_then_settled_ok_and_made_private(
    store: Store, directory: Path
) -> None:
    await store.calls.save(call("1733212345.42", 0))
    recordings = desk(store, directory)
    await recordings.started("1733212345.42")
    record = await store.calls.get("1733212345.42")
    assert record is not None
    assert (record.recording, record.recording_status) == ("1733212345.42.wav", "recording")
    # Asterisk wrote it with a looser umask: tightened when the call ends.
    audio(directory / "1733212345.42.wav", mode=0o644)
    await recordings.finished("1733212345.42")
    record = await store.calls.get("1733212345.42")
    assert record is not None
    assert record.recording_status == "ok"
    assert stat.S_IMODE((directory / "1733212345.42.wav").stat().st_mode) == 0o600
    assert recordings.available(record.recording, record.recording_status) == (
        directory / "1733212345.42.wav")


@pytest.mark.parametrize("written", [None, 0])  # no file at all; an empty one
async def test_missing_or_empty_recording_is_said_failed(
    store: Store, directory: Path, monkeypatch: pytest.MonkeyPatch, written: int | None
) -> None:
    monkeypatch.setattr(recordings_module, "FINISH_WAIT", 0.01)
    await store.calls.save(call("1733212345.43", 0))
    recordings = desk(store, directory)
    await recordings.started("1733212345.43")
    if written is not None:
        (directory / "1733212345.43.wav").write_bytes(b"")
    await recordings.finished("1733212345.43")
    record = await store.calls.get("1733212345.43")
    assert record is not None
    assert record.recording_status == "failed"
    assert recordings.available(record.recording, record.recording_status) is None


async def test_recording_off_notes_nothing(store: Store, directory: Path) -> None:
    await store.calls.save(call("1733212345.44", 0))
    recordings = desk(store, directory, enabled=False)
    await recordings.started("1733212345.44")
    await recordings.finished("1733212345.44")
    record = await store.calls.get("1733212345.44")
    assert record is not None
    assert (record.recording, record.recording_status) == (None, None)


async def test_purge_deletes_recordings_past_retention_and_audits_the_count(
    store: Store, directory: Path
) -> None:
    recordings = desk(store, directory, keep_days=30)
    for call_id, days in (("1.1", 31), ("1.2", 400), ("1.3", 29)):
        await store.calls.save(call(call_id, days))
        await recordings.started(call_id)
        audio(directory / f"{call_id}.wav")
        await recordings.finished(call_id)
    # A file Asterisk left with no call record, 40 days old: goes too.
    orphan = directory / "9.9.wav"
    audio(orphan)
    old = (NOW - timedelta(days=40)).timestamp()
    os.utime(orphan, (old, old))

    assert await recordings.purge() == 3
    assert sorted(os.listdir(directory)) == ["1.3.wav"]
    for call_id, status in (("1.1", "purged"), ("1.2", "purged"), ("1.3", "ok")):
        record = await store.calls.get(call_id)
        assert record is not None
        assert record.recording_status == status
    entry = (await store.audit.latest(1))[0]
    assert (entry.actor, entry.action) == ("system:recordings", "recordings_purge")
    assert (entry.detail["recordings"], entry.detail["keep_days"]) == (3, 30)
    # Nothing left to purge: nothing audited.
    assert await recordings.purge() == 0
    assert len(await store.audit.latest()) == 1
    # Two days later (the fake clock) the 29-day-old one is past 30 days too.
    later = CallRecordings(lambda: RecordingSettings(directory=directory, keep_days=30),
                           store.calls, store.audit, leads=lambda: True,
                           clock=FakeClock(NOW + timedelta(days=2)))
    assert await later.purge() == 1
    assert os.listdir(directory) == []


async def test_keep_days_zero_keeps_every_recording(store: Store, directory: Path) -> None:
    recordings = desk(store, directory, keep_days=0)
    await store.calls.save(call("2.1", 4000))
    await recordings.started("2.1")
    audio(directory / "2.1.wav")
    await recordings.finished("2.1")
    assert await recordings.purge() == 0
    assert (directory / "2.1.wav").exists()


@pytest.mark.parametrize("name", [
    "../secrets.json", "/etc/passwd", "a/b.wav", ".hidden.wav", "..", "x..wav", "", "a\0b",
    "a\\b.wav",
])
async def test_names_never_leave_the_recordings_directory(
    store: Store, directory: Path, name: str
) -> None:
    assert desk(store, directory).path_of(name) is None
    if "/" in name or ".." in name or "\\" in name:
        assert file_name(name, "wav") is None


async def test_disk_use_is_measured_and_full_disk_is_flagged(
    store: Store, directory: Path
) -> None:
    audio(directory / "3.1.wav", size=1000)
    audio(directory / "3.2.wav", size=3000)
    recordings = desk(store, directory)
    disk = await recordings.measure()
    assert (disk.files, disk.bytes) == (2, 4000)
    assert disk.disk_used_percent is not None
    assert 0 < disk.disk_used_percent <= 100
    names = {f.name: f.samples for f in recordings.families()}
    assert names["ivr_recordings_files"] == [((), 2.0)]
    assert names["ivr_recordings_bytes"] == [((), 4000.0)]
    assert not desk(store, directory).disk_full  # not measured yet: nothing claimed
    full = CallRecordings(
        lambda: dataclasses.replace(RecordingSettings(directory=directory),
                                    disk_full_percent=0.001),
        store.calls, store.audit, leads=lambda: True)
    await full.measure()
    assert full.disk_full


async def test_a_stale_save_of_the_record_never_takes_the_recording_state_back(
    store: Store, directory: Path
) -> None:
    """The survey's copy of the record was read while the call was being recorded; saved
    after the recording was settled, it leaves the settled state alone."""
    await store.calls.save(call("4.1", 0))
    recordings = desk(store, directory)
    await recordings.started("4.1")
    stale = await store.calls.get("4.1")
    assert stale is not None
    assert stale.recording_status == "recording"
    audio(directory / "4.1.wav")
    await recordings.finished("4.1")
    await store.calls.save(dataclasses.replace(stale, survey_score=5))
    record = await store.calls.get("4.1")
    assert record is not None
    assert (record.recording_status, record.survey_score) == ("ok", 5)
