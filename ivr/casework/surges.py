"""The surge watch: every ``[surges] check_interval`` seconds, counts the cases filed in the
last window per category and place against the same window of the past weeks
(``ivr.core.surges``) and keeps the surges found in memory, so the supervisors' pages and the
wallboard read them without a database query per poll. Read-only: every node may run it.
"""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import structlog

from ivr.configuration.editor import ConfigEditor
from ivr.core.surges import Surge, surges, windows
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.storage.cases import Cases
from ivr.edges.storage.tables import local_text
from ivr.errors import StorageError

log = structlog.get_logger("ivr.casework.surges")


class SurgeWatch:
    def __init__(self, cases: Cases, config: ConfigEditor, clock: Clock = SYSTEM_CLOCK) -> None:
        self._cases = cases
        self._config = config
        self._clock = clock
        self._surges: list[Surge] = []
        self._at = ""

    def current(self) -> tuple[str, list[Surge]]:
        """When the last check ran ("" before the first) and the surges it found."""
        return self._at, list(self._surges)

    async def check(self) -> list[Surge]:
        settings = self._config.current
        rule = settings.surges
        now = self._clock.now(ZoneInfo(settings.timezone))
        spans = windows(now, rule)
        counts = await self._cases.place_counts(spans)
        found = surges(counts, rule, local_text(spans[0][0]))
        new = {(s.category, s.place) for s in found} - {
            (s.category, s.place) for s in self._surges}
        for s in found:
            if (s.category, s.place) in new:
                log.warning("case_surge", category=s.category, place=s.place, count=s.count,
                            usual=s.usual)
        self._surges, self._at = found, local_text(now)
        return found

    async def run(self) -> None:
        """Check until cancelled; a database outage is logged and the next check tries again."""
        while True:
            try:
                await self.check()
            except StorageError as exc:
                log.warning("case_surges_failed", error=str(exc))
            await asyncio.sleep(self._config.current.surges.check_interval)
