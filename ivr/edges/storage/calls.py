"""Call records: what the IVR did with each call and what the queue did with it afterwards."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, func, select, text, update
from sqlalchemy.engine import RowMapping

from ivr.core.cases import Case
from ivr.core.records import CallRecord
from ivr.core.words import lines_from_json, lines_json
from ivr.edges.storage import tables
from ivr.edges.storage.cases import cases_of_caller
from ivr.edges.storage.database import Database
from ivr.edges.storage.tables import json_text, utc_text
from ivr.errors import RecordNotFound

_t = tables.calls
# The IVR's in-memory record does not know what the queue did later (operator,
# answered_at...): what it leaves unset keeps the stored value.
_QUEUE_FACTS = frozenset({"operator", "answered_at", "wait_seconds", "talk_seconds", "skill",
                          "queue_outcome"})
# Written by ``set_recording`` alone: a save of a record read earlier (the survey's, loaded
# before the call's recording was settled) never takes its state back.
_RECORDING = frozenset({"recording", "recording_status"})
_FIXED = frozenset({"call_id", "channel", "caller", "caller_name", "arrived_at"})


class CallRecords:
    def __init__(self, db: Database) -> None:
        self._db = db
        # The upsert per set of columns, built once: building and compiling it anew for
        # every save was a quarter of the application's CPU under load (BENCHMARKS.md).
        self._upserts: dict[frozenset[str], Any] = {}

    async def save(self, record: CallRecord) -> None:
        """Insert or update the call; queue facts already stored are kept when unset here."""
        await self._db.write(self._save, _values(record))

    def _save(self, conn: Connection, values: dict[str, Any]) -> None:
        columns = frozenset(values)
        stmt = self._upserts.get(columns)
        if stmt is None:
            stmt = self._upserts[columns] = _upsert(columns)
        conn.execute(stmt, values)  # the values as bound parameters of the one statement

    async def get(self, call_id: str) -> CallRecord | None:
        rows = await self._db.read(self._where, _t.c.call_id == call_id, None, None)
        return rows[0] if rows else None

    async def by_caller(self, caller: str) -> list[CallRecord]:
        return await self._db.read(self._where, _t.c.caller == caller, [_t.c.arrived_at], None)

    async def latest_of_caller(self, caller: str, limit: int = 20) -> list[CallRecord]:
        """The caller's latest calls, newest first (bounded: a frequent caller has many)."""
        return await self._db.read(
            self._where, _t.c.caller == caller, [_t.c.arrived_at.desc()], limit)

    async def caller_history(self, caller: str, latest: int = 2) -> tuple[list[Case], list[str]]:
        """The caller's cases (oldest first) and the ids of their ``latest`` calls (newest
        first), read in one transaction: one trip to the store's thread where two reads took
        two (each trip costs the loop and the thread a wake-up), and no call record decoded
        (only whether the caller called before matters on the call path)."""
        return await self._db.read(self._history, caller, latest)

    @staticmethod
    def _history(conn: Connection, caller: str, latest: int) -> tuple[list[Case], list[str]]:
        ids = select(_t.c.call_id).where(_t.c.caller == caller).order_by(
            _t.c.arrived_at.desc()).limit(max(0, latest))
        return cases_of_caller(conn, caller), [str(i) for i in conn.execute(ids).scalars()]

    async def between(self, start: datetime, end: datetime) -> list[CallRecord]:
        """Calls that arrived in [start, end), oldest first."""
        return await self._db.read(
            self._where,
            (_t.c.arrived_at >= utc_text(start)) & (_t.c.arrived_at < utc_text(end)),
            [_t.c.arrived_at, _t.c.call_id], None,
        )

    async def recent(self, limit: int = 50, *, operator: str | None = None,
                     offset: int = 0) -> list[CallRecord]:
        """The latest calls to arrive, newest first, a page at a time (``offset`` skipped);
        ``operator``: only those they answered."""
        where = None if operator is None else _t.c.operator == operator
        return await self._db.read(
            self._where, where, [_t.c.arrived_at.desc(), _t.c.call_id.desc()], limit, offset,
        )

    async def in_progress(self, among: int) -> list[CallRecord]:
        """The calls still in progress among the latest ``among`` to arrive, newest first: the
        database reads the latest rows by its arrival index and only the unfinished ones are
        decoded (the reconciler's check every few seconds, which decoded all ``among``)."""
        latest = select(_t.c.call_id).order_by(
            _t.c.arrived_at.desc(), _t.c.call_id.desc()).limit(max(0, among)).scalar_subquery()
        return await self._db.read(
            self._where, _t.c.call_id.in_(latest) & (_t.c.outcome == "in_progress"),
            [_t.c.arrived_at.desc(), _t.c.call_id.desc()], None,
        )

    async def count(self, *, operator: str | None = None) -> int:
        """How many calls ``recent`` pages through (``operator``: those they answered)."""
        query = select(func.count()).select_from(_t)
        if operator is not None:
            query = query.where(_t.c.operator == operator)
        return await self._db.read(lambda conn: int(conn.execute(query).scalar_one()))

    @staticmethod
    def _where(
        conn: Connection, where: Any, order: list[Any] | None, limit: int | None,
        offset: int = 0,
    ) -> list[CallRecord]:
        query = select(_t)
        if where is not None:
            query = query.where(where)
        if order:
            query = query.order_by(*order)
        if limit is not None:
            query = query.limit(max(0, limit))
        if offset > 0:
            query = query.offset(offset)
        return [_record(row._mapping) for row in conn.execute(query)]

    async def set_answered(
        self, call_id: str, operator: str, answered_at: datetime, wait_seconds: float,
        outcome: list[str] | None = None,
    ) -> None:
        await self._update(call_id, operator=operator, answered_at=utc_text(answered_at),
                           wait_seconds=wait_seconds,
                           **({"queue_outcome": json_text(lines_json(outcome))} if outcome else {}))

    async def set_recording(self, call_id: str, name: str | None, status: str) -> None:
        """The call's recording: its file name (None keeps the stored one) and state."""
        await self._update(call_id, recording_status=status,
                           **({"recording": name} if name is not None else {}))

    async def recordings_before(self, cutoff: datetime, limit: int) -> list[tuple[str, str]]:
        """(call id, file name) of at most ``limit`` calls that arrived before ``cutoff`` whose
        recording is still kept (retention, ``ivr.calls.recordings``)."""
        kept = _t.c.recording.is_not(None) & (_t.c.recording_status != "purged")
        query = (select(_t.c.call_id, _t.c.recording)
                 .where(kept & (_t.c.arrived_at < utc_text(cutoff)))
                 .order_by(_t.c.arrived_at).limit(max(0, limit)))

        def run(conn: Connection) -> list[tuple[str, str]]:
            return [(row.call_id, row.recording) for row in conn.execute(query)]
        return await self._db.read(run)

    async def set_completed(self, call_id: str, ended_at: datetime, talk_seconds: float) -> None:
        await self._update(call_id, ended_at=utc_text(ended_at), talk_seconds=talk_seconds)

    async def set_abandoned(
        self, call_id: str, ended_at: datetime, wait_seconds: float,
        outcome: list[str] | None = None,
    ) -> None:
        """The caller hung up while waiting in the queue."""
        await self._update(call_id, ended_at=utc_text(ended_at), wait_seconds=wait_seconds,
                           outcome="abandoned",
                           **({"queue_outcome": json_text(lines_json(outcome))} if outcome else {}))

    async def add_outcome(self, call_id: str, lines: list[str]) -> None:
        """Append ``lines`` to what app_queue did with the call (a transfer, a callback's
        stand-in), in one transaction with the lines already there."""
        def run(conn: Connection) -> None:
            row = conn.execute(select(_t.c.queue_outcome).where(_t.c.call_id == call_id)
                               .with_for_update()).first()
            if row is None:
                raise RecordNotFound(f"no call {call_id!r}")
            told = json.loads(row.queue_outcome or "[]")
            conn.execute(update(_t).where(_t.c.call_id == call_id)
                         .values(queue_outcome=json_text([*told, *lines_json(lines)])))
        await self._db.write(run)

    async def _update(self, call_id: str, **values: object) -> None:
        def run(conn: Connection) -> None:
            done = conn.execute(update(_t).where(_t.c.call_id == call_id).values(**values))
            if done.rowcount == 0:
                raise RecordNotFound(f"no call {call_id!r}")
        await self._db.write(run)

    async def forget_before(self, cutoff: datetime, limit: int) -> int:
        """Privacy retention: at most ``limit`` calls that arrived before ``cutoff`` lose what
        identifies the caller and what they said (number, name, channel, the variables with
        the transcripts); what the figures need (times, queue, outcome, operator) stays. One
        transaction; returns how many were cleared (0: none left)."""
        forgotten = (_t.c.caller == "") & (_t.c.variables == "{}")
        old = (_t.c.arrived_at < utc_text(cutoff)) & ~forgotten

        def run(conn: Connection) -> int:
            ids = [row.call_id for row in conn.execute(
                select(_t.c.call_id).where(old).order_by(_t.c.arrived_at).limit(max(0, limit)))]
            if ids:
                conn.execute(update(_t).where(_t.c.call_id.in_(ids)).values(
                    caller="", caller_name="", channel="", variables="{}"))
            return len(ids)
        return await self._db.write(run)

    async def record_survey(self, call_id: str, score: int) -> None:
        """The 1-5 satisfaction score, stored with the call and with the case it opened."""
        def run(conn: Connection) -> None:
            conn.execute(update(_t).where(_t.c.call_id == call_id).values(survey_score=score))
            conn.execute(update(tables.cases).where(tables.cases.c.call_id == call_id)
                         .values(satisfaction=score))
        await self._db.write(run)


