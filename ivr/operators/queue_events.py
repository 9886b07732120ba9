"""What app_queue's AMI events mean for the call records, the consoles and the operators'
history.

* ``AgentCalled`` (an operator's phone rings for a caller): the screen pop for that operator
  (shared with the other application nodes through the event bus),
  built from the call record (what the caller said, intent, urgency, routing reasons) and the
  caller's previous cases;
* ``AgentConnect`` / ``AgentComplete`` / ``QueueCallerAbandon``: who answered, after how long,
  how long they talked, or that the caller gave up - written to the call record, with the
  account of what app_queue did (``queue_outcome``: who was rung, skipped and why, who did
  not answer, which stage answered; ``ivr.core.routing.QueueOutcome``);
* ``QueueMemberPause`` / ``AgentConnect`` / ``AgentComplete``: the operator's state history.

Every node tracks who talks to whom (``track``: transfers from the consoles it serves); the
leader alone writes what app_queue did and raises the screen pops (``handle``, shared by the
bus). Cut off from the database, and so from the other nodes, a node does that for its own
consoles and records (kept until the database is back): ``leads`` says whether this node
handles the events now.

AMI handlers are synchronous; the writes they cause run as tasks, chained per call (and per
operator) so they land in order, through ``writes`` (``ivr.calls.pending_writes``): kept while
the database is down and written when it is back, none lost. A call's record is looked up in
the writes still waiting first; if the database cannot be asked, the fact is written anyway
(the buffer drops it, logged, if the call turns out to be unknown).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from ivr.calls.pending_writes import PendingWrites
from ivr.calls.recordings import CallRecordings
from ivr.core.figures import LiveFigures
from ivr.core.protocols.ami import AmiEvent
from ivr.core.records import CallRecord
from ivr.core.routing import (
    FALLBACK_REASON,
    OperatorState,
    QueueOutcome,
    callback_id_of,
    callback_reason,
    transfer_line,
)
from ivr.core.screen_pops import ScreenPop
from ivr.core.settings import Settings
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.storage.callbacks import Callbacks
from ivr.edges.storage.calls import CallRecords
from ivr.edges.storage.cases import Cases
from ivr.errors import BusError, StorageError
from ivr.operators.screen_pops import SharedScreenPops

log = structlog.get_logger("ivr.operators.queue_events")
DRAIN_ROUNDS = 5
MAX_FOLLOWED = 10_000  # calls whose queue outcome is followed at once; the oldest go first


# Events after which an operator's state is a new one (the live board's "since").
_STATE_EVENTS = frozenset({"AgentCalled", "AgentConnect", "AgentComplete", "AgentDump",
                           "AgentRingNoAnswer", "QueueMemberPause"})


@dataclass(frozen=True, slots=True)
class OperatorCall:
    """The call an operator is on: its id, the caller's number, the operator's own channel
    (``DestChannel`` of ``AgentConnect``: what a supervisor's ChanSpy listens to), since when."""

    call_id: str
    caller: str
    channel: str
    since: float


def _seconds(event: AmiEvent, name: str) -> float:
    try:
        return max(0.0, float(event.get(name) or 0))
    except ValueError:
        return 0.0


class QueueEvents:
    """app_queue's events made into records, pops and state history; see the module docstring."""

    def __init__(
        self, settings: Settings, calls: CallRecords, cases: Cases, pops: SharedScreenPops,
        writes: PendingWrites, *, leads: Callable[[], bool] = lambda: True,
        clock: Clock = SYSTEM_CLOCK, figures: LiveFigures | None = None,
        callbacks: Callbacks | None = None, recordings: CallRecordings | None = None,
    ) -> None:
        self._calls = calls
        self._recordings = recordings
        self._callbacks = callbacks
        self._cases = cases
        self._writes = writes
        self._pops = pops
        self._leads = leads
        self._clock = clock
        self._by_interface = {op.interface: op.id for op in settings.operators.values()}
        self._general_queue = settings.menu.general_queue
        # Members' states when a stage first rings someone (who was skipped and why).
        self._figures = figures
        self._outcomes: dict[str, QueueOutcome] = {}  # call id -> what app_queue did
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[str, asyncio.Task[None]] = {}
        self._talking: dict[str, tuple[str, str]] = {}  # operator -> caller's channel, call
        self._live: dict[str, OperatorCall] = {}  # operator -> their call, for supervisors
        self._since: dict[str, float] = {}  # operator -> when their state last changed

    def reconfigure(self, settings: Settings) -> None:
        self._by_interface = {op.interface: op.id for op in settings.operators.values()}
        self._general_queue = settings.menu.general_queue

    def caller_channel(self, operator_id: str) -> str | None:
        """The channel of the citizen the operator is talking to (for a transfer)."""
        talking = self._talking.get(operator_id)
        return talking[0] if talking else None

    def live_call(self, operator_id: str) -> OperatorCall | None:
        """The call the operator is on (who calls, the operator's own channel), as this
        node saw it in AMI events; None when they are on no call."""
        return self._live.get(operator_id)

    def since(self, operator_id: str) -> float | None:
        """When the operator's state last changed (epoch seconds), as far as this node saw
        (rung, answered, completed, paused or unpaused); None if it saw nothing yet."""
        return self._since.get(operator_id)

    def transferred(self, operator_id: str, target: str) -> None:
        """The operator sent their caller to a department: said in the call's record."""
        self.note(operator_id, transfer_line(operator_id, target))

    def note(self, operator_id: str, line: str) -> None:
        """A line about the operator's current call (a transfer, a consultation) added to
        what its record says app_queue and the operator did with it."""
        talking = self._talking.get(operator_id)
        if talking is not None:
            self._spawn(talking[1], self._writes.add_call_outcome(talking[1], [line]))

    def on_event(self, event: AmiEvent) -> None:
        """Every AMI event: tracked on every node, handled where this node leads."""
        self.track(event)
        if self._leads():
            self.handle(event)

    def track(self, event: AmiEvent) -> None:
        """Who is talking to whom (every node: transfers from the consoles it serves)."""
        operator = self._by_interface.get(event.get("Interface") or event.get("StateInterface"))
        if not operator:
            return
        if event.name == "AgentConnect":
            self._talking[operator] = (event.get("Channel"), event.get("Uniqueid"))
            self._live[operator] = OperatorCall(
                call_id=event.get("Uniqueid"), caller=event.get("CallerIDNum"),
                channel=event.get("DestChannel"), since=self._clock.time())
        elif event.name in ("AgentComplete", "AgentDump"):
            self._talking.pop(operator, None)
            self._live.pop(operator, None)
        if event.name in _STATE_EVENTS:
            self._since[operator] = self._clock.time()

    def handle(self, event: AmiEvent) -> None:
        """The records, pops and state history (the leading node only)."""
        name = event.name
        operator = self._by_interface.get(event.get("Interface") or event.get("StateInterface"))
        call_id = event.get("Uniqueid")
        queue = event.get("Queue")
        if name == "AgentCalled" and operator and call_id:
            outcome = self._outcome(call_id)
            outcome.rung(queue, operator, self._members(queue))
            self._spawn(call_id, self._pop(event, operator, call_id, tuple(outcome.lines)))
        elif name == "AgentRingNoAnswer" and operator:
            if call_id:
                self._outcome(call_id).not_answered(queue, operator,
                                                    _seconds(event, "RingTime"))
            self._forget_pop(operator, call_id)
        elif name == "AgentConnect" and operator and call_id:
            outcome = self._outcome(call_id)
            outcome.answered(queue, operator, _seconds(event, "HoldTime"))
            del self._outcomes[call_id]
            self._spawn(call_id, self._answered(event, operator, call_id, outcome.lines))
            self._spawn(operator, self._state(operator, OperatorState.ON_CALL, ""))
        elif name == "AgentComplete" and operator and call_id:
            self._spawn(call_id, self._completed(event, call_id))
            self._spawn(operator, self._state(operator, OperatorState.WRAP_UP, ""))
            self._forget_pop(operator, call_id)
        elif name == "QueueCallerAbandon" and call_id:
            outcome = self._outcome(call_id)
            outcome.abandoned(queue, _seconds(event, "HoldTime"))
            del self._outcomes[call_id]
            self._spawn(call_id, self._abandoned(event, call_id, outcome.lines))
        elif name == "QueueMemberPause" and operator:
            paused = event.get("Paused") == "1"
            reason = event.get("PausedReason") or event.get("Reason") or ""
            state = OperatorState.PAUSED if paused else OperatorState.AVAILABLE
            self._spawn(operator, self._state(operator, state, reason if paused else ""))

    async def drain(self) -> None:
        """Wait for the writes in flight (at shut-down, and in tests); events still arriving
        meanwhile add a few more rounds at most."""
        for _ in range(DRAIN_ROUNDS):
            if not self._tasks:
                return
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- the work -------------------------------------------------------------------------

    def _outcome(self, call_id: str) -> QueueOutcome:
        outcome = self._outcomes.get(call_id)
        if outcome is None:
            if len(self._outcomes) >= MAX_FOLLOWED:  # calls that left without an end event
                del self._outcomes[next(iter(self._outcomes))]
            outcome = self._outcomes[call_id] = QueueOutcome(self._general_queue)
        return outcome

    def _members(self, queue: str) -> dict[str, OperatorState]:
        """The queue's members (operator id -> state) as the live figures have them now."""
        if self._figures is None:
            return {}
        states = self._figures.operator_states(queue, self._clock.time())
        return {self._by_interface[i]: s for i, s in states.items() if i in self._by_interface}

    def _spawn(self, key: str, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the work already queued for the same call or operator."""
        before = self._last.get(key)

        async def run() -> None:
            if before is not None:
                await asyncio.gather(before, return_exceptions=True)
            try:
                await work
            except (StorageError, BusError) as exc:
                log.error("queue_event_not_stored", key=key, error=str(exc))

        task = asyncio.create_task(run())
        self._last[key] = task
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if self._last.get(key) is t:
                del self._last[key]

        task.add_done_callback(done)

    def _forget_pop(self, operator: str, call_id: str) -> None:
        self._spawn(operator, self._pops.clear(operator, call_id))

    async def _pop(
        self, event: AmiEvent, operator: str, call_id: str, outcome: tuple[str, ...]
    ) -> None:
        # The pop goes out even when the database is down: with what is at hand.
        _, record = await self._call(call_id)
        reasons = await self._reasons(event, record)
        caller = record.caller if record else event.get("CallerIDNum")
        try:
            cases = await self._cases.of_caller(caller) if caller else []
        except StorageError as exc:
            log.warning("pop_without_previous_cases", error=str(exc))
            cases = []
        variables = record.variables if record else {}
        pop = ScreenPop(
            call_id=call_id, operator_id=operator, caller=caller,
            caller_name=record.caller_name if record else event.get("CallerIDName"),
            language=record.language if record else "",
            queue=event.get("Queue"), skill=(record.queue or "") if record else "",
            transcript=variables.get("transcript", ""), intent=variables.get("intent_skill", ""),
            category=variables.get("intent_category", ""),
            urgency=variables.get("urgency", "") or "normal",
            speech_words=variables.get("speech_words", ""),
            speech_band=variables.get("speech_band", ""),
            speech_confirmed=variables.get("speech_confirmed", ""),
            route_reasons=reasons, queue_outcome=outcome,
            previous_cases=tuple(
                {"number": c.number, "category": c.category, "status": c.status,
                 "created_at": c.created_at}
                for c in reversed(cases[-10:])
            ),
            at=self._clock.now().isoformat(timespec="seconds"),
        )
        # Every node's consoles get it (the operator's browser may be on another node).
        await self._pops.publish(pop)
        log.info("screen_pop", operator=operator, call=call_id)

    async def _reasons(self, event: AmiEvent, record: CallRecord | None) -> tuple[str, ...]:
        """Why the call rings: its plan's reasons; for a callback's stand-in, that and the
        reasons of the call it stands in for; for a call without a plan, the fallback."""
        if record is not None and record.route_reasons:
            return tuple(record.route_reasons)
        callback = callback_id_of(event.get("Channel"))
        if callback is None:
            return (FALLBACK_REASON,)
        original = await self._stood_in_for(callback)
        return (callback_reason(callback),
                *(original.route_reasons if original is not None else ()))

    async def _stood_in_for(self, callback: str) -> CallRecord | None:
        if self._callbacks is None:
            return None
        try:
            call_id = await self._callbacks.call_of(int(callback))
        except StorageError:
            return None
        return None if call_id is None else (await self._call(call_id))[1]

    async def _unplanned(
        self, event: AmiEvent, call_id: str, outcome: list[str], answered: bool
    ) -> bool:
        """A call the IVR did not route: a callback's stand-in (its account goes to the call
        it stands in for: True, nothing more to write) or a fallback call (recorded now, with
        why: False, the answer is written as for any call)."""
        callback = callback_id_of(event.get("Channel"))
        if callback is not None:
            original = await self._stood_in_for(callback)
            if original is not None:
                await self._writes.add_call_outcome(
                    original.call_id, [f"callback {callback} (stand-in): {line}"
                                       for line in outcome])
            return True
        if event.get("Channel").startswith("Local/"):
            return True  # a return visit or other placed call: no citizen call of its own
        held = _seconds(event, "HoldTime")
        now = self._clock.now()
        await self._writes.save(CallRecord(
            call_id=call_id, channel=event.get("Channel"), caller=event.get("CallerIDNum"),
            caller_name=event.get("CallerIDName"), language="",
            arrived_at=(now - timedelta(seconds=held)).isoformat(timespec="milliseconds"),
            queue=event.get("Queue"), outcome="fallback" if answered else "abandoned",
            ended_at=None if answered else now.isoformat(timespec="milliseconds"),
            route_reasons=[FALLBACK_REASON], wait_seconds=round(held, 1),
            queue_outcome=list(outcome),
        ))
        return not answered

    async def _call(self, call_id: str) -> tuple[bool, CallRecord | None]:
        """Whether the call is known (or may be: the database is down), and its record."""
        record = self._writes.pending_record(call_id)
        if record is not None:
            return True, record
        try:
            record = await self._calls.get(call_id)
        except StorageError:
            return True, None
        return record is not None, record

    async def _answered(
        self, event: AmiEvent, operator: str, call_id: str, outcome: list[str]
    ) -> None:
        now = self._clock.now()
        known, record = await self._call(call_id)
        if not known:
            if await self._unplanned(event, call_id, outcome, answered=True):
                return
        elif record is not None and record.queue is None:
            outcome = [FALLBACK_REASON, *outcome]  # the IVR ended before it chose a queue
        waited = _seconds(event, "HoldTime")
        if record is not None:
            with contextlib.suppress(ValueError):
                waited = max(waited,
                             (now - datetime.fromisoformat(record.arrived_at)).total_seconds()
                             - (record.ivr_ms or 0) / 1000)
        await self._writes.set_call_answered(call_id, operator, now, round(waited, 1), outcome)
        if self._recordings is not None:
            await self._recordings.started(call_id)

    async def _completed(self, event: AmiEvent, call_id: str) -> None:
        known, _ = await self._call(call_id)
        if known:
            await self._writes.set_call_completed(call_id, self._clock.now(),
                                                  _seconds(event, "TalkTime"))
            if self._recordings is not None:
                await self._recordings.finished(call_id)

    async def _abandoned(self, event: AmiEvent, call_id: str, outcome: list[str]) -> None:
        now = self._clock.now()
        known, record = await self._call(call_id)
        if not known:
            await self._unplanned(event, call_id, outcome, answered=False)
            return
        if record is not None and record.queue is None:
            outcome = [FALLBACK_REASON, *outcome]
        waited = _seconds(event, "HoldTime")  # when the record cannot be read
        if record is not None:
            try:
                waited = (now - datetime.fromisoformat(record.arrived_at)
                          - timedelta(milliseconds=record.ivr_ms or 0)).total_seconds()
            except ValueError:
                waited = 0.0
        await self._writes.set_call_abandoned(call_id, now, round(max(0.0, waited), 1),
                                              outcome)

    async def _state(self, operator: str, state: OperatorState, reason: str) -> None:
        await self._writes.record_operator_state(operator, state.value, reason,
                                                 self._clock.now())
