"""Live figures fed from Asterisk: every AMI event applied at the clock's time, and the whole
picture reloaded from a ``QueueStatus`` snapshot after each (re)connect.

Every node keeps its own (its wallboard is right on its own); the figures themselves are the
core's ``LiveFigures``.
"""

from __future__ import annotations

import structlog

from ivr.core.figures import LiveFigures
from ivr.core.protocols.ami import AmiEvent
from ivr.edges.ami import AmiClient
from ivr.edges.clock import Clock

log = structlog.get_logger("ivr.operators.live_figures")


class LiveFiguresFeed:
    def __init__(self, figures: LiveFigures, ami: AmiClient, clock: Clock) -> None:
        self._figures = figures
        self._ami = ami
        self._clock = clock

    def on_event(self, event: AmiEvent) -> None:
        self._figures.apply(event, self._clock.time())

    async def resync(self) -> None:
        """Rebuild the figures from Asterisk's ``QueueStatus`` (an ``on_ready`` hook)."""
        snapshot = await self._ami.action("QueueStatus", as_list=True, timeout=10)
        loaded = self._figures.load_snapshot(
            [AmiEvent.from_message(m) for m in snapshot], self._clock.time()
        )
        log.info("figures_resynced", queues=loaded.queues, members=loaded.members,
                 waiting=loaded.waiting)