def _upsert(columns: frozenset[str]) -> TextClause:
    """``INSERT ... ON CONFLICT (call_id) DO UPDATE`` for these columns, as SQL text that
    SQLite and PostgreSQL both read (names from the table, never caller data; values bound).

    Text, not SQLAlchemy's dialect ``insert().on_conflict_do_update()``: that construct has no
    cache key, so SQLAlchemy compiled it anew on every save (a tenth of the application's CPU
    under load, BENCHMARKS.md); a text statement is compiled once and then cached."""
    names = sorted(columns)
    unknown = [n for n in names if n not in _t.c]
    if unknown:
        raise ValueError(f"not columns of {_t.name}: {unknown}")
    table = f'"{_t.name}"'
    changes = ", ".join(
        f'"{n}" = coalesce(excluded."{n}", {table}."{n}")' if n in _QUEUE_FACTS
        else f'"{n}" = excluded."{n}"'
        for n in names if n not in _FIXED and n not in _RECORDING)
    quoted = ", ".join(f'"{n}"' for n in names)
    sql = (f"INSERT INTO {table} ({quoted}) "  # noqa: S608 - the table's names; values bound
           f'VALUES ({", ".join(f":{n}" for n in names)}) '
           f'ON CONFLICT ("call_id") DO UPDATE SET {changes}')
    return text(sql).bindparams(*(bindparam(n, type_=_t.c[n].type) for n in names))


