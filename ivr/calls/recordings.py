"""Recordings of answered calls: the operator leg, from answer to hang-up.

Asterisk records (``dialplans/extensions.conf``, context ``record-call``: MixMonitor started by
Queue()'s gosub on the operator's channel once they answer) into ``[recordings] directory``
as ``<call id>.<format>``. This module keeps the call record honest about it:

* when an operator answers (``AgentConnect``), the record gets the file name and the state
  ``recording``; when the call ends (``AgentComplete``) the file is looked at: ``ok`` (it
  exists and holds audio; tightened to 0600 if Asterisk ran with a looser umask) or
  ``failed`` (missing or empty): a call is never silently without its recording;
* ``path_of`` gives the file of a stored name, refusing any name that is not a plain file
  name of the recordings directory (the web serves only what it returns);
* the purge (``[recordings] keep_days``): the leading node deletes recordings of calls that
  arrived before the cutoff, in batches, marks them ``purged`` and audits each pass with the
  count; files left behind by Asterisk with no call (older than the cutoff) go too;
* the disk use of the directory (bytes, files, the file system's use) is measured off the
  event loop every ``DISK_SECONDS`` and read by ``/metrics`` and ``/healthz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import structlog

from ivr.core.figures import Family
from ivr.core.records import RecordingStatus
from ivr.core.settings import RecordingSettings
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.storage.audit import AuditLog
from ivr.edges.storage.calls import CallRecords
from ivr.errors import StorageError

log = structlog.get_logger("ivr.calls.recordings")

ACTOR = "system:recordings"
CHECK_SECONDS = 3600.0      # between purges
DISK_SECONDS = 60.0         # between disk-use measurements
LEADER_WAIT_SECONDS = 60.0
BATCH = 200
BATCHES_PER_PASS = 20
# At hang-up Asterisk may still be closing the file: looked at this many times, this apart.
FINISH_TRIES = 4
FINISH_WAIT = 0.5
# An Asterisk Uniqueid (``1733212345.42``) or a call id of the same alphabet; no separators,
# no leading dot: a name can only ever be a file directly in the recordings directory.
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True, slots=True)
class DiskUse:
    files: int = 0
    bytes: int = 0
    disk_used_percent: float | None = None  # the file system holding the directory


def file_name(call_id: str, fmt: str) -> str | None:
    """The recording's file name for ``call_id`` (what the dialplan's MixMonitor writes), or
    None if the id could not be a plain file name."""
    name = f"{call_id}.{fmt}"
    return name if _NAME.fullmatch(name) and ".." not in name else None


class CallRecordings:
    def __init__(
        self, settings: Callable[[], RecordingSettings], calls: CallRecords, audit: AuditLog,
        *, leads: Callable[[], bool], clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._settings = settings
        self._calls = calls
        self._audit = audit
        self._leads = leads
        self._clock = clock
        self.disk = DiskUse()

    @property
    def directory(self) -> Path | None:
        return self._settings().directory

    def path_of(self, name: str | None) -> Path | None:
        """The file of a stored recording name, inside the recordings directory, or None
        (no directory, or a name that is not a plain file name there)."""
        directory = self.directory
        if directory is None or not name or not _NAME.fullmatch(name) or ".." in name:
            return None
        path = directory / name
        return path if path.parent == directory else None

    # -- the call's life ------------------------------------------------------------------

    async def started(self, call_id: str) -> None:
        """An operator answered: the record names the file being recorded."""
        rec = self._settings()
        if not rec.enabled:
            return
        name = file_name(call_id, rec.format)
        status = RecordingStatus.RECORDING if name else RecordingStatus.FAILED
        await self._write(call_id, name, status)

    async def finished(self, call_id: str) -> None:
        """The call ended: the record says whether the recording is there."""
        rec = self._settings()
        if not rec.enabled:
            return
        name = file_name(call_id, rec.format)
        path = self.path_of(name)
        ok = False
        for attempt in range(FINISH_TRIES):
            ok = path is not None and await asyncio.to_thread(_settle, path)
            if ok:
                break
            if attempt + 1 < FINISH_TRIES:
                await asyncio.sleep(FINISH_WAIT)
        status = RecordingStatus.OK if ok else RecordingStatus.FAILED
        if not ok:
            log.warning("recording_failed", call_id=call_id, file=name)
        await self._write(call_id, name, status)

    async def _write(self, call_id: str, name: str | None, status: RecordingStatus) -> None:
        try:
            await self._calls.set_recording(call_id, name, status.value)
        except StorageError as exc:
            log.warning("recording_not_noted", call_id=call_id, error=str(exc))

    def available(self, name: str | None, status: str | None) -> Path | None:
        """The file to play for a record, if it is there (blocking: stat)."""
        if status not in {RecordingStatus.OK, RecordingStatus.RECORDING}:
            return None
        path = self.path_of(name)
        if path is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        return path if stat.S_ISREG(st.st_mode) and st.st_size > 0 else None

    # -- retention ------------------------------------------------------------------------

    async def purge(self) -> int:
        """One pass: how many recordings were deleted (0 when retention is off)."""
        rec = self._settings()
        if rec.keep_days <= 0 or rec.directory is None:
            return 0
        now = self._clock.now()
        cutoff = now - timedelta(days=rec.keep_days)
        deleted = 0
        for _ in range(BATCHES_PER_PASS):
            batch = await self._calls.recordings_before(cutoff, BATCH)
            for call_id, name in batch:
                path = self.path_of(name)
                if path is not None:
                    await asyncio.to_thread(_unlink, path)
                await self._calls.set_recording(call_id, None, RecordingStatus.PURGED.value)
            deleted += len(batch)
            if len(batch) < BATCH:
                break
        # Files with no call record (the database was down, another node's): by their age.
        deleted += await asyncio.to_thread(_purge_files, rec.directory, cutoff.timestamp())
        if deleted:
            await self._audit.record(ACTOR, "recordings_purge", "recordings", {
                "recordings": deleted, "arrived_before": cutoff.isoformat(timespec="seconds"),
                "keep_days": rec.keep_days}, now)
            log.info("recordings_purge", recordings=deleted, keep_days=rec.keep_days)
        return deleted

    # -- disk use -------------------------------------------------------------------------

    async def measure(self) -> DiskUse:
        directory = self.directory
        self.disk = (await asyncio.to_thread(_disk_use, directory) if directory is not None
                     else DiskUse())
        return self.disk

    @property
    def disk_full(self) -> bool:
        used = self.disk.disk_used_percent
        return used is not None and used >= self._settings().disk_full_percent

    def families(self) -> list[Family]:
        files = Family("ivr_recordings_files", "Call recordings kept now.")
        size = Family("ivr_recordings_bytes", "Bytes the call recordings take now.")
        used = Family("ivr_recordings_disk_used_percent",
                      "Share of the file system holding the recordings that is used.")
        files.add(self.disk.files)
        size.add(self.disk.bytes)
        used.add(self.disk.disk_used_percent)
        return [files, size, used]

    async def run(self) -> None:
        """Measure the disk every ``DISK_SECONDS`` and, on the leading node, purge every
        ``CHECK_SECONDS``, until cancelled."""
        next_purge = 0.0
        while True:
            try:
                await self.measure()
            except OSError as exc:
                log.warning("recordings_disk_unreadable", error=str(exc))
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + LEADER_WAIT_SECONDS
                if self._leads():
                    try:
                        await self.purge()
                        next_purge = time.monotonic() + CHECK_SECONDS
                    except (StorageError, OSError) as exc:
                        log.warning("recordings_purge_failed", error=str(exc))
            await asyncio.sleep(DISK_SECONDS)


def _settle(path: Path) -> bool:
    """The recording is there and holds audio; tightened to its owner only."""
    try:
        st = path.stat()
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return False
    if st.st_mode & 0o077:
        try:
            os.chmod(path, 0o600)
        except OSError as exc:  # not ours to change: said, the file is kept
            log.warning("recording_mode_not_tightened", file=path.name, error=str(exc))
    return True


def _unlink(path: Path) -> None:
    with contextlib.suppress(IsADirectoryError):
        path.unlink(missing_ok=True)


def _purge_files(directory: Path, before: float) -> int:
    deleted = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < before:
                os.unlink(entry.path)
                deleted += 1
        except FileNotFoundError:
            continue
    return deleted


def _disk_use(directory: Path) -> DiskUse:
    files = size = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return DiskUse()
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                files += 1
                size += entry.stat().st_size
        except FileNotFoundError:
            continue
    usage = shutil.disk_usage(directory)
    used = 100.0 * (usage.total - usage.free) / usage.total if usage.total else None
    return DiskUse(files, size, round(used, 1) if used is not None else None)
