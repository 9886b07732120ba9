"""Live figures fed from Asterisk: every AMI event applied at the clock's time, and the whole
picture reloaded from a ``QueueStatus`` snapshot after each (re)connect.

Every node keeps its own (its wallboard is right on its own); the figures themselves are the
core's ``LiveFigures``. Waits and talk times also go to the /metrics histograms.
"""

from __future__ import annotations

import structlog

from ivr.core.figures import LiveFigures, Outcome
from ivr.core.protocols.ami import AmiEvent
from ivr.edges.ami import AmiClient
from ivr.edges.clock import Clock
from ivr.edges.metrics import Metrics

log = structlog.get_logger("ivr.operators.live_figures")


class LiveFiguresFeed:
    def __init__(
        self, figures: LiveFigures, ami: AmiClient, clock: Clock, metrics: Metrics,
    ) -> None:
        self._figures = figures
        self._ami = ami
        self._clock = clock
        self._metrics = metrics

    def on_event(self, event: AmiEvent) -> None:
        outcome = self._figures.apply(event, self._clock.time())
        if outcome is None:
            return
        # The histograms of /metrics: waits when they end (answered or given up), talk
        # times when the call is over.
        if outcome.outcome is Outcome.ABANDONED:
            self._metrics.queue_wait(outcome.skill, False, outcome.wait_seconds)
        elif not outcome.completed:
            self._metrics.queue_wait(outcome.skill, True, outcome.wait_seconds)
        else:
            self._metrics.talk(outcome.skill, outcome.talk_seconds)

    async def resync(self) -> None:
        """Rebuild the figures from Asterisk's ``QueueStatus`` (an ``on_ready`` hook)."""
        snapshot = await self._ami.action("QueueStatus", as_list=True, timeout=10)
        loaded = self._figures.load_snapshot(
            [AmiEvent.from_message(m) for m in snapshot], self._clock.time()
        )
        log.info("figures_resynced", queues=loaded.queues, members=loaded.members,
                 waiting=loaded.waiting)
