"""Facts the router plans a call from: the call as the IVR knows it when the flow routes it.

Every value here is a frozen slotted dataclass validated in its constructor, so a plan is
never asked about an impossible call (an empty skill, a priority of 11).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

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
    """How urgent the caller's situation is, as detected by the IVR flow (speech cues or a
    ``set`` node of the flow writing the ``urgency`` variable)."""

    NORMAL = "normal"
    ELDERLY = "elderly"
    EMERGENCY = "emergency"

    @classmethod
    def of(cls, value: str | None) -> Urgency:
        """The urgency a call variable names; anything else is a normal call."""
        try:
            return cls(value or "normal")
        except ValueError:
            return cls.NORMAL


@dataclass(frozen=True, slots=True)
class OpenCase:
    """A repeat caller's latest open case, and whether its operator could take the call now.

    ``operator_id`` is who answered the call the case was opened for (None if unknown);
    ``operator_free`` is True only when that operator is configured, logged in and available.
    """

    case_id: str
    category: str = ""
    status: str = ""
    operator_id: str | None = None
    operator_free: bool = False

    def __post_init__(self) -> None:
        if not self.case_id:
            raise ValueError("case_id must not be empty")
        if self.operator_free and not self.operator_id:
            raise ValueError(f"case {self.case_id}: a free operator needs an operator id")


@dataclass(frozen=True, slots=True)
class RoutingFacts:
    """What the router knows about one call the flow routes.

    ``skill`` and ``flow_priority`` come from the flow's route node ``flow_node``;
    ``language`` is the caller's (an enabled language); ``urgency`` and ``evidence`` (the
    words that gave it away) from speech or the flow's variables; ``open_case`` is the
    caller's latest open case, else None.
    """

    skill: str
    language: str
    flow_node: str = "route"
    flow_priority: int = 5
    urgency: Urgency = Urgency.NORMAL
    evidence: str = ""
    open_case: OpenCase | None = None

    def __post_init__(self) -> None:
        if not self.skill:
            raise ValueError("skill must not be empty")
        if not self.language:
            raise ValueError("language must not be empty")
        if not 0 <= self.flow_priority <= 10:
            raise ValueError(f"flow priority must be 0-10, got {self.flow_priority!r}")
