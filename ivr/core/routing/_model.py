"""Facts the router decides from: operators' states and a waiting call's facts.

Every value here is a frozen slotted dataclass validated in its constructor, so a decision is
never asked about an impossible operator (a level 7 skill, a paused operator without a reason)
or an impossible call. Times are plain float seconds on one clock chosen by the caller (the
shell passes ``loop.time()`` or an AMI event's timestamp); this package never reads a clock.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

MIN_LEVEL = 1
MAX_LEVEL = 5


class OperatorState(enum.Enum):
    """Where an operator is in their shift, as far as routing cares."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"  # finishing the case after a call: not ringable yet
    PAUSED = "paused"  # always with a reason (break, training, ring not answered...)


class Urgency(enum.Enum):
    """How urgent the caller's situation is, as detected by the IVR flow."""

    NORMAL = "normal"
    ELDERLY = "elderly"
    EMERGENCY = "emergency"


def check_time(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")


class OperatorRecord(Protocol):
    """What routing reads from a configured operator (``ivr.core.settings.Operator`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def languages(self) -> Iterable[str]: ...
    @property
    def skills(self) -> Mapping[str, int]: ...


@dataclass(frozen=True, slots=True)
class OperatorStatus:
    """One operator's routing-relevant state since ``since`` (seconds, caller's clock).

    ``skills`` maps skill id to a level 1 (novice) .. 5 (expert). ``since`` is when the
    current state began: for an AVAILABLE operator it is when they became free, so the
    smallest ``since`` is the longest idle. ``pause_reason`` is set exactly when PAUSED.
    """

    operator_id: str
    state: OperatorState
    since: float
    skills: Mapping[str, int]
    languages: frozenset[str]
    department: str | None = None
    calls_handled: int = 0
    pause_reason: str | None = None

    def __post_init__(self) -> None:
        if not self.operator_id:
            raise ValueError("operator_id must not be empty")
        check_time("since", self.since)
        for skill, level in self.skills.items():
            if not MIN_LEVEL <= level <= MAX_LEVEL:
                raise ValueError(
                    f"{self.operator_id}: skill {skill!r} level {level} is outside "
                    f"{MIN_LEVEL}..{MAX_LEVEL}"
                )
        if self.calls_handled < 0:
            raise ValueError(f"{self.operator_id}: calls_handled must not be negative")
        if (self.state is OperatorState.PAUSED) != bool(self.pause_reason):
            raise ValueError(
                f"{self.operator_id}: a pause reason is required when paused and only then"
            )
        # Callers may pass a list or a dict they keep mutating; the status must not change
        # under an index that filed it by these values.
        object.__setattr__(self, "languages", frozenset(self.languages))
        object.__setattr__(self, "skills", MappingProxyType(dict(self.skills)))
        object.__setattr__(self, "department", self.department or None)

    @classmethod
    def for_operator(
        cls,
        operator: OperatorRecord,
        state: OperatorState,
        since: float,
        *,
        department: str | None = None,
        pause_reason: str | None = None,
    ) -> OperatorStatus:
        """The status of a configured operator, e.g. at login or after a resync."""
        return cls(
            operator_id=operator.id,
            state=state,
            since=since,
            skills=operator.skills,
            languages=frozenset(operator.languages),
            department=department,
            pause_reason=pause_reason,
        )

    def level(self, skill: str) -> int | None:
        """The operator's level in ``skill``, or None when they do not hold it."""
        return self.skills.get(skill)


@dataclass(frozen=True, slots=True)
class OperatorStateChanged:
    """A past fact: an operator moved to ``state`` at ``at`` (skills and languages unchanged).

    Leaving ON_CALL counts one more handled call. A login (skills may change) or a resync
    after an AMI reconnect is applied as a whole ``OperatorStatus`` instead.
    """

    operator_id: str
    state: OperatorState
    at: float
    pause_reason: str | None = None

    def __post_init__(self) -> None:
        check_time("at", self.at)
        if (self.state is OperatorState.PAUSED) != bool(self.pause_reason):
            raise ValueError(
                f"{self.operator_id}: a pause reason is required when paused and only then"
            )


@dataclass(frozen=True, slots=True)
class OpenCase:
    """A repeat caller's open case: who is handling it, so the call can go back to them."""

    case_id: str
    department: str | None
    operator_id: str | None


@dataclass(frozen=True, slots=True)
class RoutingFacts:
    """What the router knows about one waiting call.

    ``skill`` comes from the menu or from speech; ``arrived_at`` is when the caller joined the
    line for this skill (a callback keeps the original arrival); ``open_case`` is set for a
    repeat caller with an open case, else None.
    """

    call_id: str
    skill: str
    language: str
    arrived_at: float
    caller_number: str = ""
    urgency: Urgency = Urgency.NORMAL
    open_case: OpenCase | None = field(default=None)

    def __post_init__(self) -> None:
        if not self.call_id:
            raise ValueError("call_id must not be empty")
        if not self.skill:
            raise ValueError(f"{self.call_id}: skill must not be empty")
        if not self.language:
            raise ValueError(f"{self.call_id}: language must not be empty")
        check_time("arrived_at", self.arrived_at)
