"""Shared fixtures. The event-loop guard fails any test whose code blocks the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.loopguard import LoopGuard

# A callback that holds the loop this long is a bug (Vosk, SQL or file work on the loop).
SLOW_CALLBACK = 0.25


@pytest.fixture(autouse=True)
def _loop_must_not_block(request: pytest.FixtureRequest) -> Iterator[None]:
    """Async tests run under the loop guard (tests/loopguard.py); a hit fails the test."""
    if not asyncio.iscoroutinefunction(getattr(request.node, "obj", None)):
        yield
        return
    guard = LoopGuard(SLOW_CALLBACK)
    guard.install()
    try:
        yield
    finally:
        guard.uninstall()
    assert not guard.problems, "event loop blocked:\n" + "\n".join(guard.problems)
