"""Call records in SQLite: the only module that speaks SQL.

All SQL is parameterised (caller data is never interpolated). sqlite3 blocks, so every call
runs on one dedicated worker thread that owns the connection; the event loop only awaits.
Schema changes are versioned migrations applied in order at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.errors import StorageError
from ivr.flow.engine import luhn_check_digit

MIGRATIONS: Sequence[str] = (
    """
    CREATE TABLE calls (
        call_id      TEXT PRIMARY KEY,
        channel      TEXT NOT NULL,
        caller       TEXT NOT NULL,
        caller_name  TEXT NOT NULL DEFAULT '',
        language     TEXT NOT NULL,
        arrived_at   TEXT NOT NULL,
        ended_at     TEXT,
        path         TEXT NOT NULL DEFAULT '[]',
        queue        TEXT,
        priority     INTEGER,
        outcome      TEXT NOT NULL,
        hangup_node  TEXT,
        ivr_ms       INTEGER
    );
    CREATE INDEX calls_caller ON calls (caller);
    """,
    """
    ALTER TABLE calls ADD COLUMN flow_version INTEGER;
    ALTER TABLE calls ADD COLUMN variables TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE calls ADD COLUMN survey_score INTEGER;
    CREATE TABLE cases (
        number       TEXT PRIMARY KEY,
        call_id      TEXT,
        caller       TEXT NOT NULL,
        category     TEXT NOT NULL,
        department   TEXT NOT NULL DEFAULT '',
        description  TEXT NOT NULL DEFAULT '',
        status       TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        satisfaction INTEGER
    );
    CREATE INDEX cases_caller ON cases (caller);
    CREATE INDEX cases_call ON cases (call_id);
    CREATE TABLE case_sequence (day TEXT PRIMARY KEY, last INTEGER NOT NULL);
    CREATE TABLE flow_versions (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        flow         TEXT NOT NULL,
        version      TEXT NOT NULL,
        digest       TEXT NOT NULL,
        text         TEXT NOT NULL,
        published_by TEXT NOT NULL,
        published_at TEXT NOT NULL,
        note         TEXT NOT NULL DEFAULT ''
    );
    """,
    """
    ALTER TABLE calls ADD COLUMN route_reasons TEXT NOT NULL DEFAULT '[]';
    """,
    """
    CREATE TABLE callbacks (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id      TEXT NOT NULL,
        number       TEXT NOT NULL,
        skill        TEXT NOT NULL,
        priority     INTEGER NOT NULL,
        position     INTEGER NOT NULL,
        arrived_at   TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        status       TEXT NOT NULL,
        attempts     TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX callbacks_status ON callbacks (status);
    """,
)
# A case moves new -> dispatched -> in_progress -> resolved -> closed.
CASE_STATUSES = ("new", "dispatched", "in_progress", "resolved", "closed")
OPEN_CASE_STATUSES = ("new", "dispatched", "in_progress")
# Cases a day a number can tell apart: 5 digits of sequence (Beijing: ~65,000 a day).
MAX_CASES_PER_DAY = 99_999


@dataclass(slots=True)
class CallRecord:
    """What the IVR did with one call."""

    call_id: str
    channel: str
    caller: str
    language: str
    arrived_at: str
    caller_name: str = ""
    ended_at: str | None = None
    path: list[str] = field(default_factory=list)
    queue: str | None = None
    priority: int | None = None
    outcome: str = "in_progress"
    hangup_node: str | None = None
    ivr_ms: int | None = None
    flow_version: int | None = None
    variables: dict[str, str] = field(default_factory=dict)
    survey_score: int | None = None
    route_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Case:
    number: str
    caller: str
    category: str
    status: str
    created_at: str
    updated_at: str
    call_id: str | None = None
    department: str = ""
    description: str = ""
    satisfaction: int | None = None


@dataclass(slots=True)
class CallbackRequest:
    """A citizen who chose to be called back instead of waiting; keeps their place."""

    id: int
    call_id: str
    number: str
    skill: str
    priority: int
    position: int
    arrived_at: str
    requested_at: str
    status: str  # waiting (in the queue as a stand-in), done, failed
    attempts: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FlowVersion:
    id: int
    flow: str
    version: str
    digest: str
    text: str
    published_by: str
    published_at: str
    note: str = ""


def case_number(day_of_year: int, year: int, sequence: int) -> str:
    """10 digits: last digit of the year, day of the year, 5-digit sequence, Luhn check digit."""
    if not 1 <= sequence <= MAX_CASES_PER_DAY:
        raise StorageError(f"case sequence {sequence} out of range for one day")
    payload = f"{year % 10}{day_of_year:03d}{sequence:05d}"
    return payload + luhn_check_digit(payload)

def sqlite_path(url: str, state_dir: Path) -> Path:
    """``sqlite:///name.db`` (relative to the state dir) or ``sqlite:////abs/path.db``."""
    if not url.startswith("sqlite:///"):
        raise StorageError(f"unsupported database URL {url!r} (this release: sqlite:///...)")
    raw = url.removeprefix("sqlite:///")
    path = Path(raw)
    return path if path.is_absolute() else state_dir / path


class CallStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, *args)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {exc}") from exc

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = row[0] or 0
        for version, script in enumerate(MIGRATIONS, start=1):
            if version > current:
                # One transaction per migration, version included; the SQL is this module's
                # own constants and an int, never outside input.
                db.executescript(
                    f"BEGIN; {script}; INSERT INTO schema_version VALUES ({int(version)}); "  # noqa: S608
                    "COMMIT;"
                )
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._pool.shutdown(wait=True)

    async def save(self, record: CallRecord) -> None:
        await self._run(self._save, record)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError(f"{self.path}: the call store is not open")
        return self._db

    def _save(self, r: CallRecord) -> None:
        self._connection().execute(
            """INSERT INTO calls (call_id, channel, caller, caller_name, language, arrived_at,
                   ended_at, path, queue, priority, outcome, hangup_node, ivr_ms,
                   flow_version, variables, survey_score, route_reasons)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (call_id) DO UPDATE SET ended_at = excluded.ended_at,
                   path = excluded.path, queue = excluded.queue, priority = excluded.priority,
                   outcome = excluded.outcome, hangup_node = excluded.hangup_node,
                   ivr_ms = excluded.ivr_ms, language = excluded.language,
                   flow_version = excluded.flow_version, variables = excluded.variables,
                   survey_score = excluded.survey_score,
                   route_reasons = excluded.route_reasons""",
            (r.call_id, r.channel, r.caller, r.caller_name, r.language, r.arrived_at,
             r.ended_at, json.dumps(r.path, ensure_ascii=False), r.queue, r.priority,
             r.outcome, r.hangup_node, r.ivr_ms, r.flow_version,
             json.dumps(r.variables, ensure_ascii=False), r.survey_score,
             json.dumps(r.route_reasons, ensure_ascii=False)),
        )

    async def get(self, call_id: str) -> CallRecord | None:
        rows: list[CallRecord] = await self._run(
            self._select, "SELECT * FROM calls WHERE call_id = ?", (call_id,)
        )
        return rows[0] if rows else None

    async def by_caller(self, caller: str) -> list[CallRecord]:
        rows: list[CallRecord] = await self._run(
            self._select, "SELECT * FROM calls WHERE caller = ? ORDER BY arrived_at", (caller,)
        )
        return rows

    def _select(self, sql: str, params: tuple[str, ...]) -> list[CallRecord]:
        cursor = self._connection().execute(sql, params)
        names = [d[0] for d in cursor.description]
        out = []
        for row in cursor.fetchall():
            values = dict(zip(names, row, strict=True))
            values["path"] = json.loads(values["path"])
            values["variables"] = json.loads(values["variables"])
            values["route_reasons"] = json.loads(values["route_reasons"])
            out.append(CallRecord(**values))
        return out

    # -- cases -----------------------------------------------------------------------------

    async def create_case(
        self, *, caller: str, category: str, department: str = "", description: str = "",
        call_id: str | None = None, now: datetime,
    ) -> Case:
        """A new case with the next number of the day; the number is what the citizen keys in."""
        case: Case = await self._run(
            self._create_case, caller, category, department, description, call_id, now
        )
        return case

    def _create_case(  # noqa: PLR0917 - runs on the worker thread, called positionally
        self, caller: str, category: str, department: str, description: str,
        call_id: str | None, now: datetime,
    ) -> Case:
        db = self._connection()
        day = now.date().isoformat()
        stamp = now.isoformat(timespec="seconds")
        with _transaction(db):
            db.execute(
                "INSERT INTO case_sequence (day, last) VALUES (?, 1) "
                "ON CONFLICT (day) DO UPDATE SET last = last + 1", (day,),
            )
            (sequence,) = db.execute(
                "SELECT last FROM case_sequence WHERE day = ?", (day,)
            ).fetchone()
            number = case_number(now.timetuple().tm_yday, now.year, sequence)
            db.execute(
                """INSERT INTO cases (number, call_id, caller, category, department,
                       description, status, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, 'new', ?, ?)""",
                (number, call_id, caller, category, department, description, stamp, stamp),
            )
        return Case(number, caller, category, "new", stamp, stamp, call_id, department,
                    description)

    async def set_case_status(self, number: str, status: str, now: datetime) -> None:
        if status not in CASE_STATUSES:
            raise StorageError(f"unknown case status {status!r}")
        await self._run(
            self._execute, "UPDATE cases SET status = ?, updated_at = ? WHERE number = ?",
            (status, now.isoformat(timespec="seconds"), number),
        )

    async def get_case(self, number: str) -> Case | None:
        rows: list[Case] = await self._run(self._cases, _CASE_BY_NUMBER, (number,))
        return rows[0] if rows else None

    async def cases_of(self, caller: str) -> list[Case]:
        rows: list[Case] = await self._run(
            self._cases, _CASE_BY_CALLER, (caller,)
        )
        return rows

    def _cases(self, sql: str, params: tuple[str, ...]) -> list[Case]:
        cursor = self._connection().execute(sql, params)
        return [Case(*row) for row in cursor.fetchall()]

    async def record_survey(self, call_id: str, score: int) -> None:
        """The 1-5 satisfaction score, stored with the call and with the case it opened."""
        await self._run(self._record_survey, call_id, score)

    def _record_survey(self, call_id: str, score: int) -> None:
        db = self._connection()
        with _transaction(db):
            db.execute("UPDATE calls SET survey_score = ? WHERE call_id = ?", (score, call_id))
            db.execute("UPDATE cases SET satisfaction = ? WHERE call_id = ?", (score, call_id))

    def _execute(self, sql: str, params: tuple[object, ...]) -> None:
        self._connection().execute(sql, params)

    # -- callbacks --------------------------------------------------------------------------

    async def add_callback(
        self, *, call_id: str, number: str, skill: str, priority: int, position: int,
        arrived_at: str, requested_at: str,
    ) -> CallbackRequest:
        row_id: int = await self._run(
            self._insert_callback, call_id, number, skill, priority, position, arrived_at,
            requested_at,
        )
        return CallbackRequest(row_id, call_id, number, skill, priority, position, arrived_at,
                               requested_at, "waiting")

    def _insert_callback(self, *values: object) -> int:
        cursor = self._connection().execute(
            """INSERT INTO callbacks (call_id, number, skill, priority, position, arrived_at,
                   requested_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'waiting')""", values,
        )
        return int(cursor.lastrowid or 0)

    async def update_callback(self, request: CallbackRequest) -> None:
        await self._run(
            self._execute, "UPDATE callbacks SET status = ?, attempts = ? WHERE id = ?",
            (request.status, json.dumps(request.attempts, ensure_ascii=False), request.id),
        )

    async def callbacks(self, status: str | None = None) -> list[CallbackRequest]:
        rows: list[CallbackRequest] = await self._run(self._callbacks, status)
        return rows

    def _callbacks(self, status: str | None) -> list[CallbackRequest]:
        sql = ("SELECT id, call_id, number, skill, priority, position, arrived_at, "
               "requested_at, status, attempts FROM callbacks")
        cursor = (self._connection().execute(sql + " WHERE status = ? ORDER BY id", (status,))
                  if status else self._connection().execute(sql + " ORDER BY id"))
        return [
            CallbackRequest(
                id=row[0], call_id=row[1], number=row[2], skill=row[3], priority=row[4],
                position=row[5], arrived_at=row[6], requested_at=row[7], status=row[8],
                attempts=json.loads(row[9]),
            )
            for row in cursor.fetchall()
        ]

    # -- flow versions ---------------------------------------------------------------------

    async def add_flow_version(
        self, *, flow: str, version: str, digest: str, text: str, published_by: str,
        published_at: datetime, note: str = "",
    ) -> FlowVersion:
        row_id: int = await self._run(
            self._insert_flow_version, flow, version, digest, text, published_by,
            published_at.isoformat(timespec="seconds"), note,
        )
        return FlowVersion(row_id, flow, version, digest, text, published_by,
                           published_at.isoformat(timespec="seconds"), note)

    def _insert_flow_version(self, *values: str) -> int:
        cursor = self._connection().execute(
            """INSERT INTO flow_versions (flow, version, digest, text, published_by,
                   published_at, note) VALUES (?, ?, ?, ?, ?, ?, ?)""", values,
        )
        return int(cursor.lastrowid or 0)

    async def flow_versions(self, flow: str) -> list[FlowVersion]:
        """Every published version of ``flow``, oldest first."""
        rows: list[FlowVersion] = await self._run(self._flow_versions, flow)
        return rows

    def _flow_versions(self, flow: str) -> list[FlowVersion]:
        cursor = self._connection().execute(
            "SELECT id, flow, version, digest, text, published_by, published_at, note "
            "FROM flow_versions WHERE flow = ? ORDER BY id", (flow,),
        )
        return [FlowVersion(*row) for row in cursor.fetchall()]


_CASE_COLUMNS = (
    "number, caller, category, status, created_at, updated_at, call_id, department, "
    "description, satisfaction"
)
_CASE_BY_NUMBER = f"SELECT {_CASE_COLUMNS} FROM cases WHERE number = ?"  # noqa: S608
_CASE_BY_CALLER = f"SELECT {_CASE_COLUMNS} FROM cases WHERE caller = ? ORDER BY created_at"  # noqa: S608


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
