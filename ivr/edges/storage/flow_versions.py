"""Every published version of a document the hotline runs: its text, who published it, when
and why. Two kinds share the one table and the one record (``FlowVersion``): IVR flows
(``kind="flow"``, by flow name) and configuration files (``kind="config"``, by the name the
admin pages use: ``skills``, ``operators``...)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, select

from ivr.core.records import FlowVersion
from ivr.edges.storage import tables
from ivr.edges.storage.database import Database, insert_returning_id
from ivr.edges.storage.tables import local_text

_t = tables.flow_versions


class FlowVersions:
    def __init__(self, db: Database, kind: Literal["flow", "config"] = "flow") -> None:
        self._db = db
        self._kind = kind

    async def add(
        self, *, flow: str, version: str, digest: str, text: str, published_by: str,
        published_at: datetime, note: str = "",
    ) -> FlowVersion:
        stamp = local_text(published_at)
        values = {"flow": flow, "version": version, "digest": digest, "text": text,
                  "published_by": published_by, "published_at": stamp, "note": note,
                  "kind": self._kind}
        row_id = await self._db.write(insert_returning_id, _t, values)
        return FlowVersion(row_id, flow, version, digest, text, published_by, stamp, note)

    async def of(self, flow: str) -> list[FlowVersion]:
        """Every published version of ``flow`` (of this store's kind), oldest first."""
        def run(conn: Connection) -> list[FlowVersion]:
            rows = conn.execute(
                select(_t.c.id, _t.c.flow, _t.c.version, _t.c.digest, _t.c.text,
                       _t.c.published_by, _t.c.published_at, _t.c.note)
                .where(_t.c.kind == self._kind, _t.c.flow == flow).order_by(_t.c.id)
            )
            return [FlowVersion(*row) for row in rows]
        return await self._db.read(run)
