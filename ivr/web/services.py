"""What the web layer is given by the composition root: typed services, nothing more.

Handlers validate the request, call one of these, and serialise the answer; they never see the
application object that built them (``ivr.app``), so the web and the application do not
import each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ivr.bulletins.desk import BulletinDesk
from ivr.calls.recordings import CallRecordings
from ivr.configuration.editor import ConfigEditor
from ivr.core.deadlines import CaseAlerts
from ivr.core.figures import LiveFigures
from ivr.core.operators import Presence
from ivr.core.settings import Settings
from ivr.core.supervision import SpyMode
from ivr.core.surges import Surge
from ivr.edges.clock import Clock
from ivr.edges.storage.store import Store
from ivr.flows.library import FlowLibrary
from ivr.operators.queue_events import OperatorCall
from ivr.operators.screen_pops import ScreenPopHub


class OperatorControls(Protocol):
    """What the console and the API do to operators (``ivr.operators.desk.OperatorDesk``)."""

    async def presence(self) -> dict[str, Presence]: ...
    async def login(
        self, operator_id: str, skills: Sequence[str] | None = None
    ) -> tuple[str, ...]: ...
    async def logout(self, operator_id: str) -> None: ...
    async def pause(self, operator_id: str, reason: str) -> None: ...
    async def unpause(self, operator_id: str) -> None: ...


class Transfers(Protocol):
    """``ivr.operators.transfer.OperatorTransfers``: blind and warm transfers."""

    async def transfer(self, operator_id: str, target: str) -> None: ...
    def consulting(self, operator_id: str) -> str | None: ...
    async def consult(self, operator_id: str, target: str) -> None: ...
    async def complete(self, operator_id: str) -> str: ...
    async def return_to_caller(self, operator_id: str) -> str: ...


class Spying(Protocol):
    """``ivr.operators.supervision.Supervision``."""

    async def spy(self, operator_id: str, mode: SpyMode, phone: str) -> str: ...


class LiveCalls(Protocol):
    """``ivr.operators.queue_events.QueueEvents``: who talks to whom, as AMI events said."""

    def live_call(self, operator_id: str) -> OperatorCall | None: ...
    def since(self, operator_id: str) -> float | None: ...


class CaseAlertSource(Protocol):
    """``ivr.casework.deadlines.DeadlineWatch``: the cases against their deadlines, as of its
    last check (kept in memory: a wallboard poll reads no database)."""

    def current(self) -> CaseAlerts: ...


class SurgeSource(Protocol):
    """``ivr.casework.surges.SurgeWatch``: the surges of its last check, kept in memory."""

    def current(self) -> tuple[str, list[Surge]]: ...


class HealthReport(Protocol):
    """``ivr.monitoring.health.Health``."""

    @property
    def ok(self) -> bool: ...
    def status(self) -> dict[str, Any]: ...
    def metrics(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class WebServices:
    config: ConfigEditor
    """The live settings (``config.current``) and the edits of ``config/``."""
    store: Store
    """Call records, cases, users, sessions, the audit log, flow versions."""
    flows: FlowLibrary
    bulletins: BulletinDesk
    operators: OperatorControls
    figures: LiveFigures
    screen_pops: ScreenPopHub
    transfers: Transfers
    supervision: Spying
    live: LiveCalls
    health: HealthReport
    clock: Clock
    case_alerts: CaseAlertSource
    surges: SurgeSource
    recordings: CallRecordings | None = None
    """Answered calls' recordings (the call page's player); None: not served here."""

    @property
    def settings(self) -> Settings:
        """The settings in force now (a config edit replaces them)."""
        return self.config.current
