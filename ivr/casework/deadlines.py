"""The deadline watch: reminders for nearly-due cases, escalation of overdue ones, and the
alerts the wallboard shows.

Every ``interval`` seconds (and whenever ``check`` is called) the watch asks the store, with
bounded indexed queries, which cases being worked have reached their reminder moment or have
been overdue for ``escalate_after_hours`` (``ivr.core.deadlines``), writes one history line for
each (a conditional update: on several nodes, only one writes it), and keeps the counts and
the most urgent cases in memory for the wallboard, so a wallboard poll never queries the
database.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import structlog

from ivr.configuration.editor import ConfigEditor
from ivr.core.deadlines import CaseAlerts
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.storage.cases import Cases
from ivr.errors import StorageError

log = structlog.get_logger("ivr.casework.deadlines")
INTERVAL = 60.0
SHOWN = 20  # the most urgent cases the wallboard lists


class DeadlineWatch:
    def __init__(self, cases: Cases, config: ConfigEditor, clock: Clock = SYSTEM_CLOCK,
                 interval: float = INTERVAL) -> None:
        self._cases = cases
        self._config = config
        self._clock = clock
        self._interval = interval
        self._alerts = CaseAlerts()

    def current(self) -> CaseAlerts:
        """The alerts of the last check (empty before the first)."""
        return self._alerts

    async def check(self) -> CaseAlerts:
        """Remind, escalate, and count, as of now."""
        settings = self._config.current
        now = self._clock.now(ZoneInfo(settings.timezone))
        reminded = await self._cases.remind(now)
        before = now - timedelta(hours=settings.deadlines.escalate_after_hours)
        escalated = await self._cases.escalate(now, before)
        self._alerts = await self._cases.alerts(now, SHOWN)
        if reminded or escalated:
            log.info("case_deadlines", reminded=len(reminded), escalated=len(escalated),
                     overdue=self._alerts.overdue)
        return self._alerts

    async def run(self) -> None:
        """Check every ``interval`` seconds until cancelled; a database outage is logged and
        the next check tries again."""
        while True:
            try:
                await self.check()
            except StorageError as exc:
                log.warning("case_deadlines_failed", error=str(exc))
            await asyncio.sleep(self._interval)
