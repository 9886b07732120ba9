"""Callbacks that keep their place: the request and every attempt to call the citizen."""

from __future__ import annotations

import json

from sqlalchemy import Connection, select, update

from ivr.core.records import CallbackRequest
from ivr.edges.storage import tables
from ivr.edges.storage.database import Database, insert_returning_id
from ivr.edges.storage.tables import json_text

_t = tables.callbacks


class Callbacks:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, *, call_id: str, number: str, skill: str, priority: int, position: int,
        arrived_at: str, requested_at: str,
    ) -> CallbackRequest:
        values = {"call_id": call_id, "number": number, "skill": skill, "priority": priority,
                  "position": position, "arrived_at": arrived_at,
                  "requested_at": requested_at, "status": "waiting", "attempts": "[]"}
        row_id = await self._db.write(insert_returning_id, _t, values)
        return CallbackRequest(row_id, call_id, number, skill, priority, position, arrived_at,
                               requested_at, "waiting")

    async def update(self, request: CallbackRequest) -> None:
        """Store the request's status and attempts as they are now."""
        values = {"status": request.status, "attempts": json_text(request.attempts)}
        await self._db.write(
            lambda conn: conn.execute(update(_t).where(_t.c.id == request.id).values(**values))
        )

    async def call_of(self, callback_id: int) -> str | None:
        """The call id the callback was requested in (None: no such callback)."""
        rows = await self._db.read(lambda conn: conn.execute(
            select(_t.c.call_id).where(_t.c.id == callback_id)).all())
        return str(rows[0].call_id) if rows else None

    async def listing(self, status: str | None = None) -> list[CallbackRequest]:
        """Every callback (of one status, if given), oldest first."""
        def run(conn: Connection) -> list[CallbackRequest]:
            query = select(_t).order_by(_t.c.id)
            if status:
                query = query.where(_t.c.status == status)
            return [
                CallbackRequest(
                    id=row.id, call_id=row.call_id, number=row.number, skill=row.skill,
                    priority=row.priority, position=row.position, arrived_at=row.arrived_at,
                    requested_at=row.requested_at, status=row.status,
                    attempts=json.loads(row.attempts),
                )
                for row in conn.execute(query)
            ]
        return await self._db.read(run)
