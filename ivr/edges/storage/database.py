"""The database: its URL (parsed here, once, for the store and the event bus), the engine and
its worker threads, one transaction per call, and the translation of driver errors.

Theory of operation
    SQLAlchemy's engine is synchronous, so every database call runs on this database's own
    worker threads (one for SQLite, whose writes are serialised anyway; a few for PostgreSQL,
    one pooled connection each); the event loop only awaits. Every call is one transaction.
    SQLite runs in WAL mode with foreign keys on, and its writing transactions start with
    ``BEGIN IMMEDIATE`` so two processes never deadlock upgrading a read lock.

    Driver and SQLAlchemy errors become ``StorageError`` with the database (password masked)
    and the driver's message; SQL parameters and passwords never appear in messages.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from ivr.edges.files import make_private
from ivr.edges.storage.migrations import migrate
from ivr.edges.threads import STORE, named_pool
from ivr.errors import StorageError

T = TypeVar("T")
Backend = Literal["sqlite", "postgresql"]
PG_THREADS = 4


def mask(raw: str) -> str:
    """A database URL fit for a message: the password hidden."""
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A database URL the hotline can use, parsed once (``parse``).

    ``sqlite:///name.db`` is relative to the state directory, ``sqlite:////abs/name.db``
    absolute; ``postgresql://user:password@host:port/dbname`` (``postgresql+psycopg://`` too)
    uses psycopg 3.
    """

    backend: Backend
    sqlalchemy: URL = field(repr=False)
    """What SQLAlchemy connects to (the psycopg driver named for PostgreSQL)."""
    masked: str
    """The URL with the password hidden, for logs and messages."""

    @classmethod
    def parse(cls, target: str | Path, state_dir: Path | None = None) -> DatabaseUrl:
        """``target`` is a URL, or (an older spelling) the ``Path`` of an SQLite file; a
        relative SQLite file is in ``state_dir`` (left relative without one: the event bus
        only needs to know the backend). ``StorageError`` when it is not a usable URL (the
        message never shows a password)."""
        if isinstance(target, Path):
            return cls._of(URL.create("sqlite", database=str(target)))
        try:
            url = make_url(target)
        except ArgumentError as exc:
            raise StorageError(
                "unparsable database URL (use sqlite:///name.db or postgresql://host/dbname)"
            ) from exc
        backend, driver = url.get_backend_name(), url.get_driver_name()
        if backend == "sqlite" and driver in {"sqlite", "pysqlite"}:
            if not url.database or url.database == ":memory:":
                raise StorageError(
                    "the SQLite database URL names no file (sqlite:///name.db, relative to the "
                    "state directory, or sqlite:////absolute/name.db)"
                )
            path = Path(url.database)
            if not path.is_absolute() and state_dir is not None:
                path = state_dir / path
            return cls._of(URL.create("sqlite", database=str(path)))
        if backend == "postgresql" and driver in {"psycopg", "psycopg2", "postgresql", ""}:
            if not url.database:
                raise StorageError(f"{mask(target)}: the PostgreSQL URL names no database")
            return cls._of(url.set(drivername="postgresql+psycopg"))
        raise StorageError(
            f"unsupported database URL {mask(target)!r} "
            "(use sqlite:///name.db or postgresql://user@host/dbname)"
        )

    @classmethod
    def _of(cls, url: URL) -> DatabaseUrl:
        backend: Backend = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"
        return cls(backend, url, url.render_as_string(hide_password=True))

    @property
    def path(self) -> Path | None:
        """The SQLite file; None for PostgreSQL."""
        return Path(self.sqlalchemy.database or "") if self.backend == "sqlite" else None

    @property
    def password(self) -> str | None:
        return self.sqlalchemy.password

    @property
    def libpq(self) -> str:
        """The URL as libpq (psycopg's own connections, the event bus) takes it, password
        included: never log it."""
        return self.sqlalchemy.set(drivername="postgresql").render_as_string(hide_password=False)


