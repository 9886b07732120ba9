"""Running one citizen's call: the flow engine's commands carried out over AGI.

The engine (``ivr.core.flow``) decides; this driver only plays, collects and reports back. The
dialplan reads the decision through channel variables: ``IVR_QUEUE`` and ``IVR_PRIORITY``
(queue the caller), ``IVR_TRANSFER`` (dial out), ``IVR_ACTION=hangup``. ``IVR_QUEUE`` is set
last, only once the decision is made: if the application dies half way, the dialplan sends
the caller to the general queue.

The same call comes back with the AGI argument ``survey`` after the operator hangs up; the
run then starts at the flow's ``survey`` entry and the score is stored with the call and its
case. A return-visit call the hotline placed (``ivr.casework.visits``) arrives with the
arguments ``visit <case number>``: the citizen is asked its questions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

import structlog

from ivr.bulletins.desk import BulletinDesk
from ivr.callbacks.desk import CallbackDesk
from ivr.calls.pending_writes import PendingWrites
from ivr.casework.visits import ReturnVisits
from ivr.core.cases import Actor, Case, CaseAction, CaseStatus
from ivr.core.figures import LiveFigures
from ivr.core.flow import (
    ActiveBulletin,
    ArrivalFacts,
    CallerHungUp,
    CallerLeft,
    CaseLookedUp,
    CaseReopened,
    CollectDigits,
    Command,
    DigitsCollected,
    Event,
    FlowHungUp,
    FlowRun,
    HangUpCall,
    ListenForSpeech,
    LookupCase,
    PlayPrompt,
    PromptPlayed,
    RecordSurvey,
    ReopenCase,
    Routed,
    RouteToQueue,
    SetLanguage,
    SetVariable,
    SpeechHeard,
    Transferred,
    TransferTo,
    announce_expected_wait,
    announce_wait,
)
from ivr.core.numbers import EXTERNAL_NUMBER
from ivr.core.records import CallRecord
from ivr.core.routing import (
    Announcement,
    CallPlan,
    OpenCase,
    OperatorState,
    QueueLoad,
    Roster,
    RoutingFacts,
    Urgency,
    personal_queue,
    plan_call,
)
from ivr.core.settings import Settings
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.fastagi import AgiChannel
from ivr.edges.metrics import Metrics
from ivr.edges.storage.calls import CallRecords
from ivr.edges.storage.cases import Cases
from ivr.errors import CallbackRefused, RecordRefused, StorageError
from ivr.flows.library import FlowLibrary
from ivr.speech.service import ALL_KEYS, SpeechService, speech_variables_for_operator

BULLETIN_SOUNDS = "bulletins/"
log = structlog.get_logger("ivr.calls.agi_driver")
_T = TypeVar("_T")

SURVEY_ENTRY = "survey"
CALLBACK_ENTRY = "callback"
VISIT_ENTRY = "visit"
VISIT_KEY_WAIT_MS = 6000  # after a return-visit question, how long the citizen has to key


def caller_case(cases: list[Case]) -> str:
    """The number of the case a caller most likely calls about ("" for none): their latest
    open case, else their latest resolved one (``cases`` oldest first)."""
    open_ = [c for c in cases if c.is_open]
    resolved = [c for c in cases if c.status == CaseStatus.RESOLVED]
    latest = open_ or resolved
    return latest[-1].number if latest else ""


@dataclass(frozen=True, slots=True)
class _Stop:
    """The call left the IVR: routed, transferred, hung up by the flow or by the caller."""


_STOP = _Stop()


@dataclass(frozen=True, slots=True)
class _History:
    """What the caller's history says, read once per call: their latest open case."""

    open_case: Case | None = None


def _roster(settings: Settings) -> Roster:
    return Roster.build(settings.skills, settings.menu.general_queue, settings.languages,
                        settings.operators.values())


