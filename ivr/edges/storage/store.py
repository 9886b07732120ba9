"""Everything the hotline keeps, one repository per aggregate over one database.

``open_store(url, state_dir)`` builds a store; ``await store.open()`` connects and applies the
migrations; ``await store.close()`` lets go. The composition root hands each part of the
application the repositories it uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text

from ivr.edges.storage.accounts import ApiTokens, Sessions, Users
from ivr.edges.storage.audit import AuditLog
from ivr.edges.storage.bulletins import Bulletins
from ivr.edges.storage.callbacks import Callbacks
from ivr.edges.storage.calls import CallRecords
from ivr.edges.storage.cases import Cases
from ivr.edges.storage.database import Database, DatabaseUrl
from ivr.edges.storage.flow_versions import FlowVersions
from ivr.edges.storage.log_cursors import LogCursors
from ivr.edges.storage.operator_states import OperatorStates
from ivr.edges.storage.reviews import CallReviews


class Store:
    """The database and its repositories."""

    def __init__(self, url: DatabaseUrl) -> None:
        self.database = Database(url)
        self.calls = CallRecords(self.database)
        self.cases = Cases(self.database)
        self.callbacks = Callbacks(self.database)
        self.flow_versions = FlowVersions(self.database, kind="flow")
        self.config_versions = FlowVersions(self.database, kind="config")
        self.users = Users(self.database)
        self.sessions = Sessions(self.database)
        self.api_tokens = ApiTokens(self.database)
        self.audit = AuditLog(self.database)
        self.bulletins = Bulletins(self.database)
        self.operator_states = OperatorStates(self.database)
        self.log_cursors = LogCursors(self.database)
        self.reviews = CallReviews(self.database)

    @property
    def url(self) -> str:
        """The database URL with the password hidden, for logs."""
        return self.database.url.masked

    @property
    def path(self) -> Path | None:
        """The SQLite file; None for PostgreSQL."""
        return self.database.url.path

    async def open(self) -> None:
        """Connect and bring the schema up to date (creating an SQLite file if needed)."""
        await self.database.open()

    async def close(self) -> None:
        await self.database.close()

    async def schema_version(self) -> int:
        """The newest migration applied to this database."""
        return await self.database.read(
            lambda conn: int(conn.execute(text("SELECT MAX(version) FROM schema_version"))
                             .scalar() or 0)
        )


def open_store(target: str | Path, state_dir: Path | None = None) -> Store:
    """A store for ``target`` (not yet connected: ``await store.open()``): a database URL
    (``sqlite:///name.db`` relative to ``state_dir``, ``sqlite:////abs/name.db``,
    ``postgresql://user:password@host:port/dbname``) or the ``Path`` of an SQLite file."""
    return Store(DatabaseUrl.parse(target, state_dir))


@asynccontextmanager
async def opened_store(target: str | Path, state_dir: Path | None = None) -> AsyncIterator[Store]:
    """``open_store`` opened for the block and closed after it (the command line's jobs)."""
    store = open_store(target, state_dir)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
