"""A fresh PostgreSQL database per test, on this machine's server.

Usage (any test directory)::

    from tests.pgtools import pg_database

    @pytest.fixture
    def database_url() -> Iterator[str]:
        with pg_database() as url:      # "postgresql://postgres@127.0.0.1:5432/ivr_test_..."
            yield url

    # then: store = open_store(database_url, tmp_path); await store.open() ...

``pg_database()`` makes sure the server answers (starting the local cluster with
``pg_ctlcluster`` if it does not), creates a uniquely named UTF-8 database, yields its URL
(``postgresql://``, which ``ivr.edges.storage.store.open_store`` accepts as is) and drops it
afterwards, even if connections are still open. It is synchronous: call it from a sync
fixture (as above), never from a coroutine. The server is ``IVR_TEST_POSTGRES`` (an admin URL,
default ``postgresql://postgres@127.0.0.1:5432/postgres``, trust authentication).

There is no skip: when PostgreSQL cannot be reached or started, the test fails and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

ADMIN_URL = os.environ.get(
    "IVR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
START_DEADLINE = 30.0


def _connect() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)


def ensure_server() -> None:
    """Return once the server answers; start the local cluster first if it does not."""
    try:
        with _connect():
            return
    except psycopg.OperationalError as exc:
        first_error = exc
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*")) if Path(
        "/etc/postgresql").is_dir() else []
    if not versions:
        pytest.fail(
            f"PostgreSQL is not reachable at {ADMIN_URL} ({first_error}) and no local cluster "
            "is installed under /etc/postgresql to start; install postgresql or set "
            "IVR_TEST_POSTGRES", pytrace=False,
        )
    started = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    deadline = time.monotonic() + START_DEADLINE
    while True:
        try:
            with _connect():
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"PostgreSQL is not reachable at {ADMIN_URL}: {exc}; starting the cluster "
                    f"{versions[-1]}/main said: {(started.stderr or started.stdout).strip()}",
                    pytrace=False,
                )
            time.sleep(0.2)


@contextlib.contextmanager
def pg_database(prefix: str = "ivr_test") -> Iterator[str]:
    """A new empty database for the duration of the block; yields its ``postgresql://`` URL."""
    ensure_server()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with _connect() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
            sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))
    finally:
        with _connect() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


class Proxy:
    """A TCP relay in front of PostgreSQL that can cut every link and refuse new ones."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._parts = parts
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.up = True
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.url = ""
        self.kind = "postgresql"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        user = f"{self._parts.username}@" if self._parts.username else ""
        self.url = urlunsplit(self._parts._replace(netloc=f"{user}127.0.0.1:{port}"))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            if not self.up:
                writer.transport.abort()
                return
            await self._flowing.wait()  # stalled: the connection is accepted, then nothing
            try:
                up_reader, up_writer = await asyncio.open_connection(*self._target)
            except OSError:
                writer.transport.abort()
                return
            link = (writer, up_writer)
            self._links.add(link)
            pipes = {asyncio.create_task(_pipe(reader, up_writer, self._flowing)),
                     asyncio.create_task(_pipe(up_reader, writer, self._flowing))}
            try:
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._links.discard(link)
                for pipe in pipes:
                    pipe.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
                writer.transport.abort()
                up_writer.transport.abort()
        finally:
            self._handlers.discard(task)

    async def begin(self) -> None:
        """The database goes away: open connections are cut, new ones refused."""
        self.up = False
        for client, server in list(self._links):
            client.transport.abort()
            server.transport.abort()

    async def end(self) -> None:
        self.up = True

    async def stall(self) -> None:
        """The database stops answering but stays reachable: open connections stay open and
        carry nothing either way, new ones are accepted and then get nothing."""
        self._flowing.clear()

    async def resume(self) -> None:
        """What waited flows on."""
        self._flowing.set()

    async def close(self) -> None:
        await self.begin()
        self._flowing.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await asyncio.gather(*list(self._handlers), return_exceptions=True)


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event
) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            await flowing.wait()
            writer.write(data)
            await writer.drain()
