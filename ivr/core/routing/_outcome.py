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
from ivr.core.words import N_, Words, joined

_STATE_WORDS = {
    OperatorState.LOGGED_OUT: Words(N_("logged out")),
    OperatorState.AVAILABLE: Words(N_("available")),
    OperatorState.ON_CALL: Words(N_("on a call")),
    OperatorState.WRAP_UP: Words(N_("wrapping up a call")),
    OperatorState.PAUSED: Words(N_("paused")),
}


def stage_words(queue: str, general_queue: str) -> Words:
    """A queue of the wait in plain words (see ``plan_stages``)."""
    if queue.startswith("op-"):
        return Words(N_("the previous operator %(operator)s alone"),
                     operator=queue.removeprefix("op-"))
    if queue.startswith("lang-"):
        return Words(N_("any operator speaking %(language)s"),
                     language=queue.removeprefix("lang-"))
    if queue == general_queue:
        return Words(N_("the general pool"))
    return Words(N_("the %(queue)s queue"), queue=queue)


FALLBACK_REASON = Words(N_(
    "fallback: the application did not route this call; Asterisk's dialplan offered it to "
    "every logged-in operator at once (the general pool)"
))
"""Why a call reached the general queue without a plan: the application was down, slow or
died before it chose the queue (the dialplan's ``fallback``)."""


def callback_reason(callback_id: str) -> Words:
    """Why a callback stand-in rings an operator (``Local/<id>@callback-queue``)."""
    return Words(N_("callback %(callback)s: the citizen asked to be called back and kept "
                    "their place in line; answering rings you first, then the citizen"),
                 callback=callback_id)


def callback_id_of(channel: str) -> str | None:
    """The callback request id of a stand-in's channel (``Local/12@callback-queue-..;2``),
    None for any other channel."""
    head, _, rest = channel.removeprefix("Local/").partition("@")
    if not channel.startswith("Local/") or not rest.startswith("callback-queue"):
        return None
    return head if head.isdigit() else None


def transfer_line(operator: str, target: str) -> Words:
    """An operator sent the citizen to a department's number."""
    return Words(N_("transferred by %(operator)s to department number %(target)s"),
                 operator=operator, target=target)


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
            stage = stage_words(queue, self.general_queue)
            if skipped:
                words = joined(", ", (Words(N_("%(operator)s (%(state)s)"), operator=op,
                                            state=_STATE_WORDS[state])
                                      for op, state in skipped))
                self.lines.append(Words(N_("%(queue)s (%(stage)s): skipped %(who)s"),
                                        queue=queue, stage=stage, who=words))
            else:
                self.lines.append(Words(N_("%(queue)s (%(stage)s): nobody skipped"),
                                        queue=queue, stage=stage))
        self.lines.append(Words(N_("%(queue)s: rang %(operator)s"), queue=queue,
                                operator=operator))

    def not_answered(self, queue: str, operator: str, ring_seconds: float) -> None:
        self.lines.append(Words(N_("%(queue)s: %(operator)s did not answer within %(n)s s"),
                                queue=queue, operator=operator, n=f"{ring_seconds:.0f}"))

    def answered(self, queue: str, operator: str, held_seconds: float) -> None:
        self.lines.append(Words(N_("%(queue)s: answered by %(operator)s after %(n)s s in line "
                                   "(%(stage)s)"), queue=queue, operator=operator,
                                n=f"{held_seconds:.0f}",
                                stage=stage_words(queue, self.general_queue)))

    def abandoned(self, queue: str, held_seconds: float) -> None:
        self.lines.append(Words(N_("%(queue)s: the caller hung up after %(n)s s in line "
                                   "(%(stage)s)"), queue=queue, n=f"{held_seconds:.0f}",
                                stage=stage_words(queue, self.general_queue)))
