"""Callbacks that keep their place in line.

A caller waiting in a skill queue presses 1. The dialplan hands the call back to us; we store
the request with the caller's original arrival, priority and position, and put a stand-in in
the queue at that same position (an AMI Originate of a Local channel that runs ``Queue``).
When the stand-in reaches the front, the operator who answers it is rung first and then
connected to the citizen, whose phone rings next. The outcome of each attempt is recorded;
a failed attempt is retried a bounded number of times, at the front of the line.

An Originate is sent exactly once per attempt: the AMI client never re-sends an action after
a reconnect, and an attempt is written down before it is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime

import structlog

from ivr.core.numbers import EXTERNAL_NUMBER
from ivr.core.protocols.ami import AmiEvent, channel_variable
from ivr.core.records import CallbackRequest
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.storage.callbacks import Callbacks
from ivr.errors import AmiError, AmiNotConnected, CallbackRefused, IvrError, StorageError

log = structlog.get_logger("ivr.callbacks.desk")

# The stand-in may wait long in a busy queue; the Originate answers when an operator picks up.
STAND_IN_TIMEOUT_S = 4 * 3600
STAND_IN_RETRY_S = 3.0  # a stand-in lost before the citizen was called goes back this soon
STAND_IN_ENDED = "stand-in ended"  # an attempt's result when the stand-in left the line


class CallbackDesk:
    """Callbacks requested on this node and followed where it leads; see the module docstring.

    Wire ``on_event`` to the AMI client's events, ``resume_after_login`` to its ``on_ready``
    and ``on_leadership`` to the event bus's leadership changes.
    """

    def __init__(
        self, settings: Settings, callbacks: Callbacks, ami: AmiClient,
        leads: Callable[[], bool] = lambda: True, clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._settings = settings
        # With several application nodes, the leader alone follows callbacks through Asterisk's
        # events and re-arms them (the node a caller pressed 1 on makes the first attempt).
        self._leads = leads
        self._callbacks = callbacks
        self._ami = ami
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._armed: set[int] = set()  # callbacks with an attempt or a retry in this process

    def reconfigure(self, settings: Settings) -> None:
        self._settings = settings

    async def request(
        self, *, call_id: str, number: str, skill: str, priority: int, position: int,
        arrived_at: str,
    ) -> CallbackRequest:
        if not EXTERNAL_NUMBER.match(number):
            raise CallbackRefused(f"cannot call back {number!r}")
        waiting = await self._callbacks.listing("waiting")
        limits = self._settings.callbacks
        if sum(w.number == number for w in waiting) >= limits.max_per_number:
            raise CallbackRefused(
                f"this number already has {limits.max_per_number} callback(s) waiting")
        if sum(w.skill == skill for w in waiting) >= limits.max_per_queue:
            raise CallbackRefused(f"queue {skill} already has {limits.max_per_queue} callbacks "
                                  "waiting")
        request = await self._callbacks.add(
            call_id=call_id, number=number, skill=skill, priority=priority,
            position=max(1, position), arrived_at=arrived_at,
            requested_at=self._clock.now().isoformat(timespec="seconds"),
        )
        log.info("callback_requested", callback=request.id, skill=skill, position=position)
        self._spawn(self._attempt(request), request.id)
        return request

    async def resume(self) -> int:
        """After a (re)start or an AMI reconnect: re-arm every waiting callback this process is
        not already handling. A stand-in still in Asterisk is left alone (its end is reported
        by the IvrCallback event); a lost one is attempted again at the front of the line; a
        failed attempt waiting for its retry gets the rest of its delay. Returns how many
        were re-armed."""
        if not self._leads():
            return 0
        live = {m.get("Channel", "").split(";")[0] for m in
                await self._ami.action("CoreShowChannels", as_list=True, timeout=10)
                if m.get("Event") == "CoreShowChannel"}
        rearmed = 0
        for request in await self._callbacks.listing("waiting"):
            if request.id in self._armed:
                continue
            stand_in = f"Local/{request.id}@callback-queue"
            if any(channel.startswith(stand_in) for channel in live):
                continue  # still waiting in line (or ringing): nothing to do
            last = request.attempts[-1] if request.attempts else None
            if last is None:
                self._spawn(self._attempt(request), request.id)
            elif last.get("result") in {"queued", "operator answered"}:
                self._spawn(self._lost(request), request.id)
            else:
                # A stand-in that left the line before the citizen was called goes back soon;
                # the longer delay is for citizens who did not answer.
                delay = (STAND_IN_RETRY_S if last.get("result", "").startswith(STAND_IN_ENDED)
                         else self._settings.callbacks.retry_after)
                waited = self._since(last.get("at", ""))
                self._spawn(self._retry(request, delay - waited), request.id)
            rearmed += 1
        if rearmed:
            log.info("callbacks_rearmed", count=rearmed)
        return rearmed

    async def resume_after_login(self) -> None:
        """``resume`` after each AMI login; a database that is down is logged and the next
        reconnect tries again."""
        try:
            await self.resume()
        except StorageError as exc:
            log.error("callbacks_not_resumed", error=str(exc))

    def on_leadership(self, leading: bool) -> None:
        """This node took over from a leader that died: pick up the callbacks it followed."""
        if leading and self._ami.connected:
            self._spawn(self._take_over())

    async def _take_over(self) -> None:
        try:
            await self.resume()
        except IvrError as exc:
            log.error("take_over_failed", error=str(exc))

    async def _lost(self, request: CallbackRequest) -> None:
        """The stand-in vanished without reaching the citizen: try again now (it still counts
        as an attempt, so a callback cannot loop forever)."""
        request.attempts[-1]["result"] = "lost: application or Asterisk restarted"
        log.warning("callback_attempt_lost", callback=request.id, attempt=len(request.attempts))
        if len(request.attempts) >= self._settings.callbacks.max_attempts:
            request.status = "failed"
            await self._callbacks.update(request)
            return
        await self._attempt(request)

    async def _retry(self, request: CallbackRequest, wait: float) -> None:
        await asyncio.sleep(max(0.0, wait))
        await self._attempt(request)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[object, object, None], callback_id: int | None = None) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if callback_id is not None:
            self._armed.add(callback_id)
            task.add_done_callback(lambda _: self._armed.discard(callback_id))

    async def _attempt(self, request: CallbackRequest) -> None:
        first = not request.attempts
        attempt = {"n": str(len(request.attempts) + 1),
                   "at": self._clock.now().isoformat(timespec="seconds"), "result": "queued"}
        request.attempts.append(attempt)
        await self._callbacks.update(request)  # written down before it is sent
        variables = ",".join([
            channel_variable("IVR_CALLBACK_ID", request.id),
            # Inherited by the Local channel's other half, which waits in the queue.
            channel_variable("__IVR_CALLBACK_QUEUE", request.skill),
            channel_variable("__IVR_CALLBACK_PRIORITY", request.priority),
            channel_variable("__IVR_CALLBACK_POSITION", request.position if first else 1),
        ])
        try:
            messages = await self._ami.action("Originate", {
                "Channel": f"Local/{request.id}@callback-queue",
                "Context": "callback-dial", "Exten": request.number, "Priority": 1,
                "CallerID": f"{request.number} <{request.number}>",
                "Timeout": STAND_IN_TIMEOUT_S * 1000, "Async": "true", "Variable": variables,
            # as_list: wait for the OriginateResponse (the stand-in answered or gone), not just
            # Asterisk's "successfully queued".
            }, as_list=True, timeout=STAND_IN_TIMEOUT_S + 60)
        except AmiNotConnected as exc:
            # Nothing was sent: no attempt on the citizen. The resync after the reconnect
            # re-arms the callback (``resume``).
            request.attempts.remove(attempt)
            await self._callbacks.update(request)
            log.warning("callback_waits_for_ami", callback=request.id, reason=str(exc))
            return
        except AmiError as exc:
            if not self._ami.connected:
                # The link dropped: whether the stand-in is in line is unknown. The attempt
                # stays "queued"; the resync after the reconnect looks for the stand-in and
                # tries again only if it is gone, so nobody is called back twice.
                log.warning("callback_attempt_unknown", callback=request.id, reason=str(exc))
                return
            await self._attempt_failed(request, f"originate: {exc}")
            return
        response = next((m for m in messages if m.get("Event") == "OriginateResponse"), {})
        if not response and not self._ami.connected:
            log.warning("callback_attempt_unknown", callback=request.id, reason="link lost")
            return
        if response.get("Response") != "Success":
            # The citizen was not called: the stand-in left the line (Asterisk restarting, for
            # one). It goes back in line soon; the retry delay is for citizens not answering.
            await self._attempt_failed(request, f"{STAND_IN_ENDED}: {response.get('Reason', '?')}",
                                       delay=STAND_IN_RETRY_S)
            return
        attempt["result"] = "operator answered"
        await self._callbacks.update(request)
        log.info("callback_operator_answered", callback=request.id)

    def on_event(self, event: AmiEvent) -> None:
        if not self._leads():
            return
        if event.name == "UserEvent" and event.get("UserEvent") == "IvrCallback":
            self._spawn(self._citizen_leg_ended(event.get("Id"), event.get("Status")))


    async def _citizen_leg_ended(self, callback_id: str, status: str) -> None:
        waiting = await self._callbacks.listing("waiting")
        requests = [r for r in waiting if str(r.id) == callback_id]
        if not requests:
            return
        request = requests[0]
        if request.attempts:
            request.attempts[-1]["result"] = f"citizen: {status}"
        if status == "ANSWER":
            request.status = "done"
            await self._callbacks.update(request)
            log.info("callback_done", callback=request.id, attempts=len(request.attempts))
            return
        await self._attempt_failed(request, f"citizen: {status}")

    def _since(self, iso: str) -> float:
        """Seconds since an ISO time (0 if it cannot be read)."""
        try:
            return (self._clock.now() - datetime.fromisoformat(iso)).total_seconds()
        except ValueError:
            return 0.0

    async def _attempt_failed(
        self, request: CallbackRequest, why: str, delay: float | None = None
    ) -> None:
        if request.attempts:
            request.attempts[-1]["result"] = why
        log.warning("callback_attempt_failed", callback=request.id, reason=why,
                    attempt=len(request.attempts))
        if len(request.attempts) >= self._settings.callbacks.max_attempts:
            request.status = "failed"
            await self._callbacks.update(request)
            return
        await self._callbacks.update(request)
        await asyncio.sleep(self._settings.callbacks.retry_after if delay is None else delay)
        await self._attempt(request)
