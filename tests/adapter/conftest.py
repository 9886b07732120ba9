"""Fixtures of the adapter tests: the real store on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.edges.storage.store import Store, open_store
from tests.pgtools import pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL for an empty database: an SQLite file in the store's state directory, or a fresh
    PostgreSQL one."""
    if request.param == "sqlite":
        yield "sqlite:///calls.sqlite3"
    else:
        with pg_database() as url:
            yield url


@pytest_asyncio.fixture
async def store(database_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    """The store opened (migrated) on ``database_url``, closed after the test."""
    s = open_store(database_url, tmp_path)
    await s.open()
    yield s
    await s.close()
