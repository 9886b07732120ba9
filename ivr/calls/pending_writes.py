"""Writes the live call path must never lose, kept while the database is away.

``PendingWrites`` stands between the call path (``CallHandler``, ``QueueEvents``) and the
store for five writes: a call record (``save``), its answered / completed / abandoned facts and
an operator's state change. Each returns at once whether or not the database answers; a write
the store does not take is kept and applied later, in order, by one background task.

Theory of operation
    While nothing is pending, a write goes straight to the store (up to ``first_try``
    seconds: a write still running then is handed to the background task, which waits for
    it). A write that fails, and every write after it while anything is pending, joins the
    queue: the background task retries its head with backoff (``min_backoff`` doubling to
    ``max_backoff``) until the store takes it, then the next, so writes land in the order they
    were made - in particular a call's answered/completed facts after its record. A newer
    version of a call record still waiting replaces the older one in its place (the latest
    version wins, the order of calls is kept).

    A failure whose cause is the database driver (connection refused or cut, database locked)
    means the store is down. A failure the store raises itself (``no call 'x'``) or the same
    write failing again and again means the write is refused: the task then checks the store
    with a write that changes nothing; if that succeeds and the write fails once more, the write
    is dropped and logged (``pending_write_refused``) rather than blocking every write behind it.

    Durable as soon as the store is unreachable: once a write fails because of the database
    driver (or the background task finds the store down), every pending write in memory -
    the one being retried included - goes to the spill file ``pending-writes.jsonl`` in the
    state directory, and so does every later write while it stays down, in batches (the
    writes of ``BATCH_SECONDS`` share one append and one fsync): a kill -9 or a power loss
    during an outage loses none of them. JSON lines, mode 0600; a line a crash cut short is
    one unreadable write, counted and skipped. Memory is bounded too: past ``limit`` pending
    writes, those in memory go to the file the same way. Handing them over costs the event
    loop the same at any size: the queue changes hands whole and is serialised in a thread.
    Writes in the file are older than those in memory and are
    applied first, a chunk at a time; a chunk leaves the file only once applied (the rest is
    rewritten through a temporary file and a rename, so it is never half written).
    ``close()`` spills whatever is still pending, and ``replay()`` at
    the next start queues the file's writes ahead of any new one and applies them (then the
    file is deleted): nothing is lost when the process stops during an outage. A write cut off
    by the process stopping may be applied twice (once before, once on replay): saves and the
    call updates give the same result, and the store records an operator's state change once
    however often it is replayed (deduplicated). Each write carries an id: a write moved to
    the file while its try was still running, and that try then succeeded, is skipped when
    the file's copy comes up (it is not applied twice). ``pending_record`` finds a call's
    latest record in the file as well as in memory.

    Every file access runs in a thread (``asyncio.to_thread``); the event loop only awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import structlog

from ivr.core.figures import Family
from ivr.core.records import CallRecord
from ivr.edges.storage.store import Store
from ivr.errors import StorageError

log = structlog.get_logger("ivr.calls.pending_writes")

SPILL_FILE = "pending-writes.jsonl"
# A write's id: a random prefix per process and a counter. Unique across processes and
# runs, and made without a system call per write: os.urandom (uuid4) releases the GIL, and
# behind a spill thread busy serialising a long outage's writes each write on the event loop
# then waited a switch interval to get it back (0.27 s per 2,000 writes, measured).
_WID_PREFIX = uuid.uuid4().hex[:8]
_wid_numbers = itertools.count()


def _new_wid() -> str:
    return f"{_WID_PREFIX}{next(_wid_numbers):08x}"
LIMIT = 100_000
FIRST_TRY = 0.5  # seconds a write may take before the call path stops waiting for it
MIN_BACKOFF = 0.5
MAX_BACKOFF = 10.0
BATCH_SECONDS = 0.05  # writes made this close together share one append + fsync while down
CLOSE_GRACE = 5.0  # seconds close() lets the store take what is pending before spilling
_REFUSED_AFTER = 3  # failures of one write before the store is asked whether it is up
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")


@dataclass(slots=True, eq=False)
class _Write:
    """One write as plain JSON values (also its line in the spill file)."""

    op: str  # save, answered, completed, abandoned, outcome_lines, operator_state
    args: dict[str, Any]
    from_file: bool = False
    seq: int = 0
    attempt: asyncio.Task[None] | None = None  # the direct try, still running
    failures: int = 0
    refusals: int = 0
    wid: str = dataclasses.field(default_factory=_new_wid)
    moved: bool = False  # handed to the spill file while in memory

    @property
    def key(self) -> str:
        return str(self.args.get("call_id") or self.args.get("operator_id") or "")


class _Outcome(Enum):
    APPLIED = 1
    DROPPED = 2
    RETRY_NOW = 3
    WAIT = 4
    SKIPPED = 5  # the file's copy of a write the store already took


class PendingWrites:
    """A write-behind buffer in front of ``store`` for the writes of the live call path.

    ``replay()`` once at start (before any write), ``close()`` at shut-down, before the store
    closes. Figures for /metrics: ``pending``, ``retried``, ``spilled``, ``replayed``,
    ``flushed``, ``dropped``, ``down`` (see ``metric_families()``).
    """

    def __init__(
        self, store: Store, state_dir: Path, *, spill: str = SPILL_FILE, limit: int = LIMIT,
        first_try: float = FIRST_TRY, min_backoff: float = MIN_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._store = store
        self.path = state_dir / spill
        self._limit = limit
        self._chunk_size = max(1, limit // 4)
        self._first_try = first_try
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._queue: dict[int, _Write] = {}  # in memory, oldest first, newer than the file
        self._records: dict[str, int] = {}  # call_id -> seq of its record waiting in memory
        self._seq = 0
        self._file_total = 0  # lines in the spill file (or on their way to it)
        self._chunk: list[_Write] = []  # the file's first lines, being applied
        self._chunk_done = 0
        self._file_lock = asyncio.Lock()
        self._worker: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._empty = asyncio.Event()  # set while nothing is pending
        self._empty.set()
        self._went_down = asyncio.Event()  # set whenever the store is found down
        self._closed = False
        self._in_hand: _Write | None = None
        self._helpers: set[asyncio.Task[Any]] = set()
        self._attempts: set[asyncio.Task[None]] = set()  # direct tries still running
        self._down_since: float | None = None
        self._back_at: float | None = None
        self._flushed_since_down = 0
        self._unreachable = False  # the last try failed because of the database driver
        self._spiller: asyncio.Task[None] | None = None
        self._landed: set[str] = set()  # ids of moved writes whose try succeeded after all
        self._filed: dict[str, tuple[str, dict[str, Any]]] = {}  # call -> its record in file
        self.retried = 0
        """Attempts the background task made (each retry of a kept write)."""
        self.spilled = 0
        """Writes put in the spill file (bound reached, or at close)."""
        self.replayed = 0
        """Writes from the spill file the store took."""
        self.flushed = 0
        """Kept writes the store took in the end."""
        self.dropped = 0
        """Writes the store refused while it answered (logged)."""

    # -- the figures ----------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Writes not yet in the database (in memory and in the spill file)."""
        return len(self._queue) + self._file_total - self._chunk_done

    @property
    def down(self) -> bool:
        """True from the store failing a write until every kept write is in."""
        return self._down_since is not None

    def metric_families(self) -> list[Family]:
        """For /metrics: what is waiting for the database, and what became of kept writes."""
        families = [
            Family("ivr_pending_writes", "Call records and queue facts waiting for the database."),
            Family("ivr_store_down", "1 while the database refuses writes (they are kept)."),
        ]
        families[0].add(self.pending)
        families[1].add(int(self.down))
        for name, value, what in (
            ("ivr_pending_writes_retried", self.retried, "Retries of kept writes."),
            ("ivr_pending_writes_flushed", self.flushed,
             "Kept writes the database took in the end."),
            ("ivr_pending_writes_spilled", self.spilled, "Kept writes put in the spill file."),
            ("ivr_pending_writes_replayed", self.replayed,
             "Writes from the spill file the database took."),
            ("ivr_pending_writes_dropped", self.dropped,
             "Writes the database refused while it answered."),
        ):
            family = Family(name, what, "counter")
            family.add(value)
            families.append(family)
        return families

    def pending_record(self, call_id: str) -> CallRecord | None:
        """The newest version of the call's record still waiting (in memory or moved to the
        spill file by this process), if any (a copy)."""
        seq = self._records.get(call_id)
        if seq is not None and seq in self._queue:
            return _record(self._queue[seq].args)
        filed = self._filed.get(call_id)
        return _record(filed[1]) if filed is not None else None

    async def wait_flushed(self, timeout: float) -> bool:
        """Wait until nothing is pending, at most ``timeout`` seconds; True if so."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._empty.wait(), timeout)
        return not self.pending

    async def wait_durable(self) -> None:
        """Wait until the writes handed to the spill file so far are on disk (at most
        BATCH_SECONDS and one append after the last write while the store is down)."""
        spiller = self._spiller
        if spiller is not None:
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await asyncio.shield(spiller)

    def _settle(self) -> None:
        if self.pending:
            self._empty.clear()
        else:
            self._empty.set()

    # -- the writes -----------------------------------------------------------------------

    async def save(self, record: CallRecord) -> None:
        """``store.calls.save(record)``, now or later; the record is copied as it is now."""
        args = dataclasses.asdict(record)
        seq = self._records.get(record.call_id)
        waiting = self._queue.get(seq) if seq is not None else None
        if (waiting is not None and waiting is not self._in_hand and waiting.attempt is None
                and not self._closed):
            waiting.args = args  # the latest version wins, in the older one's place
            return
        await self._write(_Write("save", args))

    async def set_call_answered(
        self, call_id: str, operator: str, answered_at: datetime, wait_seconds: float,
        outcome: list[str] | None = None,
    ) -> None:
        await self._write(_Write("answered", {
            "call_id": call_id, "operator": operator, "answered_at": _stamp(answered_at),
            "wait_seconds": wait_seconds, "outcome": list(outcome or []),
        }))

    async def set_call_completed(
        self, call_id: str, ended_at: datetime, talk_seconds: float
    ) -> None:
        await self._write(_Write("completed", {
            "call_id": call_id, "ended_at": _stamp(ended_at), "talk_seconds": talk_seconds,
        }))

    async def set_call_abandoned(
        self, call_id: str, ended_at: datetime, wait_seconds: float,
        outcome: list[str] | None = None,
    ) -> None:
        await self._write(_Write("abandoned", {
            "call_id": call_id, "ended_at": _stamp(ended_at), "wait_seconds": wait_seconds,
            "outcome": list(outcome or []),
        }))

    async def add_call_outcome(self, call_id: str, lines: list[str]) -> None:
        """``store.calls.add_outcome``: lines appended to what app_queue did with the call."""
        await self._write(_Write("outcome_lines", {"call_id": call_id, "lines": list(lines)}))

    async def record_operator_state(
        self, operator_id: str, state: str, reason: str, at: datetime
    ) -> None:
        await self._write(_Write("operator_state", {
            "operator_id": operator_id, "state": state, "reason": reason, "at": _stamp(at),
        }))

    async def _write(self, write: _Write) -> None:
        if self._closed:
            # A straggler after close (a call ending late): straight to the file.
            await self._spill([write], "after_close")
            return
        if self.pending or self.down:
            await self._keep(write)
            return
        attempt = asyncio.create_task(self._apply(write), name=f"store-{write.op}")
        self._attempts.add(attempt)
        attempt.add_done_callback(self._attempts.discard)
        attempt.add_done_callback(_retrieve)
        attempt.add_done_callback(functools.partial(self._landed_if_moved, write))
        try:
            done, _ = await asyncio.wait({attempt}, timeout=self._first_try)
        except asyncio.CancelledError:
            write.attempt = attempt  # the caller went away; the write is still kept
            self._enqueue(write)
            raise
        if attempt in done:
            error = attempt.exception()
            if error is None:
                return
            if not isinstance(error, StorageError):
                raise error  # a bug, not the database: it would fail again and again
            self._unreachable = self._unreachable or error.__cause__ is not None
        else:
            write.attempt = attempt  # the background task waits for it
        await self._keep(write)

    def _landed_if_moved(self, write: _Write, attempt: asyncio.Task[None]) -> None:
        if write.moved and not attempt.cancelled() and attempt.exception() is None:
            self._landed.add(write.wid)

    async def _keep(self, write: _Write) -> None:
        self._enqueue(write)
        if self._unreachable or self.down:
            self._spill_soon()
        if len(self._queue) >= self._limit:
            # Constant work on the loop whatever the bound: memory's queue is handed over
            # whole (serialised and appended in a thread); only the write in hand stays.
            moving, self._queue, self._records = self._queue, {}, {}
            held = self._in_hand
            if held is not None and moving.pop(held.seq, None) is not None:
                self._queue[held.seq] = held
                if held.op == "save":
                    self._records[held.key] = held.seq
            log.warning("pending_writes_spilled", writes=len(moving), reason="limit",
                        limit=self._limit)
            await self._spill(list(moving.values()), "limit")

    def _spill_soon(self) -> None:
        """Move memory's writes to the spill file within BATCH_SECONDS (one append)."""
        if self._closed or (self._spiller is not None and not self._spiller.done()):
            return

        async def spill() -> None:
            # Until memory is empty: writes made during one append go in the next.
            while True:
                await asyncio.sleep(BATCH_SECONDS)
                if not await self._spill_memory():
                    return
                if not self._queue or self._closed or not (self._unreachable or self.down):
                    return

        self._spiller = asyncio.create_task(spill(), name="pending-writes-spill")
        self._spiller.add_done_callback(_retrieve)

    async def _spill_memory(self) -> bool:
        """Hand memory's writes to the spill file, in order; False if it would not take them.
        """
        moving, self._queue, self._records = self._queue, {}, {}
        held = self._in_hand
        if held is not None and held.seq in moving and self._file_total:
            # The write in hand is older than the file's (the bound moved those): it goes
            # to the file's head, the rest to its end.
            del moving[held.seq]
            if not await self._spill_first(held):
                self._restore([held, *moving.values()])
                return False
        for write in moving.values():
            write.moved = True
            if write.op == "save":
                self._filed[write.key] = (write.wid, write.args)
        before = self.spilled
        await self._spill(list(moving.values()), "store_down")
        return self.spilled > before or not moving

    def _enqueue(self, write: _Write) -> None:
        self._seq += 1
        write.seq = self._seq
        self._queue[write.seq] = write
        self._empty.clear()
        if write.op == "save":
            self._records[write.key] = write.seq
        self._ensure_worker()

    def _forget(self, write: _Write) -> None:
        self._queue.pop(write.seq, None)
        if write.op == "save" and self._records.get(write.key) == write.seq:
            del self._records[write.key]

    async def _apply(self, write: _Write) -> None:
        a, store = write.args, self._store
        match write.op:
            case "save":
                await store.calls.save(_record(a))
            case "answered":
                # "outcome" is absent from writes spilled by an older version.
                await store.calls.set_answered(a["call_id"], a["operator"],
                                              _moment(a["answered_at"]), a["wait_seconds"],
                                              a.get("outcome"))
            case "completed":
                await store.calls.set_completed(a["call_id"], _moment(a["ended_at"]),
                                               a["talk_seconds"])
            case "abandoned":
                await store.calls.set_abandoned(a["call_id"], _moment(a["ended_at"]),
                                               a["wait_seconds"], a.get("outcome"))
            case "outcome_lines":
                await store.calls.add_outcome(a["call_id"], a["lines"])
            case "operator_state":
                await store.operator_states.record(a["operator_id"], a["state"], a["reason"],
                                                  _moment(a["at"]))
            case _:
                raise StorageError(f"unknown pending write {write.op!r}")

    # -- the background task --------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if self._closed or (self._worker is not None and not self._worker.done()):
            return
        self._worker = asyncio.create_task(self._drain(), name="pending-writes")

    async def _drain(self) -> None:
        delay = self._min_backoff
        while not self._stopping.is_set():
            write = await self._next()
            if write is None:
                break
            # The oldest write stays in hand until the store takes it: it is neither replaced
            # nor spilled meanwhile, and nothing newer overtakes it.
            self._in_hand = write
            try:
                while not self._stopping.is_set():
                    outcome = await self._attempt(write)
                    if outcome is _Outcome.SKIPPED:
                        self._done(write, applied=True, counted=False)
                        break
                    if outcome in {_Outcome.APPLIED, _Outcome.DROPPED}:
                        if write.moved:
                            self._landed.add(write.wid)  # its copy in the file is skipped
                        self._done(write, applied=outcome is _Outcome.APPLIED)
                        delay = self._min_backoff
                        break
                    if outcome is _Outcome.WAIT:
                        self._spill_soon()  # the store is down: memory's writes to disk
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stopping.wait(), delay)
                        delay = min(delay * 2, self._max_backoff)
                    if write.moved:
                        break  # handed to the file: taken again from there, in its place
            finally:
                self._in_hand = None
        self._back_if_flushed()

    def _back_if_flushed(self) -> None:
        """Log the store's return once every kept write is in."""
        if not self.pending and self._down_since is not None:
            now = time.monotonic()
            back = self._back_at or now
            log.info("store_back", flushed=self._flushed_since_down,
                     outage_seconds=round(back - self._down_since, 1),
                     flush_seconds=round(now - back, 1))
            self._down_since = self._back_at = None
            self._flushed_since_down = 0
            self._went_down.clear()

    async def _next(self) -> _Write | None:
        """The oldest pending write: the file's before memory's."""
        while True:
            if self._chunk_done < len(self._chunk):
                return self._chunk[self._chunk_done]
            if self._chunk:
                await self._file_op(functools.partial(_drop_head, self.path, len(self._chunk)),
                                    functools.partial(self._chunk_applied, len(self._chunk)))
                continue
            if self._file_total:
                chunk = await self._file_op(lambda: _read_head(self.path, self._chunk_size),
                                            self._chunk_loaded)
                if not chunk and self._file_total:
                    log.error("pending_writes_file_missing", path=str(self.path),
                              writes=self._file_total)
                    self._file_total = 0
                    self._settle()
                continue
            return next(iter(self._queue.values()), None)

    def _chunk_applied(self, applied: int, _: object = None) -> None:
        self._file_total -= applied
        self._chunk, self._chunk_done = [], 0
        if not self._file_total:
            self._filed.clear()
            self._landed.clear()

    def _chunk_loaded(self, chunk: list[_Write]) -> None:
        self._chunk, self._chunk_done = chunk, 0

    async def _attempt(self, write: _Write) -> _Outcome:
        if write.op == "unreadable":
            return _Outcome.DROPPED
        try:
            if write.attempt is not None:
                attempt, write.attempt = write.attempt, None
                await attempt
            else:
                # A direct try spilled with its write may still be running: it lands first.
                if self._attempts:
                    await asyncio.wait(set(self._attempts))
                if write.from_file and write.wid in self._landed:
                    self._landed.discard(write.wid)
                    return _Outcome.SKIPPED
                self.retried += 1
                await self._apply(write)
        except StorageError as exc:
            error = exc
        except (KeyError, TypeError, ValueError) as exc:
            log.error("pending_write_unusable", op=write.op, key=write.key, error=str(exc))
            return _Outcome.DROPPED
        else:
            self._unreachable = False
            if self._down_since is not None and self._back_at is None:
                self._back_at = time.monotonic()
                log.info("store_answers_again", pending=self.pending)
            return _Outcome.APPLIED
        write.failures += 1
        refused = error.__cause__ is None or write.failures % _REFUSED_AFTER == 0
        if refused and await self._store_writes():
            if write.refusals:
                log.error("pending_write_refused", op=write.op, key=write.key,
                          error=str(error))
                return _Outcome.DROPPED
            write.refusals += 1
            return _Outcome.RETRY_NOW
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.error("store_down", error=str(error), pending=self.pending)
        self._went_down.set()
        self._back_at = None
        self._unreachable = True
        return _Outcome.WAIT

    async def _store_writes(self) -> bool:
        """Whether the store takes a write (one that changes nothing) right now."""
        try:
            await self._store.sessions.delete_expired(_EPOCH)
        except StorageError:
            return False
        return True

    def _done(self, write: _Write, *, applied: bool, counted: bool = True) -> None:
        if write.from_file:
            self._chunk_done += 1
            self.replayed += applied
            filed = self._filed.get(write.key) if write.op == "save" else None
            if filed is not None and filed[0] == write.wid:
                del self._filed[write.key]
        else:
            self._forget(write)
        if not counted:
            self._settle()
            return
        if applied:
            self.flushed += 1
            if self._down_since is not None:
                self._flushed_since_down += 1
        else:
            self.dropped += 1
        self._settle()
        self._back_if_flushed()

    # -- the spill file -------------------------------------------------------------------

    async def replay(self) -> int:
        """Queue the writes an earlier run left in the spill file ahead of any new write; the
        background task applies them and deletes the file. Returns how many there are."""
        found = await self._file_op(lambda: _count_lines(self.path), _ignore)
        self._file_total += found
        self._settle()
        if found:
            log.warning("pending_writes_replaying", writes=found, path=str(self.path))
            self._ensure_worker()
        return found

    async def close(self, grace: float = CLOSE_GRACE) -> None:
        """Let the store take what is pending (up to ``grace`` seconds while it answers), then
        stop and put whatever is left in the spill file for the next start."""
        if self._closed:
            return
        if self.pending and not self.down:
            # Worth waiting for only while the store answers: stop waiting once it is down.
            waits = {asyncio.create_task(self._empty.wait()),
                     asyncio.create_task(self._went_down.wait())}
            await asyncio.wait(waits, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        self._closed = True
        self._stopping.set()
        if self._spiller is not None:
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await self._spiller  # writes already handed over reach the file
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        # A file step the worker started finishes first: the counts below must be final.
        for helper in list(self._helpers):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await helper
        applied, left = self._chunk_done, list(self._queue.values())
        self._queue.clear()
        self._records.clear()
        for write in left:
            if write.attempt is not None and not write.attempt.done():
                write.attempt.cancel()  # its outcome is unknown: the file keeps the write
        if applied:
            await self._file_op(lambda: _drop_head(self.path, applied),
                                lambda _: self._chunk_applied(applied))
        if left:
            await self._spill(left, "close")
        if self.pending:
            log.warning("pending_writes_kept_for_next_start", writes=self.pending,
                        path=str(self.path))

    async def _spill(self, writes: list[_Write], reason: str) -> None:
        """Append ``writes`` (the newest pending) to the spill file."""
        if not writes:
            return
        self._file_total += len(writes)  # counted at once: the worker reads the file next
        self._empty.clear()
        try:
            # Serialised in the thread, off the loop: nothing touches these writes meanwhile.
            await self._file_op(functools.partial(_append, self.path, writes), _ignore)
        except OSError as exc:
            self._file_total -= len(writes)
            if self._closed:
                log.critical("pending_writes_lost", error=str(exc), writes=len(writes),
                             path=str(self.path))
                return
            # Kept in memory past the bound rather than lost, in their place (the oldest);
            # the next spill tries again.
            log.error("pending_writes_not_spilled", error=str(exc), writes=len(writes),
                      path=str(self.path))
            self._restore(writes)
            return
        self.spilled += len(writes)

    def _restore(self, writes: list[_Write]) -> None:
        """Writes the file did not take, back in memory in their place (by age)."""
        for write in writes:
            write.moved = False
            filed = self._filed.get(write.key) if write.op == "save" else None
            if filed is not None and filed[0] == write.wid:
                del self._filed[write.key]
        self._queue = dict(sorted({**{w.seq: w for w in writes}, **self._queue}.items()))
        self._records = {w.key: seq for seq, w in self._queue.items() if w.op == "save"}

    async def _spill_first(self, write: _Write) -> bool:
        """Put ``write`` (older than every write in the file) at the spill file's head;
        False if the file would not take it."""
        self._file_total += 1
        try:
            await self._file_op(functools.partial(_prepend, self.path, write), _ignore)
        except OSError as exc:
            self._file_total -= 1
            log.error("pending_writes_not_spilled", error=str(exc), writes=1,
                      path=str(self.path))
            return False
        write.moved = True
        if write.op == "save":
            self._filed[write.key] = (write.wid, write.args)
        self.spilled += 1
        return True

    async def _file_op(self, work: Callable[[], T], then: Callable[[T], None]) -> T:
        """``work()`` in a thread under the file lock, then ``then(result)``, as one step that a
        cancelled caller does not interrupt (the file and the counts always agree)."""
        async def run() -> T:
            async with self._file_lock:
                result = await asyncio.to_thread(work)
                then(result)
                return result
        step = asyncio.create_task(run(), name="pending-writes-file")
        self._helpers.add(step)
        step.add_done_callback(self._helpers.discard)
        step.add_done_callback(_retrieve)
        return await asyncio.shield(step)


# -- helpers -------------------------------------------------------------------------------


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pending writes need timezone-aware times")
    return moment.isoformat()


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _record(args: dict[str, Any]) -> CallRecord:
    fields = {f.name for f in dataclasses.fields(CallRecord)}
    values = json.loads(json.dumps({k: v for k, v in args.items() if k in fields}))
    return CallRecord(**values)


def _parse(lines: list[str]) -> list[_Write]:
    writes = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
            write = _Write(str(entry["op"]), dict(entry["args"]), from_file=True)
            if entry.get("id"):  # absent from the lines of an older version
                write.wid = str(entry["id"])
            writes.append(write)
        except (ValueError, KeyError, TypeError) as exc:
            # A line cut short by a crash mid-write: nothing to apply, kept in the count.
            log.error("pending_write_unreadable", line=number, error=str(exc))
            writes.append(_Write("unreadable", {}, from_file=True))
    return writes


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:  # e.g. a directory in its way: nothing in it was ever written
        log.error("pending_writes_file_unreadable", path=str(path), error=str(exc))
        return []
    return [line for line in text.splitlines() if line.strip()]


def _count_lines(path: Path) -> int:
    return len(_lines(path))


def _read_head(path: Path, n: int) -> list[_Write]:
    return _parse(_lines(path)[:n])


def _drop_head(path: Path, n: int) -> None:
    rest = _lines(path)[n:]
    if rest:
        _write_atomically(path, "".join(line + "\n" for line in rest))
    else:
        path.unlink(missing_ok=True)


def _append(path: Path, writes: list[_Write]) -> None:
    """Append ``writes`` to the spill file (created 0600) and make them durable. A line cut
    short by a crash is finished with a newline first, so it stays one unreadable line."""
    text = "".join(_line(w.op, w.args, w.wid) + "\n" for w in writes)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            text = "\n" + text
        data = text.encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _prepend(path: Path, write: _Write) -> None:
    """Rewrite the spill file with ``write`` first (atomically: old file or new)."""
    _write_atomically(path, "".join(
        line + "\n" for line in [_line(write.op, write.args, write.wid), *_lines(path)]))


def _line(op: str, args: dict[str, Any], wid: str) -> str:
    return json.dumps({"op": op, "args": args, "id": wid}, ensure_ascii=False)


def _ignore(_: object) -> None:
    return None


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (mode 0600): a reader sees the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)

