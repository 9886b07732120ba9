"""Emergency bulletins: their texts per language, their window, and who withdrew them when."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from ivr.core.records import Bulletin
from ivr.edges.storage import tables
from ivr.edges.storage.database import Database, insert_returning_id
from ivr.edges.storage.tables import json_text, utc_text
from ivr.errors import RecordNotFound, RecordRefused

_t = tables.bulletins
_COLUMNS = (
    _t.c.id, _t.c.texts, _t.c.starts_at, _t.c.expires_at, _t.c.created_by, _t.c.created_at,
    _t.c.withdrawn_at,
)


class Bulletins:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, texts: Mapping[str, str], starts_at: datetime, expires_at: datetime,
        created_by: str, now: datetime,
    ) -> Bulletin:
        if expires_at <= starts_at:
            raise RecordRefused("a bulletin must expire after it starts")
        if not any(t.strip() for t in texts.values()):
            raise RecordRefused("a bulletin needs a text in at least one language")
        bulletin = Bulletin(0, dict(texts), utc_text(starts_at), utc_text(expires_at),
                            created_by, utc_text(now))
        values = {"texts": json_text(bulletin.texts), "starts_at": bulletin.starts_at,
                  "expires_at": bulletin.expires_at, "created_by": created_by,
                  "created_at": bulletin.created_at, "withdrawn_at": None}
        row_id = await self._db.write(insert_returning_id, _t, values)
        return dataclasses.replace(bulletin, id=row_id)

    async def active(self, now: datetime) -> list[Bulletin]:
        """Bulletins started, not expired and not withdrawn at ``now``, newest first."""
        stamp = utc_text(now)
        return await self._db.read(
            self._where,
            (_t.c.starts_at <= stamp) & (_t.c.expires_at > stamp) & _t.c.withdrawn_at.is_(None),
            None,
        )

    async def latest(self, limit: int = 50) -> list[Bulletin]:
        """The latest bulletins whatever their state, newest first."""
        return await self._db.read(self._where, None, max(0, limit))

    @staticmethod
    def _where(conn: Connection, where: Any, limit: int | None) -> list[Bulletin]:
        query = select(*_COLUMNS).order_by(_t.c.id.desc())
        if where is not None:
            query = query.where(where)
        if limit is not None:
            query = query.limit(limit)
        return [_bulletin(row) for row in conn.execute(query)]

    async def withdraw(self, bulletin_id: int, now: datetime) -> Bulletin:
        """Stop a bulletin; withdrawing it again keeps the first withdrawal time."""
        stamp = utc_text(now)

        def run(conn: Connection) -> Bulletin:
            conn.execute(update(_t)
                         .where((_t.c.id == bulletin_id) & _t.c.withdrawn_at.is_(None))
                         .values(withdrawn_at=stamp))
            row = conn.execute(select(*_COLUMNS).where(_t.c.id == bulletin_id)).first()
            if row is None:
                raise RecordNotFound(f"no bulletin #{bulletin_id}")
            return _bulletin(row)
        return await self._db.write(run)


def _bulletin(row: Any) -> Bulletin:
    return Bulletin(row.id, json.loads(row.texts), row.starts_at, row.expires_at,
                    row.created_by, row.created_at, row.withdrawn_at)
