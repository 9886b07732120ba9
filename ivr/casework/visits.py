"""The return visit (回访): a citizen whose case was resolved is called back and asked, with
keys, whether the problem was resolved and whether they are satisfied.

Theory of operation. Resolving a case marks its visit ``pending`` (``ivr.core.cases``). Every
``check_interval`` seconds, inside the calling window (the hotline's local time), the leader
claims the visits that are due (``Cases.claim_visits``: one attempt counted per claim, before
the call is placed, so a crash can never make the attempts unbounded) and, for each, sends
one AMI Originate: the citizen's phone is dialled through the callback gateway (the endpoint
the callbacks use) with the hotline's number as caller ID, and when they answer, Asterisk
runs the ``return-visit`` context, whose AGI (``visit <case number>``) asks the questions
(``ask``, run by the call handler). Unanswered, busy, or answered without keys: the attempt
failed and the visit is pending again after ``retry_after``; after ``max_attempts`` the citizen
is recorded unreachable, which counts neither as resolved nor as satisfied. "Not resolved"
reopens the case to its department; "resolved" closes it.

The Originate is sent once per claim: the AMI client never re-sends an action after a
reconnect. A node that dies mid-call leaves its claim to run out (``lease``); the visit is then
claimed again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog

from ivr.core.asterisk_render import CALLBACK_ENDPOINT
from ivr.core.cases import Case, Satisfaction, case_number_valid, in_window
from ivr.core.numbers import EXTERNAL_NUMBER
from ivr.core.protocols.ami import channel_variable
from ivr.core.settings import Settings
from ivr.core.words import N_, Words
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.storage.cases import Cases
from ivr.errors import AmiError, IvrError, RecordRefused, StorageError

log = structlog.get_logger("ivr.casework.visits")
VISIT_CONTEXT = "return-visit"
CLAIMED_PER_CHECK = 20


class Originator(Protocol):
    """What the visits need of the AMI link (``ivr.edges.ami.AmiClient``)."""

    @property
    def connected(self) -> bool: ...

    async def action(
        self, name: str, fields: Mapping[str, object] | None = None, *,
        as_list: bool = False, timeout: float | None = None,
    ) -> list[dict[str, str]]: ...


class ReturnVisits:
    """Places return-visit calls; ``check`` once, or ``run`` until cancelled."""

    def __init__(
        self, settings: Settings, cases: Cases, ami: Originator, *,
        leads: Callable[[], bool] = lambda: True, clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._settings = settings
        self._cases = cases
        self._ami = ami
        self._leads = leads
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def reconfigure(self, settings: Settings) -> None:
        self._settings = settings

    async def check(self) -> list[str]:
        """Claim the visits due now and place their calls; the case numbers called."""
        visits = self._settings.visits
        now = self._clock.now(ZoneInfo(self._settings.timezone))
        if not (self._leads() and self._ami.connected
                and in_window(now, visits.window_start, visits.window_end)):
            return []
        claimed = await self._cases.claim_visits(
            now, timedelta(seconds=visits.lease), visits.max_attempts, CLAIMED_PER_CHECK)
        for case in claimed:
            self._spawn(self._call(case))
        return [c.number for c in claimed]

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except IvrError as exc:
                log.warning("return_visits_failed", error=str(exc))
            await asyncio.sleep(self._settings.visits.check_interval)

    async def drain(self) -> None:
        """Wait until the calls placed so far have an outcome (their Originate answered)."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, case: Case) -> None:
        settings = self._settings
        if not EXTERNAL_NUMBER.match(case.caller):
            await self.failed(case.number, Words(N_("cannot call %(number)s"),
                                                 number=repr(case.caller)), final=True)
            return
        hotline = settings.sip.service_number
        ring = settings.visits.ring_seconds
        log.info("return_visit_calling", case=case.number, attempt=case.visit_attempts)
        try:
            messages = await self._ami.action("Originate", {
                "Channel": f"PJSIP/{case.caller}@{CALLBACK_ENDPOINT}",
                "Context": VISIT_CONTEXT, "Exten": "s", "Priority": 1,
                "CallerID": f"{hotline} <{hotline}>", "Timeout": ring * 1000, "Async": "true",
                "Variable": channel_variable("IVR_VISIT_CASE", case.number),
            }, as_list=True, timeout=ring + 30)
        except AmiError as exc:
            if not self._ami.connected:
                # Whether the phone rings is unknown: the claim runs out and the visit is
                # claimed again (one attempt spent), never dialled twice at once.
                log.warning("return_visit_unknown", case=case.number, reason=str(exc))
                return
            await self.failed(case.number, Words(N_("the call could not be placed: %(error)s"),
                                                 error=str(exc)))
            return
        response = next((m for m in messages if m.get("Event") == "OriginateResponse"), {})
        if response.get("Response") != "Success":
            await self.failed(case.number, _reason(response.get("Reason", "")))
        # Answered: the AGI (``ask``) records the result.

    async def failed(self, number: str, why: str, *, final: bool = False) -> None:
        """Record a failed attempt (the next one after ``retry_after``, or unreachable)."""
        settings = self._settings
        now = self._clock.now(ZoneInfo(settings.timezone))
        try:
            case = await self._cases.visit_failed(
                number, why=why, now=now,
                max_attempts=1 if final else settings.visits.max_attempts,
                retry_at=now + timedelta(seconds=settings.visits.retry_after))
        except (RecordRefused, StorageError) as exc:
            log.warning("return_visit_not_recorded", case=number, error=str(exc))
            return
        log.info("return_visit_failed", case=number, reason=why, status=case.visit_status)

    async def ask(self, number: str, prompt: Ask) -> str:
        """The questions of one return-visit call, asked with ``prompt``; the outcome in a
        word (``closed``, ``reopened``, ``no answer``, ``unknown case``)."""
        cases, settings = self._cases, self._settings
        case = await cases.get(number) if case_number_valid(number) else None
        if case is None:
            return "unknown case"
        resolved_key = ""
        for _ in range(2):
            resolved_key = await prompt("ivr/visit-resolved", "12")
            if resolved_key in ("1", "2"):
                break
        satisfied_key = ""
        if resolved_key in ("1", "2"):
            for _ in range(2):
                satisfied_key = await prompt("ivr/visit-satisfied", "123")
                if satisfied_key in ("1", "2", "3"):
                    break
        if satisfied_key not in ("1", "2", "3"):
            await self.failed(number, Words(N_("answered without keys")))
            return "no answer"
        done = await cases.visit_answered(
            number, resolved=resolved_key == "1",
            satisfaction=Satisfaction(int(satisfied_key)),
            now=self._clock.now(ZoneInfo(settings.timezone)), deadlines=settings.deadlines)
        await prompt("ivr/visit-thanks", "")
        return "closed" if done.status == "closed" else "reopened"


Ask = Callable[[str, str], Awaitable[str]]
"""Play a prompt, listening for the given keys; return the key pressed ("" for none)."""


def _reason(code: str) -> str:
    """Asterisk's OriginateResponse reason code in words."""
    known = {"0": N_("no such channel"), "1": N_("no answer"), "3": N_("no answer"),
             "5": N_("busy"), "8": N_("congested")}
    return Words(known[code]) if code in known else Words(
        N_("not answered (reason %(code)s)"), code=code or "?")


