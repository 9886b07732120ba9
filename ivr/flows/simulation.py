"""A call simulated on a flow (``ivr flow simulate``, the admin pages): the facts a call would
arrive with at a given local time. The walk itself is the core's (``ivr.core.flow.simulate``)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.core.flow import ArrivalFacts
from ivr.core.settings import Settings
from ivr.edges.clock import Clock


def call_time(settings: Settings, at: str | None, clock: Clock) -> datetime:
    """``at`` (an ISO local date and time, in the hotline's time zone) or now;
    ``ValueError`` when ``at`` is not one."""
    zone = ZoneInfo(settings.timezone)
    return datetime.fromisoformat(at).replace(tzinfo=zone) if at else clock.now(zone)


def arrival_facts(
    settings: Settings, *, caller: str, language: str, now: datetime, speech_available: bool,
    caller_known: bool = False, open_cases: int = 0,
) -> ArrivalFacts:
    """What the flow may ask about a call from ``caller`` arriving at ``now``."""
    return ArrivalFacts(
        caller=caller, language=language, now=now, caller_known=caller_known,
        open_cases=open_cases, open_schedules=settings.schedules.open_at(now),
        holidays_today=settings.schedules.holidays_on(now.date()),
        speech_available=speech_available,
    )
