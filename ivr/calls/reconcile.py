"""Every call leaves exactly one final record, whatever failed: reconciled from Asterisk's own
records at start and continuously.

Two sources, both Asterisk's (what they mean for a record: ``ivr.core.call_facts``):

* app_queue's ``queue_log`` file (``[paths] queue_log``; the test bed's by default): every
  queue a caller joined, who answered after how long, how long they talked, or that the
  caller gave up, keyed by the caller's unique id (the record's ``call_id``). It is written
  whether or not the application runs, so a call that arrived while the application was
  down (the dialplan's fallback queues it), or was cut off mid-menu, still gets its record.
  Read from where the last read stopped (the offset, and the file's inode, are kept in the
  database, ``log_cursors``, with the records made from them: a new database starts at the
  file's end whatever an earlier one read), at most ``READ_BYTES`` per pass and never more
  than ``MAX_CATCH_UP`` behind the end, read and parsed in a thread; a line that is not
  app_queue's is skipped. The offset kept is the first line of a call still in a queue, so a
  restart reads that call's lines again (applying them twice gives the same record).
* the channel list (AMI ``CoreShowChannels``, every ``CHECK_EVERY`` seconds and after each
  AMI login): a record still ``in_progress`` whose channel is gone is ended (``interrupted``)
  with what the queue_log said about it. At start this node's own records are ended at once
  (this process did not handle them); any other record must be seen so twice in a row (a
  call just ending is saved by the node handling it first).

A call's facts are applied ``GRACE`` seconds after it left the queue, once the live path
(``ivr.operators.queue_events``) has written what it saw: the record then usually says it
all already and nothing is written. Writes go through ``PendingWrites`` (kept while the
database is down); the record is read first (a call the database cannot be asked about waits
for the next pass: a new record must not overwrite one the store could not show). On several
nodes the leading node does the continuous part; every node does its own start-up part. Each
write is an upsert by call id: two nodes reconciling the same call give one record.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import structlog

from ivr.calls.pending_writes import PendingWrites
from ivr.core.call_facts import (
    CallFacts,
    QueueLogEntry,
    operators_by_agent,
    parse_queue_log_line,
    reconcile_call,
)
from ivr.core.records import CallRecord
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.edges.clock import Clock
from ivr.edges.files import file_end, read_new_lines
from ivr.edges.storage.calls import CallRecords
from ivr.edges.storage.log_cursors import LogCursors
from ivr.errors import IvrError, StorageError

log = structlog.get_logger("ivr.calls.reconcile")
LOOKBACK = 5000  # recent call records looked at, at start, for ones left "in progress"
CHECK_WINDOW = 1000  # ... and at each later channel check
READ_BYTES = 256 << 10  # queue_log read per pass at most
MAX_CATCH_UP = 16 << 20  # never further behind the file's end than this at start
INTERVAL = 2.0  # seconds between reads of the queue_log
CHECK_EVERY = 15.0  # seconds between channel checks
GRACE = 5.0  # seconds after a call left the queue before its facts are applied
MAX_FOLLOWED = 10_000  # calls whose facts are kept at once (the oldest go first)
MAX_OPEN_SECONDS = 6 * 3600.0  # a call in a queue longer than this is not followed any more


class Reconciler:
    """Asterisk's records made into final call records; see the module docstring."""

    def __init__(
        self, ami: AmiClient, calls: CallRecords, writes: PendingWrites, node: str,
        clock: Clock, *, settings: Settings, cursors: LogCursors, queue_log: Path | None = None,
        leads: Callable[[], bool] = lambda: True,
        interval: float = INTERVAL, check_every: float = CHECK_EVERY, grace: float = GRACE,
    ) -> None:
        self._ami = ami
        self._calls = calls
        self._writes = writes
        self._node = node
        self._clock = clock
        self._queue_log = queue_log
        self._cursors = cursors
        self._cursor = f"queue_log@{node}"
        self._leads = leads
        self._interval = interval
        self._check_every = check_every
        self._grace = grace
        self.reconfigure(settings)
        self._started_at = clock.now().isoformat()
        self._offset = 0
        self._inode = 0
        self._saved: tuple[int, int] | None = None
        self._loaded = False  # the offset kept by the last run is read
        # Calls still in a queue: their facts and the offset of their first line.
        self._open: OrderedDict[str, tuple[CallFacts, int]] = OrderedDict()
        self._ready: OrderedDict[str, tuple[CallFacts, int]] = OrderedDict()  # left it
        self._known: OrderedDict[str, CallFacts] = OrderedDict()  # applied lately
        self._suspects: set[str] = set()  # in progress, channel gone at the last check
        self._last_check = 0.0
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.reconciled = 0
        """Records written from Asterisk's facts."""
        self.skipped_lines = 0
        """queue_log lines that were not app_queue's (garbage, torn, another format)."""

    def reconfigure(self, settings: Settings) -> None:
        self._agents = operators_by_agent(
            {op.id: (op.interface, op.name) for op in settings.operators.values()})
        self._language = settings.default_language

    async def once(self) -> None:
        """After each AMI login (an ``on_ready`` hook): the first time, reconcile what
        happened while this node was away and start the continuous part; later, a channel
        check (what ended while the link was down)."""
        if self._task is not None:
            self._last_check = 0.0
            return
        self._task = asyncio.create_task(self._run(), name="reconcile")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._save_offset()

    async def _run(self) -> None:
        try:
            await self.catch_up()
        except (IvrError, StorageError, OSError) as exc:
            log.error("reconcile_failed", error=str(exc))
        while True:
            await asyncio.sleep(self._interval)
            if not self._leads():
                continue
            try:
                await self.step()
            except (IvrError, StorageError, OSError) as exc:
                log.warning("reconcile_pass_failed", error=str(exc))

    async def catch_up(self) -> None:
        """The start-up part: the queue_log since the last read, then this node's calls left
        in progress."""
        async with self._lock:
            if self._queue_log is not None:
                await self._load_offset(self._queue_log)
                while await self._read(self._queue_log) and len(self._ready) < MAX_FOLLOWED:
                    pass
                await self._settle(0.0)
                await self._save_offset()
            await self._check_channels(at_start=True)

    async def step(self) -> None:
        """One continuous pass: new queue_log lines, the calls that left a queue, and the
        channel check when it is due."""
        async with self._lock:
            if self._queue_log is not None:
                if not self._loaded:  # the start-up part failed before it
                    await self._load_offset(self._queue_log)
                await self._read(self._queue_log)
                await self._settle(self._grace)
                await self._save_offset()
            if self._clock.time() - self._last_check >= self._check_every:
                await self._check_channels(at_start=False)

    # -- the queue_log --------------------------------------------------------------------

    async def _load_offset(self, path: Path) -> None:
        kept = await self._cursors.get(self._cursor)  # StorageError: tried again next pass
        size, inode = await asyncio.to_thread(file_end, path)
        if kept is None:  # this database never read it: from the end on
            self._offset, self._inode, jumped = size, inode, None
        else:
            offset, kept_inode = kept
            if kept_inode != inode or offset > size:
                offset = 0  # rotated or cut since
            self._offset, self._inode = max(offset, size - MAX_CATCH_UP), inode
            jumped = offset < size - MAX_CATCH_UP
        self._loaded = True
        self._saved = None if jumped is None else (self._offset, self._inode)
        if jumped:
            log.warning("queue_log_too_far_behind", skipped_to=self._offset,
                        kept_bytes=MAX_CATCH_UP)

    async def _save_offset(self) -> None:
        if self._queue_log is None:
            return
        firsts = [first for _, first in (*self._open.values(), *self._ready.values())]
        keep = (min([*firsts, self._offset]), self._inode)
        if keep == self._saved or not self._loaded:
            return
        try:
            await self._cursors.put(self._cursor, *keep, self._clock.now())
        except StorageError as exc:  # kept in memory; saved at a later pass
            log.debug("queue_log_offset_not_saved", error=str(exc))
            return
        self._saved = keep

    async def _read(self, path: Path) -> bool:
        """Read the next lines (at most READ_BYTES); True if there may be more. Reading and
        parsing run in a thread; the loop only folds the calls' entries in."""
        entries, skipped, offset, inode = await asyncio.to_thread(
            _read_entries, path, self._offset, self._inode)
        if inode != self._inode or (offset < self._offset and self._offset):
            self._open.clear()  # a new file: offsets of the old one mean nothing
            self._ready.clear()
        start, self._offset, self._inode = self._offset, offset, inode
        self.skipped_lines += skipped
        for here, entry in entries:
            if entry.call_id in self._known and entry.event == "ENTERQUEUE":
                del self._known[entry.call_id]  # the same call back in a queue (requeued)
            followed = self._open.get(entry.call_id) or self._ready.pop(entry.call_id, None)
            if followed is None:
                if entry.event != "ENTERQUEUE":
                    continue  # member events, or a call whose start is before the offset
                followed = (CallFacts(entry.call_id), here)
            facts, first = followed
            facts.add(entry)
            self._open.pop(entry.call_id, None)
            if facts.final:
                self._ready[entry.call_id] = (facts, first)
            else:
                self._open[entry.call_id] = (facts, first)
        self._forget_stale()
        return offset - start >= READ_BYTES // 2

    def _forget_stale(self) -> None:
        now = self._clock.time()
        while self._open and len(self._open) > MAX_FOLLOWED:
            self._open.popitem(last=False)
        for call_id, (facts, _) in list(self._open.items()):
            if facts.entered_at is not None and now - facts.entered_at < MAX_OPEN_SECONDS:
                break
            del self._open[call_id]
        while len(self._ready) > MAX_FOLLOWED:
            self._ready.popitem(last=False)

    async def _settle(self, grace: float) -> None:
        """Apply the facts of the calls that left their queue at least ``grace`` s ago."""
        now = self._clock.time()
        for call_id, (facts, _) in list(self._ready.items()):
            if facts.ended_at is not None and now - facts.ended_at < grace:
                break
            try:
                record = await self._record(call_id)
            except StorageError as exc:
                log.warning("reconcile_waits_for_database", error=str(exc))
                return  # asked again at the next pass
            await self._apply(facts, record)
            del self._ready[call_id]
            self._known[call_id] = facts
            while len(self._known) > MAX_FOLLOWED:
                self._known.popitem(last=False)

    async def _record(self, call_id: str) -> CallRecord | None:
        pending = self._writes.pending_record(call_id)
        if pending is not None:
            return pending
        return await self._calls.get(call_id)

    async def _apply(self, facts: CallFacts, record: CallRecord | None) -> bool:
        final = reconcile_call(facts, record, self._agents, self._language)
        if final is None:
            return False
        await self._writes.save(final)
        self.reconciled += 1
        log.info("call_reconciled", call=final.call_id, outcome=final.outcome,
                 operator=final.operator, was=record.outcome if record else None)
        return True

    # -- the channels ---------------------------------------------------------------------

    async def _check_channels(self, *, at_start: bool) -> None:
        self._last_check = self._clock.time()
        live: set[str] = set()
        for m in await self._ami.action("CoreShowChannels", as_list=True, timeout=10):
            if m.get("Event") == "CoreShowChannel":
                live.update((m.get("Channel", ""), m.get("Uniqueid", "")))
        # A record still waiting to be written is newer than the stored one, never older:
        # only calls stored as in progress can be in progress.
        unfinished = await self._calls.in_progress(LOOKBACK if at_start else CHECK_WINDOW)
        suspects, ended, queued = set(), 0, 0
        for stored in unfinished:
            record = self._writes.pending_record(stored.call_id) or stored
            if record.outcome != "in_progress":
                continue
            gone = record.channel not in live and record.call_id not in live
            mine = (at_start and record.variables.get("node") == self._node
                    and record.arrived_at < self._started_at)
            if mine and not gone:
                # Asterisk's fallback queued the caller: the queue_log will say the rest.
                record.outcome = "interrupted:general_queue"
                await self._writes.save(record)
                queued += 1
            elif gone and (mine or record.call_id in self._suspects):
                facts = self._facts_of(record.call_id)
                facts.gone_at = self._clock.time()
                ended += await self._apply(facts, record)
            elif gone:
                suspects.add(record.call_id)
        self._suspects = suspects
        if ended or queued:
            log.warning("calls_reconciled", ended=ended, still_in_queue=queued)

    def _facts_of(self, call_id: str) -> CallFacts:
        known = self._known.get(call_id)
        if known is None:
            followed = self._open.get(call_id) or self._ready.get(call_id)
            known = followed[0] if followed else None
        if known is None:
            return CallFacts(call_id)
        return dataclasses.replace(known, queues=list(known.queues))


def _read_entries(
    path: Path, offset: int, inode: int
) -> tuple[list[tuple[int, QueueLogEntry]], int, int, int]:
    """The queue events after ``offset`` (each with the offset of its line), how many lines
    were not app_queue's, the next offset and the file's inode. Blocking: in a thread."""
    lines, end, inode = read_new_lines(path, offset, inode, READ_BYTES)
    entries: list[tuple[int, QueueLogEntry]] = []
    skipped = 0
    for here, line in lines:
        entry = parse_queue_log_line(line)
        if entry is not None:
            entries.append((here, entry))
        elif line.strip() and "|QUEUESTART|" not in line and "|NONE|NONE|" not in line:
            skipped += 1
    return entries, skipped, end, inode