def _values(r: CallRecord) -> dict[str, Any]:
    return {
        "call_id": r.call_id, "channel": r.channel, "caller": r.caller,
        "caller_name": r.caller_name, "language": r.language, "arrived_at": r.arrived_at,
        "ended_at": r.ended_at, "path": json_text(r.path), "queue": r.queue,
        "priority": r.priority, "outcome": r.outcome, "hangup_node": r.hangup_node,
        "ivr_ms": r.ivr_ms, "flow_version": r.flow_version, "variables": json_text(r.variables),
        "survey_score": r.survey_score, "route_reasons": json_text(lines_json(r.route_reasons)),
        "operator": r.operator, "answered_at": r.answered_at, "wait_seconds": r.wait_seconds,
        "talk_seconds": r.talk_seconds, "skill": r.skill,
        # Written by what app_queue reports; a save of the IVR's record keeps it.
        "queue_outcome": json_text(lines_json(r.queue_outcome)) if r.queue_outcome else None,
        "recording": r.recording, "recording_status": r.recording_status,
    }


def record_of(row: RowMapping | dict[str, Any]) -> CallRecord:
    """A call record from its row (the quality search reads calls too)."""
    return _record(row)


def _record(row: RowMapping | dict[str, Any]) -> CallRecord:
    values = dict(row)
    for name in ("path", "variables"):
        values[name] = json.loads(values[name])
    values["route_reasons"] = lines_from_json(json.loads(values["route_reasons"]))
    values["queue_outcome"] = lines_from_json(json.loads(values["queue_outcome"] or "[]"))
    return CallRecord(**values)
