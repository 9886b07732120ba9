"""Reconciliation at start: calls this node had in its IVR when it last stopped (killed,
crashed) are still "in progress" in the records. Asterisk sent them to the general queue; the
record now says so, or that the caller has gone since.

Runs once, after the first AMI login (it asks Asterisk which channels are still up), and looks
at the latest ``LOOKBACK`` records only: nothing at start reads history unbounded.
"""

from __future__ import annotations

import structlog

from ivr.calls.pending_writes import PendingWrites
from ivr.edges.ami import AmiClient
from ivr.edges.clock import Clock
from ivr.edges.storage.calls import CallRecords
from ivr.errors import IvrError, StorageError

log = structlog.get_logger("ivr.calls.reconcile")
LOOKBACK = 5000  # recent call records looked at for ones left "in progress"


class Reconciler:
    def __init__(
        self, ami: AmiClient, calls: CallRecords, writes: PendingWrites, node: str,
        clock: Clock,
    ) -> None:
        self._ami = ami
        self._calls = calls
        self._writes = writes
        self._node = node
        self._clock = clock
        self._done = False

    async def once(self) -> None:
        """Reconcile the first time it is called (an ``on_ready`` hook); later calls do
        nothing."""
        if self._done:
            return
        self._done = True
        started = self._clock.now()
        try:
            live = {m.get("Channel", "") for m in
                    await self._ami.action("CoreShowChannels", as_list=True, timeout=10)
                    if m.get("Event") == "CoreShowChannel"}
            stale = [r for r in await self._calls.recent(LOOKBACK)
                     if r.outcome == "in_progress" and r.variables.get("node") == self._node
                     and r.arrived_at < started.isoformat()]
            for record in stale:
                record.outcome = ("interrupted:general_queue" if record.channel in live
                                  else "interrupted")
                if record.channel not in live:
                    record.ended_at = started.isoformat(timespec="milliseconds")
                await self._writes.save(record)
        except (IvrError, StorageError) as exc:
            log.error("reconcile_failed", error=str(exc))
            return
        if stale:
            log.warning("calls_reconciled", count=len(stale),
                        still_in_queue=sum(r.channel in live for r in stale))
