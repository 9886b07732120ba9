"""Privacy retention: call records older than ``[privacy] keep_days`` lose what identifies
the caller and what they said (``CallRecords.forget_before``), in bounded batches each in its
own transaction (in the database's thread, never on the event loop), by the leading node
only, every ``CHECK_SECONDS``; every pass that cleared something leaves one audit entry with
the count. The figures (times, queue, outcome, operator) stay."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import structlog

from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.storage.audit import AuditLog
from ivr.edges.storage.calls import CallRecords
from ivr.errors import StorageError

log = structlog.get_logger("ivr.calls.retention")

ACTOR = "system:retention"
CHECK_SECONDS = 3600.0
# Not leading (yet), or the database failed: looked at again this soon.
LEADER_WAIT_SECONDS = 60.0
# Calls cleared per transaction, and transactions per pass (the rest waits for the next).
BATCH = 500
BATCHES_PER_PASS = 20


class Retention:
    def __init__(
        self, calls: CallRecords, audit: AuditLog, keep_days: Callable[[], int], *,
        leads: Callable[[], bool], clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._calls = calls
        self._audit = audit
        self._keep_days = keep_days
        self._leads = leads
        self._clock = clock

    async def purge(self) -> int:
        """One pass: how many calls were cleared (0 when retention is off or nothing is old)."""
        days = self._keep_days()
        if days <= 0:
            return 0
        now = self._clock.now()
        cutoff = now - timedelta(days=days)
        cleared = 0
        for _ in range(BATCHES_PER_PASS):
            done = await self._calls.forget_before(cutoff, BATCH)
            cleared += done
            if done < BATCH:
                break
        if cleared:
            await self._audit.record(ACTOR, "privacy_purge", "calls", {
                "calls": cleared, "arrived_before": cutoff.isoformat(timespec="seconds"),
                "keep_days": days}, now)
            log.info("privacy_purge", calls=cleared, keep_days=days)
        return cleared

    async def run(self) -> None:
        """Purge on the leading node until cancelled; a database outage is logged and the next
        pass tries again."""
        while True:
            wait = LEADER_WAIT_SECONDS
            if self._leads():
                try:
                    await self.purge()
                    wait = CHECK_SECONDS
                except StorageError as exc:
                    log.warning("privacy_purge_failed", error=str(exc))
            await asyncio.sleep(wait)
