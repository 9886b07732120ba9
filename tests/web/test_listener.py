"""The web listener is bounded: idle connections cannot use up the process's files."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from ivr.web import WebServer


@pytest.fixture
def database_url() -> str:
    return "sqlite:///web.sqlite3"  # the listener does not depend on the database


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), within) == b""
    except ConnectionError:
        return True
    except TimeoutError:
        return False


async def test_three_hundred_idle_connections_leave_room_for_a_page(hotline) -> None:
    """300 connections that never send a byte against a cap of 100: only the newest 100 stay
    open (the oldest are closed to make room), and a real page still loads at once."""
    server = WebServer(hotline.services(), "127.0.0.1", 0, max_connections=100,
                       idle_timeout=60.0)
    await server.start()
    idle = []
    try:
        idle += [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(300)]
        await asyncio.sleep(0.2)
        assert server.gate is not None
        assert server.gate.open_connections <= 100
        started = time.monotonic()
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{server.port}/login") as response:
            assert response.status == 200
        assert time.monotonic() - started < 2.0
        results = await asyncio.gather(*(closed_by_server(r, 1.0) for r, _ in idle[:150]))
        assert all(results)
    finally:
        for _, writer in idle:
            writer.close()
        await server.stop()


async def test_a_connection_that_stalls_mid_request_is_closed(hotline) -> None:
    """Half a request line, then nothing: closed after the idle deadline, not an hour later;
    a connection that keeps talking is not."""
    server = WebServer(hotline.services(), "127.0.0.1", 0, max_connections=100,
                       idle_timeout=1.0, first_byte_timeout=1.0)
    await server.start()
    try:
        stalled_reader, stalled = await asyncio.open_connection("127.0.0.1", server.port)
        stalled.write(b"GET /login HT")
        silent_reader, silent = await asyncio.open_connection("127.0.0.1", server.port)
        async with aiohttp.ClientSession() as session:
            for _ in range(6):  # a page polling every 0.5 s, as the wallboard does
                async with session.get(f"http://127.0.0.1:{server.port}/login") as response:
                    assert response.status == 200
                await asyncio.sleep(0.5)
            assert await closed_by_server(stalled_reader, 2.0)
            assert await closed_by_server(silent_reader, 2.0)
            async with session.get(f"http://127.0.0.1:{server.port}/login") as response:
                assert response.status == 200  # and pages still load
        stalled.close()
        silent.close()
    finally:
        await server.stop()
