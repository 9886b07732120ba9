"""The web listener, bounded: at most ``max_connections`` open, none idle for long.

aiohttp by itself keeps any number of connections, and one that never completes a request
for about an hour; every listener of the process shares one file-descriptor budget, so idle
web connections could leave FastAGI unable to accept a call. ``ConnectionGate`` wraps the
protocol factory of aiohttp's server:

- a connection that has sent nothing within ``first_byte_timeout``, or nothing at all for
  ``idle_timeout`` (a console's WebSocket answers the server's heartbeat, the wallboard polls
  every 2 s, so a live page is never idle that long), is closed;
- at ``max_connections``, a new connection first pushes out the oldest one that never sent a
  byte; if every open one has, the new one is closed at once.

The gate only forwards the asyncio protocol calls; aiohttp still parses and serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("ivr.web.listener")


class _Gated(asyncio.Protocol):
    """One connection: forwards everything to aiohttp's protocol once admitted."""

    def __init__(self, gate: ConnectionGate, inner: Any) -> None:
        self._gate = gate
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.opened = self.last_seen = time.monotonic()
        self.spoke = False
        self.admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP server's: a Transport
        if not self._gate.admit(self):
            self.close()
            return
        self.admitted = True
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.last_seen = time.monotonic()
        self.spoke = True
        if self.admitted:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._gate.release(self)
        if self.admitted:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.admitted:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.admitted:
            self.inner.resume_writing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class ConnectionGate:
    """A protocol factory around aiohttp's; see the module docstring."""

    def __init__(self, factory: Callable[[], Any], *, max_connections: int,
                 idle_timeout: float, first_byte_timeout: float) -> None:
        self._factory = factory
        self._max = max_connections
        self._idle = idle_timeout
        self._first_byte = first_byte_timeout
        self._open: dict[_Gated, None] = {}  # oldest first
        self.refused = 0

    def __call__(self) -> _Gated:
        return _Gated(self, self._factory())

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def admit(self, conn: _Gated) -> bool:
        if len(self._open) >= self._max:
            silent = next((c for c in self._open if not c.spoke), None)
            if silent is None:
                self.refused += 1
                log.warning("web_connection_refused", max_connections=self._max)
                return False
            del self._open[silent]
            silent.close()
        self._open[conn] = None
        return True

    def release(self, conn: _Gated) -> None:
        self._open.pop(conn, None)

    def sweep(self) -> int:
        """Close the connections silent or idle past their deadline; how many were closed."""
        now = time.monotonic()
        stale = [c for c in self._open
                 if (not c.spoke and now - c.opened > self._first_byte)
                 or now - c.last_seen > self._idle]
        for conn in stale:
            del self._open[conn]
            conn.close()
        return len(stale)

    async def sweep_forever(self) -> None:
        every = max(0.05, min(self._idle, self._first_byte) / 4)
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):
                closed = self.sweep()
                if closed:
                    log.info("web_connections_closed_idle", closed=closed)