class Database:
    """One database, reached through SQLAlchemy on worker threads; see the module docstring.

    ``open`` connects and brings the schema up to date (``ivr.edges.storage.migrations``);
    ``read``/``write`` run ``fn(connection, *args)`` in one transaction on a worker thread.
    """

    def __init__(self, url: DatabaseUrl) -> None:
        self.url = url
        # Named for the kernel too, so the store's CPU is told apart from the loop's.
        self._pool = named_pool(1 if url.backend == "sqlite" else PG_THREADS, STORE)
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()

    def describe(self, exc: BaseException) -> str:
        """The driver's own words without the SQL, its parameters or the password."""
        if isinstance(exc, DBAPIError) and exc.orig is not None:
            message = str(exc.orig)
        elif isinstance(exc, SQLAlchemyError):
            message = exc.args[0] if exc.args else type(exc).__name__
            message = str(message).split("\n[SQL:")[0]
        else:
            message = str(exc)
        message = " ".join(message.split()) or type(exc).__name__
        secret = self.url.password
        if secret:
            message = message.replace(secret, "***")
        return f"{self.url.masked}: {message}"

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, *args)
        except (SQLAlchemyError, ImportError, OSError) as exc:
            raise StorageError(self.describe(exc)) from exc

    def _connected(self) -> Engine:
        if self._engine is None:
            raise StorageError(f"{self.url.masked}: the store is not open")
        return self._engine

    def _tx(self, write: bool, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` in one transaction, on a worker thread."""
        with self._connected().connect() as conn:
            if write:
                conn.execution_options(ivr_write=True)
            with conn.begin():
                return fn(conn, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._run(self._tx, True, fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._run(self._tx, False, fn, *args)

    def insert(self, table: Table) -> Any:
        """An INSERT that knows ON CONFLICT in this database's dialect."""
        if self.url.backend == "postgresql":
            return pg_dialect.insert(table)
        return sqlite_dialect.insert(table)

    async def open(self) -> None:
        """Connect and bring the schema up to date (creating an SQLite file if needed)."""
        await self._run(self._open)

    def _open(self) -> None:
        with self._engine_lock:
            if self._engine is not None:
                return
            engine = self._create_engine()
            try:
                migrate(engine, self.url.backend, self.url.masked)
            except BaseException:
                engine.dispose()
                raise
            self._engine = engine

    def _create_engine(self) -> Engine:
        path = self.url.path
        if path is not None:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if str(path) not in {"", ":memory:"}:
                # Callers, transcripts and password hashes: 0600 from the file's creation
                # (SQLite gives its -wal and -shm files the database file's mode).
                make_private(path)
            # One worker thread uses the file; a fresh connection per call would re-run the
            # PRAGMAs and lose SQLite's page cache, so the pool keeps one.
            engine = create_engine(
                self.url.sqlalchemy, connect_args={"check_same_thread": False, "timeout": 5},
                pool_size=1, max_overflow=0,
            )
            event.listen(engine, "connect", _sqlite_connected)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        return create_engine(
            self.url.sqlalchemy, pool_size=PG_THREADS, max_overflow=0, pool_pre_ping=True,
            connect_args={"connect_timeout": 10, "application_name": "ivr"},
        )

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        # Queries still running finish (and give their connection back) before the pool of
        # connections is closed: none is left open.
        await asyncio.to_thread(self._pool.shutdown, True)
        if engine is not None:
            await asyncio.to_thread(engine.dispose)


def insert_returning_id(conn: Connection, table: Table, values: dict[str, Any]) -> int:
    """INSERT one row; its new ``id``."""
    return int(conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one())


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is off; _sqlite_begin says BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # WAL sticks to the file once set. Switching needs the file to itself and SQLite does
        # not wait for that, so a process opening a new file next to another one retries.
        deadline = time.monotonic() + 5
        while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock up front: a reader upgrading later could deadlock another
    # process (the admin CLI) and fail with "database is locked" instead of waiting.
    write = conn.get_execution_options().get("ivr_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