class CallHandler:
    """Handles every call the FastAGI server accepts; one instance for the process."""

    def __init__(
        self, settings: Settings, calls: CallRecords, cases: Cases, flows: FlowLibrary,
        writes: PendingWrites, *, speech: SpeechService | None = None,
        figures: LiveFigures | None = None, callbacks: CallbackDesk | None = None,
        bulletins: BulletinDesk | None = None,
        node: str = "ivr", clock: Clock = SYSTEM_CLOCK,
        visits: ReturnVisits | None = None, metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        # Call records are written through ``writes``: kept while the database is down.
        self._writes = writes
        # Routing's view of the configuration, built once per configuration, not per call.
        self._roster = _roster(settings)
        self._bulletins = bulletins
        self._node = node
        self._calls = calls
        self._cases = cases
        self._clock = clock
        self._flows = flows
        self._speech = speech
        self._figures = figures
        self._callbacks = callbacks
        self._visits = visits
        self._zone = ZoneInfo(settings.timezone)

    def reconfigure(self, settings: Settings) -> None:
        self._settings = settings
        self._roster = _roster(settings)
        self._zone = ZoneInfo(settings.timezone)

    async def __call__(self, channel: AgiChannel) -> None:
        env = channel.env
        # Hello: from now on the dialplan knows this node took the call, so a failure later
        # sends the caller to the general queue instead of to another node's menu.
        await channel.set_variable("IVR_NODE", self._node)
        if env.arguments[:1] == (CALLBACK_ENTRY,):
            await self._callback(channel)
            return
        if env.arguments[:1] == (VISIT_ENTRY,):
            await self._visit(channel, env.arguments[1] if len(env.arguments) > 1 else "")
            return
        entry = SURVEY_ENTRY if env.arguments[:1] == (SURVEY_ENTRY,) else None
        started = time.monotonic()
        record = await self._record_for(channel, entry)
        if entry is None:
            record.variables["node"] = self._node  # which application node served the IVR
        # A call that comes back (the survey) finishes on the version it started with.
        try:
            published = await self._db("flow version", self._flows.version(record.flow_version))
        except StorageError as exc:
            log.error("flow_version_unavailable", error=str(exc))
            published = self._flows.current()
        if entry is not None and entry not in published.flow.entries:
            log.info("flow_has_no_entry", entry=entry, flow=published.flow.name)
            return  # e.g. a flow without a survey: the dialplan hangs up
        record.flow_version = published.version_id
        facts, history = await self.caller_facts(record)
        run = FlowRun(published.flow, facts, entry)
        with structlog.contextvars.bound_contextvars(
            flow=published.flow.name, flow_version=published.flow.version, entry=entry
        ):
            try:
                if entry is None:
                    await self._save(record)
                    if (await channel.answer()).hung_up:
                        return
                commands = run.start()
                while commands:
                    event = await self._carry_out(channel, commands, record, run, history)
                    if isinstance(event, _Stop) or run.finished:
                        break
                    commands = run.handle(event)
            finally:
                self._finish(record, run, channel, entry)
                record.ivr_ms = int((time.monotonic() - started) * 1000)
                if self._metrics is not None and entry is None:
                    self._metrics.call_left_ivr(record.outcome, record.ivr_ms / 1000)
                await self._save(record)
                log.info(
                    "call_finished", outcome=record.outcome, queue=record.queue,
                    priority=record.priority, hangup_node=record.hangup_node,
                    path=record.path, survey_score=record.survey_score, ivr_ms=record.ivr_ms,
                )

    async def _callback(self, channel: AgiChannel) -> None:
        """The caller pressed 1 while waiting: call them back, keeping their place."""
        record = await self._stored(channel.env.unique_id or channel.env.channel)
        if record is None or record.queue is None or self._callbacks is None:
            # E.g. a caller in the general queue after the application was down: no routed
            # call to call back. They stay in line (the dialplan re-queues them).
            log.warning("callback_without_queued_call")
            await channel.stream_file("ivr/callback-unavailable")
            await channel.set_variable("IVR_CALLBACK", "refused")
            return
        position = await channel.get_variable("QUEUEPOSITION") or "1"
        # The stage of the wait the caller was in: the stand-in keeps that place.
        queue = await channel.get_variable("IVR_QUEUE_NOW") or record.queue
        prio = await channel.get_variable("QUEUE_PRIO") or ""
        try:
            request = await self._db("callback request", self._callbacks.request(
                call_id=record.call_id, number=record.caller, skill=queue,
                priority=int(prio) if prio.isdigit() else record.priority or 0,
                position=int(position) if position.isdigit() else 1,
                arrived_at=record.arrived_at,
            ))
        except (CallbackRefused, StorageError) as exc:
            log.warning("callback_refused", reason=str(exc))
            await channel.stream_file("ivr/callback-unavailable")
            # Back into the queue: the dialplan's queue-exit context re-queues the caller.
            await channel.set_variable("IVR_CALLBACK", "refused")
            return
        record.path.append("callback:requested")
        record.variables["callback_id"] = str(request.id)
        record.outcome = "callback_requested"
        await self._save(record)
        await channel.stream_file("ivr/callback-confirmed")
        await channel.set_variable("IVR_CALLBACK", "requested")

    async def _visit(self, channel: AgiChannel, number: str) -> None:
        """The hotline called a citizen back about a resolved case (回访): ask them."""
        if self._visits is None:
            return

        async def prompt(sound: str, keys: str) -> str:
            key = await self._play(channel, (sound,), keys)
            if key or not keys or channel.hung_up:
                return key
            result = await channel.wait_for_digit(VISIT_KEY_WAIT_MS)
            return result.digit if result.digit in keys else ""

        with structlog.contextvars.bound_contextvars(case=number):
            try:
                outcome = await self._visits.ask(number, prompt)
            except StorageError as exc:
                log.error("return_visit_not_saved", error=str(exc))
                outcome = "not saved"
            log.info("return_visit_finished", outcome=outcome)

    # -- facts and records ----------------------------------------------------------------

    async def _stored(self, call_id: str) -> CallRecord | None:
        """The call's record: the version still waiting for the database if there is one,
        else the stored one; None when neither can be had (the database is down)."""
        pending = self._writes.pending_record(call_id)
        if pending is not None:
            return pending
        try:
            return await self._db("call record", self._calls.get(call_id))
        except StorageError as exc:
            log.error("call_record_unavailable", error=str(exc))
            return None

    async def _db(self, what: str, work: Awaitable[_T]) -> _T:
        """One database access on a call's path, bounded by ``[agi] database_deadline``: a
        database that stalls (accepts connections, never answers) holds no caller. Past the
        deadline, ``StorageError``, and each caller goes on with its safe default (nothing
        known, the flow's current version, the record kept for later)."""
        deadline = self._settings.agi.database_deadline
        try:
            return await asyncio.wait_for(work, deadline)
        except TimeoutError as exc:
            log.error("database_deadline_passed", what=what, deadline=deadline)
            raise StorageError(f"{what}: no answer from the database within {deadline:g} s"
                               ) from exc

    async def _record_for(self, channel: AgiChannel, entry: str | None) -> CallRecord:
        env = channel.env
        call_id = env.unique_id or env.channel
        if entry is not None:
            existing = await self._stored(call_id)
            if existing is not None:
                return existing
        return CallRecord(
            call_id=call_id, channel=env.channel, caller=env.caller_number,
            caller_name=env.caller_name,
            language=env.language or self._settings.default_language,
            arrived_at=self._clock.now().isoformat(timespec="milliseconds"),
        )

    async def caller_facts(self, record: CallRecord) -> tuple[ArrivalFacts, _History]:
        """What the flow may ask about the call, and the caller's history for routing (the
        caller's cases are read once per call)."""
        now = self._clock.now(self._zone)
        bulletin_read = asyncio.ensure_future(self._bulletin())  # alongside the history
        open_cases, known = 0, False
        latest_open: Case | None = None
        if record.caller:
            try:
                cases, previous = await self._db(
                    "caller history", self._calls.caller_history(record.caller, 2))
            except StorageError as exc:
                log.error("caller_history_unavailable", error=str(exc))
                cases, previous = [], []
            still_open = [c for c in cases if c.is_open]
            open_cases = len(still_open)
            latest_open = still_open[-1] if still_open else None
            # Known: any call but this one (of the latest two: a read that does not grow
            # with the caller's history).
            known = bool(cases) or any(call_id != record.call_id for call_id in previous)
            # The caller's case, recognised by their number: the latest open one, else the
            # latest resolved one (which they may say is not resolved).
            number = caller_case(cases)
            record.variables["caller_case"] = number
            record.variables["caller_case_resolved"] = "yes" if any(
                c.number == number and c.status == CaseStatus.RESOLVED for c in cases) else "no"
        bulletin = await bulletin_read
        schedules = self._settings.schedules
        language = record.language if record.language in self._settings.languages else (
            self._settings.default_language)
        return ArrivalFacts(
            caller=record.caller, language=language, now=now, caller_known=known,
            open_cases=open_cases, variables=dict(record.variables),
            open_schedules=schedules.open_at(now), holidays_today=schedules.holidays_on(
                now.date()),
            # Without a recogniser every menu is answered by keys.
            speech_available=self._speech is not None and self._speech.available,
            bulletin=bulletin,
        ), _History(latest_open)

    async def _bulletin(self) -> ActiveBulletin | None:
        if self._bulletins is None:
            return None
        try:
            return await self._db("bulletin", self._bulletins.active())
        except StorageError as exc:
            log.error("bulletin_unavailable", error=str(exc))
            return None

    def _finish(
        self, record: CallRecord, run: FlowRun, channel: AgiChannel, entry: str | None
    ) -> None:
        record.path += [f"{entry}:{n}" if entry else n for n in run.path]
        record.variables.update(run.variables)
        record.language = run.language
        record.ended_at = self._clock.now().isoformat(timespec="milliseconds")
        outcome = run.outcome
        if entry is not None:
            return  # the survey does not change how the call itself ended
        if isinstance(outcome, Routed) and record.queue is not None:
            record.outcome = "routed"
        elif isinstance(outcome, Transferred):
            record.outcome = "transferred"
        elif isinstance(outcome, FlowHungUp):
            record.outcome = f"ivr_hung_up:{outcome.reason}"
        elif channel.failure is not None:
            # E.g. a prompt outlasting the AGI command timeout: not the caller's doing.
            record.outcome = "ivr_failed"
            record.hangup_node = run.node
            record.variables["ivr_failure"] = channel.failure
        elif isinstance(outcome, CallerLeft) or channel.hung_up:
            record.outcome = "caller_hung_up"
            record.hangup_node = run.node or "answer"
        elif record.outcome == "in_progress":
            record.outcome = "ivr_failed"
            record.hangup_node = run.node

    async def _save(self, record: CallRecord) -> None:
        # Kept and written when the database takes it: returns at once even if it is down.
        await self._writes.save(record)

    # -- carrying out commands ------------------------------------------------------------

    async def _carry_out(
        self, channel: AgiChannel, commands: list[Command], record: CallRecord, run: FlowRun,
        history: _History,
    ) -> Event | _Stop:
        """Run one batch; return the event answering its waiting command, or _STOP."""
        for command in commands:
            event = await self._one(channel, command, record, run.node, history)
            if channel.hung_up:
                run.handle(CallerHungUp())
                return _STOP
            if event is not None:
                return event
        return _STOP

    async def _one(
        self, channel: AgiChannel, command: Command, record: CallRecord, node: str,
        history: _History,
    ) -> Event | _Stop | None:
        match command:
            case PlayPrompt(prompts=prompts, interruptible=interruptible):
                key = await self._play(channel, prompts, ALL_KEYS if interruptible else "",
                                       record)
                return PromptPlayed(key or None)
            case CollectDigits():
                return await self._collect(channel, command)
            case ListenForSpeech(prompts=prompts):
                if self._speech is None:  # not sent while speech is unavailable
                    key = await self._play(channel, prompts, ALL_KEYS)
                    return DigitsCollected(key) if key else SpeechHeard("", None, 0.0)
                event, variables = await self._speech.turn(channel, command, record.language)
                record.variables.update(variables)
                return event
            case LookupCase(number=number):
                return await self._lookup(number)
            case ReopenCase(number=number):
                return await self._reopen(number, record)
            case SetVariable(name=name, value=value):
                record.variables[name] = value
                return None
            case SetLanguage(code=code):
                await channel.set_variable("CHANNEL(language)", code)
                record.language = code
                return None
            case RecordSurvey(score=score):
                record.survey_score = score
                try:
                    await self._db("survey", self._calls.record_survey(record.call_id, score))
                except StorageError as exc:
                    log.error("survey_not_saved", error=str(exc), score=score)
                return None
            case RouteToQueue():
                await self._route(channel, record, command, node, history)
                return _STOP
            case TransferTo(number=number):
                await self._transfer(channel, record, number, history)
                return _STOP
            case HangUpCall(reason=reason):
                await channel.set_variable("IVR_ACTION", "hangup")
                log.info("ivr_hung_up", reason=reason)
                return _STOP
        raise AssertionError(f"unhandled command {command!r}")

    async def _play(
        self, channel: AgiChannel, prompts: tuple[str, ...], keys: str,
        record: CallRecord | None = None,
    ) -> str:
        """Play sounds in order; return the key that interrupted them ('' if none).

        A sound Asterisk cannot play (missing file) is skipped, logged and noted on the call
        record; a bulletin that was played is noted too (what the caller heard)."""
        for sound in prompts:
            result = await channel.stream_file(sound, keys)
            if result.hung_up:
                return ""
            if not result.ok:
                # -1 is also what a caller hanging up mid-prompt gets: ask the channel.
                status = await channel.command("CHANNEL STATUS")
                if status.hung_up or not status.ok:
                    return ""
                log.error("prompt_failed", sound=sound, result=result.value or result.message)
                if record is not None:
                    failed = record.variables.get("prompts_failed", "")
                    record.variables["prompts_failed"] = f"{failed} {sound}".strip()
                continue
            if record is not None and sound.startswith(BULLETIN_SOUNDS):
                record.variables["bulletin_heard"] = sound.removeprefix(BULLETIN_SOUNDS)
            if result.digit:
                return result.digit
        return ""

    async def _collect(self, channel: AgiChannel, command: CollectDigits) -> DigitsCollected:
        digits = await self._play(channel, command.prompts, ALL_KEYS)
        timed_out = False
        timeout_ms = int(command.timeout * 1000)
        # With a terminator, the key after the last digit is taken too: otherwise the "#"
        # the prompt asked for would cut the next prompt short.
        limit = command.max_digits + (1 if command.terminator else 0)
        while (
            len(digits) < limit
            and not (command.terminator and digits.endswith(command.terminator))
            and not channel.hung_up
        ):
            result = await channel.wait_for_digit(timeout_ms)
            if not result.digit:
                timed_out = True
                break
            digits += result.digit
        return DigitsCollected(digits, timed_out)

    async def _lookup(self, number: str) -> CaseLookedUp:
        try:
            case: Case | None = await self._db("case lookup", self._cases.get(number))
        except StorageError as exc:
            log.error("case_lookup_failed", error=str(exc))
            case = None
        if case is None:
            return CaseLookedUp(number, False)
        return CaseLookedUp(number, True, case.readback)

    async def _reopen(self, number: str, record: CallRecord) -> CaseReopened:
        """The citizen says their resolved case is not resolved: reopen it, if it is theirs."""
        try:
            case = await self._db("case lookup", self._cases.get(number))
            if case is None or not record.caller or case.caller != record.caller:
                return CaseReopened(number, False)
            await self._db("case reopen", self._cases.act(
                number, CaseAction.REOPEN, Actor("citizen"), self._clock.now(self._zone),
                text="the citizen called: not resolved", deadlines=self._settings.deadlines))
        except (RecordRefused, StorageError) as exc:
            log.warning("case_not_reopened", case=number, reason=str(exc))
            return CaseReopened(number, False)
        log.info("case_reopened_by_caller", case=number)
        return CaseReopened(number, True)

    async def _route(
        self, channel: AgiChannel, record: CallRecord, route: RouteToQueue, node: str,
        history: _History,
    ) -> None:
        """Carry out the core's plan (``plan_call``): announce, set the stages, queue."""
        started = time.perf_counter()
        plan = await self.plan_route(record, route, node, history)
        route_ms = round((time.perf_counter() - started) * 1000, 3)
        if plan.queue != route.skill:
            log.warning("unknown_skill_routed_to_general_queue", skill=route.skill,
                        queue=plan.queue)
        record.route_reasons = list(plan.reasons)
        if plan.announcement is not None:
            await self._announce(channel, plan.announcement, record)
        # What the caller said travels with the call to the operator who answers.
        for name, value in speech_variables_for_operator(record.variables).items():
            await channel.set_variable(name, value)
        if self._figures is not None:
            # app_queue's join events do not carry QUEUE_PRIO: the figures learn it here, so
            # the next callers are told the place they really have.
            # Its waits in stage queues (lang-*, op-*) count towards the plan's skill.
            self._figures.note_priorities(
                record.call_id, {stage.queue: stage.priority for stage in plan.stages},
                plan.queue)
        # The stages, then IVR_QUEUE (last: the decision is made), in one round trip.
        decision = [(f"IVR_STAGE_{n}", stage.variable()) for n, stage in enumerate(plan.stages, 1)]
        decision += [("IVR_STAGES", str(len(plan.stages))), ("IVR_QUEUE", plan.stages[0].queue)]
        if (await channel.set_variables(decision)).ok:
            record.queue, record.priority = plan.queue, plan.priority
            log.info("call_routed", queue=plan.queue, priority=plan.priority,
                     stages=[s.variable() for s in plan.stages], route_ms=route_ms)

    async def plan_route(
        self, record: CallRecord, route: RouteToQueue, node: str, history: _History
    ) -> CallPlan:
        """The route step (its time is the ``route_ms`` logged): the open case's operator
        read, then the core's plan from the call's facts and the queue's live load."""
        language = record.language if record.language in self._settings.languages else (
            self._settings.default_language)
        facts = RoutingFacts(
            skill=route.skill, language=language, flow_node=node, flow_priority=route.priority,
            urgency=Urgency.of(record.variables.get("urgency")),
            evidence=record.variables.get("intent_evidence", ""),
            open_case=await self._open_case(history),
        )
        deciding = time.perf_counter()
        plan = plan_call(facts, self._roster, self._load(self._roster.queue_for(route.skill)),
                         self._settings.routing)
        if self._metrics is not None:
            self._metrics.route_decision(time.perf_counter() - deciding)
        return plan

    def _load(self, queue: str) -> QueueLoad:
        """The queue's live figures as the plan needs them (nothing known: an empty queue)."""
        if self._figures is None:
            return QueueLoad()
        figures = self._figures.figures(queue, self._clock.time())
        return QueueLoad(
            waiting=figures.waiting, available=figures.operators.available,
            staffed=figures.operators.staffed,
            average_handle=figures.today.average_handle_time,
            waiting_by_priority=self._figures.waiting_by_priority(queue),
        )

    async def _open_case(self, history: _History) -> OpenCase | None:
        """The caller's latest open case, who handled it and whether they are free now."""
        case = history.open_case
        if case is None:
            return None
        operator: str | None = None
        if case.call_id:
            try:
                handled = await self._db("previous call", self._calls.get(case.call_id))
            except StorageError as exc:
                log.error("previous_operator_unavailable", error=str(exc))
                handled = None
            operator = handled.operator if handled is not None else None
        free = False
        op = self._settings.operators.get(operator) if operator else None
        if op is not None and self._figures is not None:
            states = self._figures.operator_states(personal_queue(op.id), self._clock.time())
            free = states.get(op.interface) == OperatorState.AVAILABLE
        return OpenCase(case.number, case.category, str(case.status), operator, free)

    async def _announce(
        self, channel: AgiChannel, announcement: Announcement, record: CallRecord
    ) -> None:
        """Tell a caller who will not be answered at once their place and expected wait
        (the wait alone when app_queue tells the place: ``[routing] position_every``)."""
        position, minutes = announcement.position, announcement.minutes
        record.variables["queue_position"] = str(position)
        # No honest estimate from live figures: the place in line, no made-up wait.
        record.variables["expected_wait_minutes"] = "unknown" if minutes is None else str(
            minutes)
        # With place updates on, app_queue says the place itself as the caller joins.
        sounds = (announce_expected_wait(minutes, record.language)
                  if self._settings.routing.position_every
                  else announce_wait(position, minutes, record.language))
        log.info("wait_announced", queue=record.queue, position=position,
                 minutes=record.variables["expected_wait_minutes"])
        for sound in sounds:
            if (await channel.stream_file(sound)).hung_up:
                return

    async def _transfer(
        self, channel: AgiChannel, record: CallRecord, number: str, history: _History
    ) -> None:
        if not EXTERNAL_NUMBER.match(number):
            log.error("transfer_number_invalid", number=number)
            await self._route(channel, record,
                              RouteToQueue(self._settings.menu.general_queue, 5), "transfer",
                              history)
            return
        await channel.set_variables([("IVR_TRANSFER", number), ("IVR_ACTION", "transfer")])
        log.info("call_transferred", number=number)
