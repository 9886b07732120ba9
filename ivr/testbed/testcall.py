"""``ivr call``: place a test call into the sandbox and report where it went.

The call is a real SIPp phone; where it went is read from Asterisk's own AMI events for that
caller (``QueueCallerJoin``, ``AgentConnect``), so the report is what Asterisk did, not what we
hoped it would do.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from ivr.core.protocols.ami import AmiEvent
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import AwaitHangUp, HangUp, OperatorPhone, Phones, Press, Step, Wait


@dataclass(slots=True)
class CallReport:
    caller: str
    sipp_ok: bool = False
    queue: str | None = None
    operator: str | None = None
    hold_seconds: str | None = None
    events: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.queue is None:
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


async def place_call(
    settings: Settings, digits: str, *, caller: str | None = None,
    hang_up_after: float | None = None, survey: str | None = "5",
) -> CallReport:
    report = CallReport(caller or random_caller())
    ami = AmiClient(settings.ami)

    def on_event(event: AmiEvent) -> None:
        if event.get("CallerIDNum") != report.caller:
            return
        if event.name == "QueueCallerJoin":
            report.queue = event.get("Queue")
        elif event.name == "AgentConnect":
            report.operator = event.get("MemberName") or event.get("Interface")
            report.hold_seconds = event.get("HoldTime")
        if event.name.startswith(("Queue", "Agent")):
            report.events.append(event.name)

    ami.on_event(on_event)
    await ami.start(wait=10)
    try:
        steps: list[Step] = [Wait(1.0)]
        for key in digits:
            steps += [Press(key), Wait(KEY_GAP)]
        if hang_up_after is not None:
            steps += [Wait(hang_up_after), HangUp()]
        else:
            if survey:
                steps += [Wait(SURVEY_AFTER), Press(survey)]
            steps.append(AwaitHangUp(120))
        phones = Phones(Sandbox(settings).root, settings.sip.host, settings.sip.port)
        result = await phones.call(steps, caller=report.caller, service=settings.sip.service_number)
        report.sipp_ok = result.ok
        await asyncio.sleep(0.2)  # the last AMI events trail the SIP BYE
    finally:
        await ami.close()
    return report
