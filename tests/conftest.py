"""Shared fixtures. The event-loop guard fails any test whose code blocks the loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

# A callback that holds the loop this long is a bug (Vosk, SQL or file work on the loop).
SLOW_CALLBACK = 0.25


@pytest.fixture(autouse=True)
def _loop_must_not_block(request: pytest.FixtureRequest) -> Iterator[None]:
    """Async tests run with asyncio debug's slow-callback detector; a hit fails the test."""
    if not asyncio.iscoroutinefunction(getattr(request.node, "obj", None)):
        yield
        return
    slow: list[str] = []
    original = asyncio.events.Handle._run

    def timed(handle: asyncio.events.Handle) -> None:
        start = time.perf_counter()
        original(handle)
        spent = time.perf_counter() - start
        if spent > SLOW_CALLBACK:
            slow.append(f"{handle!r} held the loop {spent:.2f} s")

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        asyncio.events.Handle._run = original  # type: ignore[method-assign]
    assert not slow, "event loop blocked:\n" + "\n".join(slow)
