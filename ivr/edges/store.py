"""Call records in SQLite: the only module that speaks SQL.

All SQL is parameterised (caller data is never interpolated). sqlite3 blocks, so every call
runs on one dedicated worker thread that owns the connection; the event loop only awaits.
Schema changes are versioned migrations applied in order at start-up.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.errors import StorageError

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
)


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
                   ended_at, path, queue, priority, outcome, hangup_node, ivr_ms)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (call_id) DO UPDATE SET ended_at = excluded.ended_at,
                   path = excluded.path, queue = excluded.queue, priority = excluded.priority,
                   outcome = excluded.outcome, hangup_node = excluded.hangup_node,
                   ivr_ms = excluded.ivr_ms, language = excluded.language""",
            (r.call_id, r.channel, r.caller, r.caller_name, r.language, r.arrived_at,
             r.ended_at, json.dumps(r.path, ensure_ascii=False), r.queue, r.priority,
             r.outcome, r.hangup_node, r.ivr_ms),
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
            out.append(CallRecord(**values))
        return out
