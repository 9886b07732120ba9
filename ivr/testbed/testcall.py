"""``ivr call``: place a test call into the sandbox and report where it went.

The call is a real SIPp phone; where it went is read from Asterisk's own AMI events for that
caller (``QueueCallerJoin``, ``AgentConnect``), so the report is what Asterisk did, not what we
hoped it would do.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field

from ivr.core.protocols.ami import AmiEvent
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.errors import IvrError
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import (
    AwaitHangUp,
    CallResult,
    HangUp,
    OperatorPhone,
    Phones,
    Press,
    Step,
    Wait,
)


@dataclass(slots=True)
class CallReport:
    caller: str
    sipp_ok: bool = False
    queue: str | None = None
    operator: str | None = None
    hold_seconds: str | None = None
    events: list[str] = field(default_factory=list)
    channel: str | None = None
    gave_up: str | None = None  # why the test call was ended before its script was done

    def describe(self) -> str:
        if self.gave_up == "no_queue":
            where = ("never reached a queue within the menu's time: is the application "
                     "running (`ivr serve`, or `make run`)? see /healthz")
        elif self.gave_up == "no_answer":
            where = (f"joined queue {self.queue!r}; no operator answered within "
                     f"{self.hold_seconds} s; are operators logged in? `ivr operators list`")
        elif self.queue is None:
            where = "never reached a queue"
        elif self.operator is None:
            where = f"joined queue {self.queue!r} but no operator answered"
        else:
            where = (
                f"joined queue {self.queue!r} and was answered by {self.operator} "
                f"after {self.hold_seconds} s"
            )
        phone = "ok" if self.sipp_ok else "the simulated phone reported a failure"
        return f"call from {self.caller}: {where} (phone: {phone})"


def random_caller() -> str:
    return "1390000" + "".join(random.choice("0123456789") for _ in range(4))  # noqa: S311


def operator_phones(settings: Settings, phones: Phones, talk: float) -> list[OperatorPhone]:
    """One simulated phone per configured operator, at its configured contact port."""
    out = []
    for op in settings.operators.values():
        port = int(op.contact.rsplit(":", 1)[1]) if op.contact.count(":") == 2 else 5060
        out.append(OperatorPhone(phones, op.endpoint, port, talk=talk))
    return out


KEY_GAP = 1.5  # seconds between keys: each answers the menu that is playing by then
SURVEY_AFTER = 8.0  # seconds after the last key: ringing, the operator's talk, then the survey
MENU_GRACE = 30.0  # seconds past the last key for the call to reach a queue
TALK_LIMIT = 120.0  # seconds an answered call (talk, survey) may last


async def place_call(
    settings: Settings, digits: str, *, caller: str | None = None,
    hang_up_after: float | None = None, survey: str | None = "5",
    answer_timeout: float = 60.0,
) -> CallReport:
    """Place one test call and report where Asterisk put it. Bounded: a call that does not
    reach a queue within the menu's time, or that no operator answers within
    ``answer_timeout`` seconds of joining one, is hung up and reported as such."""
    report = CallReport(caller or random_caller())
    ami = AmiClient(settings.ami)
    joined, answered = asyncio.Event(), asyncio.Event()

    def on_event(event: AmiEvent) -> None:
        if event.get("CallerIDNum") != report.caller:
            return
        if event.name == "QueueCallerJoin":
            report.queue = event.get("Queue")
            report.channel = event.get("Channel") or report.channel
            joined.set()
        elif event.name == "AgentConnect":
            report.operator = event.get("MemberName") or event.get("Interface")
            report.hold_seconds = event.get("HoldTime")
            answered.set()
        elif event.name == "Newchannel" and report.channel is None:
            report.channel = event.get("Channel")
        if event.name.startswith(("Queue", "Agent")):
            report.events.append(event.name)

    ami.on_event(on_event)
    await ami.start(wait=10)
    menu_time = 1.0 + len(digits) * KEY_GAP + (hang_up_after or 0.0) + MENU_GRACE
    try:
        steps: list[Step] = [Wait(1.0)]
        for key in digits:
            steps += [Press(key), Wait(KEY_GAP)]
        if hang_up_after is not None:
            steps += [Wait(hang_up_after), HangUp()]
        else:
            if survey:
                steps += [Wait(SURVEY_AFTER), Press(survey)]
            steps.append(AwaitHangUp(menu_time + answer_timeout + TALK_LIMIT))
        phones = Phones(Sandbox(settings).root, settings.sip.host, settings.sip.port)
        call = asyncio.create_task(phones.call(
            steps, caller=report.caller, service=settings.sip.service_number,
            timeout=menu_time + answer_timeout + TALK_LIMIT,
        ))
        report.gave_up = await _watch(call, joined, answered, menu_time, answer_timeout)
        if report.gave_up is not None:
            if report.gave_up == "no_answer":
                report.hold_seconds = f"{answer_timeout:g}"
            await _hang_up(ami, report.channel, call)
        result = await call
        report.sipp_ok = result.ok
        await asyncio.sleep(0.2)  # the last AMI events trail the SIP BYE
    finally:
        await ami.close()
    return report


async def _watch(
    call: asyncio.Task[CallResult], joined: asyncio.Event, answered: asyncio.Event,
    menu_time: float, answer_timeout: float,
) -> str | None:
    """None when the call ends by itself in time; else why it should be ended now."""
    for event, limit, reason in ((joined, menu_time, "no_queue"),
                                 (answered, answer_timeout, "no_answer")):
        waiter = asyncio.create_task(event.wait())
        done, _ = await asyncio.wait({call, waiter}, timeout=limit,
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if call in done:
            return None
        if waiter not in done:
            return reason
    return None


async def _hang_up(ami: AmiClient, channel: str | None, call: asyncio.Task[CallResult]) -> None:
    """End the test call from Asterisk's side (the phone then sees a BYE and stops)."""
    if channel is not None:
        with contextlib.suppress(IvrError):
            await ami.action("Hangup", {"Channel": channel})
    done, _ = await asyncio.wait({call}, timeout=10)
    if not done:
        call.cancel()  # the phone process is killed by Phones.call
