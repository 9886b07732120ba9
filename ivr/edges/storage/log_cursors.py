"""Where reading one of Asterisk's log files stopped, kept with the records made from it.

The place belongs to the database, not to a node's state directory: a new database (a fresh
install, a test run) starts from the file's end whatever an earlier one read, and a database
restored from a backup reads again what it has not seen.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from ivr.edges.storage import tables
from ivr.edges.storage.database import Database
from ivr.edges.storage.tables import utc_text

_t = tables.log_cursors


class LogCursors:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, name: str) -> tuple[int, int] | None:
        """The ``(offset, inode)`` kept under ``name``; None if nothing was read yet."""
        def run(conn: Connection) -> tuple[int, int] | None:
            row = conn.execute(
                select(_t.c.byte_offset, _t.c.inode).where(_t.c.name == name)).first()
            return None if row is None else (int(row[0]), int(row[1]))
        return await self._db.read(run)

    async def put(self, name: str, offset: int, inode: int, now: datetime) -> None:
        values = {"name": name, "byte_offset": offset, "inode": inode, "updated_at": utc_text(now)}

        def run(conn: Connection) -> None:
            stmt = self._db.insert(_t).values(**values)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=[_t.c.name],
                set_={k: stmt.excluded[k] for k in ("byte_offset", "inode", "updated_at")}))
        await self._db.write(run)
