"""The audit log: who changed what, when, with the details."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, func, select

from ivr.core.records import AuditEntry
from ivr.edges.storage import tables
from ivr.edges.storage.database import Database
from ivr.edges.storage.tables import json_text, utc_text

_t = tables.audit


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self, actor: str, action: str, target: str, detail: Mapping[str, object],
        now: datetime,
    ) -> None:
        values = {"at": utc_text(now), "actor": actor, "action": action, "target": target,
                  "detail": json_text(dict(detail))}
        await self._db.write(lambda conn: conn.execute(_t.insert().values(**values)))

    async def latest(self, limit: int = 200, offset: int = 0) -> list[AuditEntry]:
        """The latest entries, newest first, a page at a time (``offset`` skipped)."""
        def run(conn: Connection) -> list[AuditEntry]:
            rows = conn.execute(
                select(_t.c.id, _t.c.at, _t.c.actor, _t.c.action, _t.c.target, _t.c.detail)
                .order_by(_t.c.id.desc()).limit(max(0, limit)).offset(max(0, offset))
            )
            return [AuditEntry(row.id, row.at, row.actor, row.action, row.target,
                               json.loads(row.detail)) for row in rows]
        return await self._db.read(run)

    async def count(self) -> int:
        """How many entries ``latest`` pages through."""
        query = select(func.count()).select_from(_t)
        return await self._db.read(lambda conn: int(conn.execute(query).scalar_one()))
