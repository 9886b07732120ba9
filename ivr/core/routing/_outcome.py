"""What app_queue did with a call, in words: who was rung, who was skipped and why, who
answered, in which stage of the wait and after how long. Pure: the shell feeds it app_queue's
events (``AgentCalled``, ``AgentRingNoAnswer``, ``AgentConnect``, ``QueueCallerAbandon``) and
the members' states it knows when a stage first rings someone.

The plan (``plan_call``) says where a call should go and why; this says what happened, so a
call record answers both "why was I sent there" and "why did that operator answer".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.core.routing._model import OperatorState

_STATE_WORDS = {
    OperatorState.LOGGED_OUT: "logged out",
    OperatorState.AVAILABLE: "available",
    OperatorState.ON_CALL: "on a call",
    OperatorState.WRAP_UP: "wrapping up a call",
    OperatorState.PAUSED: "paused",
}


def stage_words(queue: str, general_queue: str) -> str:
    """A queue of the wait in plain words (see ``plan_stages``)."""
    if queue.startswith("op-"):
        return f"the previous operator {queue.removeprefix('op-')} alone"
    if queue.startswith("lang-"):
        return f"any operator speaking {queue.removeprefix('lang-')}"
    if queue == general_queue:
        return "the general pool"
    return f"the {queue} queue"


FALLBACK_REASON = (
    "fallback: the application did not route this call; Asterisk's dialplan offered it to "
    "every logged-in operator at once (the general pool)"
)
"""Why a call reached the general queue without a plan: the application was down, slow or
died before it chose the queue (the dialplan's ``fallback``)."""


def callback_reason(callback_id: str) -> str:
    """Why a callback stand-in rings an operator (``Local/<id>@callback-queue``)."""
    return (f"callback {callback_id}: the citizen asked to be called back and kept their "
            "place in line; answering rings you first, then the citizen")


def callback_id_of(channel: str) -> str | None:
    """The callback request id of a stand-in's channel (``Local/12@callback-queue-..;2``),
    None for any other channel."""
    head, _, rest = channel.removeprefix("Local/").partition("@")
    if not channel.startswith("Local/") or not rest.startswith("callback-queue"):
        return None
    return head if head.isdigit() else None


def transfer_line(operator: str, target: str) -> str:
    """An operator sent the citizen to a department's number."""
    return f"transferred by {operator} to department number {target}"


@dataclass(slots=True)
class QueueOutcome:
    """One call's account of app_queue's work, a line per fact, oldest first."""

    general_queue: str
    lines: list[str] = field(default_factory=list)
    _stages: set[str] = field(default_factory=set)

    def rung(self, queue: str, operator: str, others: Mapping[str, OperatorState]) -> None:
        """``operator``'s phone rings; ``others`` are the queue's other members' states when
        the stage first rings someone: those not available were skipped."""
        if queue not in self._stages:
            self._stages.add(queue)
            skipped = sorted((op, state) for op, state in others.items()
                             if op != operator and state is not OperatorState.AVAILABLE)
            words = ", ".join(f"{op} ({_STATE_WORDS[state]})" for op, state in skipped)
            self.lines.append(f"{queue} ({stage_words(queue, self.general_queue)}): "
                              + (f"skipped {words}" if words else "nobody skipped"))
        self.lines.append(f"{queue}: rang {operator}")

    def not_answered(self, queue: str, operator: str, ring_seconds: float) -> None:
        self.lines.append(f"{queue}: {operator} did not answer within {ring_seconds:.0f} s")

    def answered(self, queue: str, operator: str, held_seconds: float) -> None:
        self.lines.append(f"{queue}: answered by {operator} after {held_seconds:.0f} s in line "
                          f"({stage_words(queue, self.general_queue)})")

    def abandoned(self, queue: str, held_seconds: float) -> None:
        self.lines.append(f"{queue}: the caller hung up after {held_seconds:.0f} s in line "
                          f"({stage_words(queue, self.general_queue)})")
