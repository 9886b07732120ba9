"""Counters of calls per skill and the figures derived from them.

Memory is bounded because nothing is kept per call once its outcome is known: a call adds to
the counters of the buckets it falls in (minute, interval, day) and is forgotten. ``Tally`` is
the mutable counter a bucket owns; ``Counts`` is the frozen value handed out, which also adds
up (a window is the sum of its minutes, an hour the sum of its intervals, a report row the sum
of its calls).

Definitions (the wallboard shows these; reports use the same ones):

* service level = answered within the target / (answered + abandoned). Every abandon counts
  against it, short ones included (Asterisk's ``ServicelevelPerf2``); ``abandoned_in_target``
  is kept so the lenient variant can be shown too.
* abandon rate = abandoned / (answered + abandoned): both are counted when they happen, so
  the ratio stays within 0..100 % in any window, unlike abandoned / offered.
* average speed of answer = waiting time of answered calls / answered.
* average handle time = (talk + wrap-up) / calls completed; average talk time = talk / completed.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields
from typing import Protocol


class ServiceTarget(Protocol):
    """A skill's service-level target (``ivr.core.settings.ServiceLevel`` fits)."""

    @property
    def percent(self) -> float: ...
    @property
    def seconds(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Target:
    """A service-level target: ``percent`` of calls answered within ``seconds``."""

    percent: float = 80.0
    seconds: float = 20.0

    def __post_init__(self) -> None:
        if not 0 < self.percent <= 100:
            raise ValueError(f"target percent must be in (0, 100], got {self.percent!r}")
        if not (math.isfinite(self.seconds) and self.seconds >= 0):
            raise ValueError(f"target seconds must be a finite number >= 0, got {self.seconds!r}")

    @classmethod
    def of(cls, target: ServiceTarget) -> Target:
        return cls(float(target.percent), float(target.seconds))


DEFAULT_TARGET = Target()


class Tally:
    """A bucket's mutable counters; only ``LiveFigures`` and reports write them."""

    __slots__ = (
        "abandoned",
        "abandoned_in_target",
        "answered",
        "answered_in_target",
        "completed",
        "idle_wait_seconds",
        "offered",
        "rings_unanswered",
        "talk_seconds",
        "wait_abandoned_seconds",
        "wait_answered_seconds",
        "wrap_up_seconds",
    )

    def __init__(self) -> None:
        self.offered = 0
        self.answered = 0
        self.answered_in_target = 0
        self.abandoned = 0
        self.abandoned_in_target = 0
        self.wait_answered_seconds = 0.0
        self.wait_abandoned_seconds = 0.0
        self.completed = 0
        self.talk_seconds = 0.0
        self.wrap_up_seconds = 0.0
        self.rings_unanswered = 0
        self.idle_wait_seconds = 0.0

    def add(self, other: Tally) -> None:
        """Add another bucket's counters to this one (windows, hours, reports)."""
        for name in Tally.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def freeze(self) -> Counts:
        return Counts(
            offered=self.offered,
            answered=self.answered,
            answered_in_target=self.answered_in_target,
            abandoned=self.abandoned,
            abandoned_in_target=self.abandoned_in_target,
            wait_answered_seconds=self.wait_answered_seconds,
            wait_abandoned_seconds=self.wait_abandoned_seconds,
            completed=self.completed,
            talk_seconds=self.talk_seconds,
            wrap_up_seconds=self.wrap_up_seconds,
            rings_unanswered=self.rings_unanswered,
            idle_wait_seconds=self.idle_wait_seconds,
        )


def _ratio(part: float, whole: float, scale: float = 1.0) -> float | None:
    return part * scale / whole if whole else None


@dataclass(frozen=True, slots=True)
class Counts:
    """Calls of one skill over some span of time, and the figures derived from them.

    Derived figures are None when there is nothing to derive them from (no answered call,
    no completed call), never 0 or 100 by default: an empty quarter hour has no service level.
    """

    offered: int = 0
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    abandoned_in_target: int = 0
    wait_answered_seconds: float = 0.0
    wait_abandoned_seconds: float = 0.0
    completed: int = 0
    talk_seconds: float = 0.0
    wrap_up_seconds: float = 0.0
    rings_unanswered: int = 0
    # Seconds callers waited while an operator of the queue they waited in (who could have
    # taken them) was available: the cost of gating by skill level, 0 in the general pool
    # beyond ring time. Live figures only (``LiveFigures``); reports from records leave it 0.
    idle_wait_seconds: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            *(getattr(self, name) + getattr(other, name) for name in _COUNT_FIELDS)
        )

    @property
    def service_level_percent(self) -> float | None:
        """Answered within the target, in percent of answered + abandoned."""
        return _ratio(self.answered_in_target, self.answered + self.abandoned, 100.0)

    @property
    def service_level_without_short_abandons_percent(self) -> float | None:
        """As ``service_level_percent``, ignoring callers who hung up within the target."""
        return _ratio(
            self.answered_in_target,
            self.answered + self.abandoned - self.abandoned_in_target,
            100.0,
        )

    @property
    def abandon_rate_percent(self) -> float | None:
        return _ratio(self.abandoned, self.answered + self.abandoned, 100.0)

    @property
    def average_speed_of_answer(self) -> float | None:
        return _ratio(self.wait_answered_seconds, self.answered)

    @property
    def average_talk_time(self) -> float | None:
        return _ratio(self.talk_seconds, self.completed)

    @property
    def average_handle_time(self) -> float | None:
        return _ratio(self.talk_seconds + self.wrap_up_seconds, self.completed)


_COUNT_FIELDS = tuple(f.name for f in fields(Counts))


class Outcome(enum.Enum):
    """How a call's time in a skill's queue ended."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"  # the caller hung up while waiting
    LEFT = "left"  # left unanswered otherwise: maximum wait, callback chosen, exit key


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """One call's result in one skill, the unit reports aggregate and call records store.

    ``arrived_at`` is when the caller joined the skill's queue (epoch seconds);
    ``wait_seconds`` how long they waited; ``talk_seconds`` and ``wrap_up_seconds`` are 0
    unless answered; ``completed`` is False for a call answered but still in progress.
    """

    skill: str
    arrived_at: float
    outcome: Outcome
    wait_seconds: float
    talk_seconds: float = 0.0
    wrap_up_seconds: float = 0.0
    completed: bool = True
    uniqueid: str = ""
    operator: str = ""

    def __post_init__(self) -> None:
        if not self.skill:
            raise ValueError("skill must not be empty")
        for name in ("arrived_at", "wait_seconds", "talk_seconds", "wrap_up_seconds"):
            value = getattr(self, name)
            if not math.isfinite(value) or (name != "arrived_at" and value < 0):
                raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")

    def add_to(self, tally: Tally, target: Target) -> None:
        """Count this call into ``tally`` as a report does: all at once, by arrival."""
        tally.offered += 1
        if self.outcome is Outcome.ANSWERED:
            tally.answered += 1
            tally.wait_answered_seconds += self.wait_seconds
            if self.wait_seconds <= target.seconds:
                tally.answered_in_target += 1
            if self.completed:
                tally.completed += 1
                tally.talk_seconds += self.talk_seconds
                tally.wrap_up_seconds += self.wrap_up_seconds
        elif self.outcome is Outcome.ABANDONED:
            tally.abandoned += 1
            tally.wait_abandoned_seconds += self.wait_seconds
            if self.wait_seconds <= target.seconds:
                tally.abandoned_in_target += 1
