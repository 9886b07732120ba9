"""A call simulated on a flow (``ivr flow simulate``, the admin pages): the facts a call would
arrive with at a given local time, and what a live call would know about its caller and the
cases it keys in. The walk itself is the core's (``ivr.core.flow.simulate``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.core.cases import CASE_NUMBER_LENGTH
from ivr.core.flow import ArrivalFacts
from ivr.core.flow.simulate import Classifier
from ivr.core.settings import Settings
from ivr.edges.clock import Clock
from ivr.edges.storage.store import Store
from ivr.errors import ConfigError
from ivr.speech.intents_file import load_intents

_CASE_NUMBER = re.compile(rf"\d{{{CASE_NUMBER_LENGTH}}}")


def call_time(settings: Settings, at: str | None, clock: Clock) -> datetime:
    """``at`` (an ISO local date and time, in the hotline's time zone) or now;
    ``ValueError`` when ``at`` is not one."""
    return local_time(settings, at) if at else clock.now(ZoneInfo(settings.timezone))


def local_time(settings: Settings, at: str) -> datetime:
    """An ISO local date and time in the hotline's time zone; ``ValueError`` if not one."""
    return datetime.fromisoformat(at).replace(tzinfo=ZoneInfo(settings.timezone))


def intent_classifier(settings: Settings) -> Classifier:
    """What a simulated caller's words are classified as: the configured intents, as the
    live speech node would (every word heard at confidence 1.0 without an intents file)."""
    try:
        catalog = load_intents(settings.speech.intents, settings.skills)
    except ConfigError:
        catalog = None

    def classify(said: str, lang: str) -> tuple[str | None, float]:
        if catalog is None:
            return None, 1.0
        found = catalog.match(said, lang)
        return found.skill, found.confidence

    return classify


def arrival_facts(
    settings: Settings, *, caller: str, language: str, now: datetime, speech_available: bool,
    caller_known: bool = False, open_cases: int = 0, variables: Mapping[str, str] | None = None,
) -> ArrivalFacts:
    """What the flow may ask about a call from ``caller`` arriving at ``now``."""
    return ArrivalFacts(
        caller=caller, language=language, now=now, caller_known=caller_known,
        open_cases=open_cases, variables=dict(variables or {}),
        open_schedules=settings.schedules.open_at(now),
        holidays_today=settings.schedules.holidays_on(now.date()),
        speech_available=speech_available,
    )


@dataclass(frozen=True, slots=True)
class CallerHistory:
    known: bool = False
    open_cases: int = 0
    cases: Mapping[str, str] = field(default_factory=dict)  # keyed case number -> readback


async def caller_history(store: Store, caller: str, digits: str) -> CallerHistory:
    """What a live call from ``caller`` keying ``digits`` would find in the database: whether
    the caller is known, how many open cases they have, and the status of each case number
    in the keys."""
    cases = await store.cases.of_caller(caller) if caller else []
    known = bool(cases) or bool(caller and await store.calls.by_caller(caller))
    lookup: dict[str, str] = {}
    for number in _CASE_NUMBER.findall(digits):
        case = await store.cases.get(number)
        if case is not None:
            lookup[number] = case.readback
    return CallerHistory(known, sum(1 for c in cases if c.is_open), lookup)
