"""The queues a caller passes through while waiting: how the routing policy runs on app_queue.

app_queue widens *within* a queue (``QUEUE_MAX_PENALTY`` raised by a ``queuerules.conf`` rule)
but a queue's members and penalties are the same for every caller, so "any operator speaking
the caller's language" and "the general pool" cannot be rules of a skill's queue. They are
*stages*: the dialplan runs ``Queue()`` with a timeout per stage and, when it expires, moves
the caller to the next stage's queue:

1. ``op-<id>`` (only for a repeat caller whose case's operator is free right now): the operator
   who handled the open case, for a few seconds;
2. the skill's queue, widening level 4+ -> level 2+ by rule, until the language step;
3. ``lang-<language>``: every logged-in operator speaking the caller's language, until the
   general-pool step;
4. the general queue, where every logged-in operator is a member (skilled ones at their level's
   penalty, the others at the general-pool penalty), with no timeout.

A caller whose queue *is* the general queue (key 0, an unknown skill) is offered to every
member at once (``QUEUE_MAX_PENALTY`` = the general-pool penalty, no widening rule): the
safety net is the fastest path to a human, never gated by time.

A caller moved to a later stage has already waited: each later stage raises their priority by
one so they go ahead of callers who only just arrived there (never to emergency level).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ivr.core.routing._policy import GENERAL_POOL_PENALTY, RoutingPolicy
from ivr.core.words import N_, Words


def language_queue(language: str) -> str:
    return f"lang-{language}"


def personal_queue(operator_id: str) -> str:
    return f"op-{operator_id}"


def is_stage_queue(queue: str) -> bool:
    """A queue of the later stages of a wait (``lang-*``, ``op-*``), not a skill's."""
    return queue.startswith(("lang-", "op-"))


@dataclass(frozen=True, slots=True)
class QueueStage:
    """One ``Queue()`` of the caller's wait. ``timeout`` None: wait there until answered."""

    queue: str
    timeout: int | None
    priority: int
    max_penalty: int
    reason: str

    def variable(self) -> str:
        """The dialplan's ``IVR_STAGE_<n>`` value: ``queue:timeout:priority:max_penalty``."""
        timeout = "" if self.timeout is None else str(self.timeout)
        return f"{self.queue}:{timeout}:{self.priority}:{self.max_penalty}"


def _step_time(policy: RoutingPolicy, *, general: bool) -> int | None:
    for step in policy.widening:
        if (step.general_pool if general else step.any_skill_with_language):
            return int(step.after_seconds)
    return None


def plan_stages(
    *,
    queue: str,
    general_queue: str,
    language: str,
    languages: Sequence[str],
    priority: int,
    policy: RoutingPolicy,
    previous_operator: str | None = None,
) -> tuple[QueueStage, ...]:
    """The stages of one call's wait, each with the reason it exists (pure).

    ``previous_operator``: the operator who handled the caller's open case, free right now;
    tried alone first for the policy's ``previous_operator_seconds`` (if not 0)."""
    stages: list[QueueStage] = []
    elapsed = 0
    alone = policy.previous_operator_seconds
    emergency_priority = policy.emergency_priority
    if previous_operator is not None and alone:
        stages.append(QueueStage(
            personal_queue(previous_operator), alone, priority, 0,
            Words(N_("%(operator)s handled the caller's open case and is free: tried alone "
                     "for %(n)s s"), operator=previous_operator, n=alone),
        ))
        elapsed = alone
    if queue == general_queue:
        # Everyone logged in is a member: no caller waits while any of them is idle.
        stages.append(QueueStage(
            queue, None, priority, GENERAL_POOL_PENALTY,
            Words(N_("the general pool %(queue)s from %(n)s s: any available operator at "
                     "once, the best level first, then the longest idle"),
                  queue=queue, n=elapsed),
        ))
        return tuple(stages)
    lang_at = _step_time(policy, general=False)
    pool_at = _step_time(policy, general=True)
    has_language_queue = language in languages and lang_at is not None
    first_end = lang_at if has_language_queue else pool_at
    start = policy.widening[0]
    stages.append(QueueStage(
        queue, None if first_end is None else max(1, first_end - elapsed), priority,
        start.max_penalty,
        Words(N_("queue %(queue)s from %(n)s s: level %(level)s+ first, widened by rule "
                 "'%(rule)s'"), queue=queue, n=elapsed, level=start.min_level,
              rule=policy.rule_name),
    ))

    def later(name: str, until: int | None, since: int, why: Words) -> QueueStage:
        bump = len(stages) - (1 if elapsed == 0 else 2)
        raised = priority if priority >= emergency_priority else min(
            priority + bump + 1, emergency_priority - 1)
        return QueueStage(
            name, None if until is None else until - since, raised, GENERAL_POOL_PENALTY,
            Words(N_("%(why)s from %(n)s s (priority %(before)s -> %(after)s: the wait "
                     "already served counts)"), why=why, n=since, before=priority,
                  after=raised),
        )

    if has_language_queue and lang_at is not None:
        stages.append(later(language_queue(language), pool_at, lang_at,
                            Words(N_("any operator speaking %(language)s"),
                                  language=language)))
    if first_end is not None and pool_at is not None:
        stages.append(later(general_queue, None, pool_at, Words(N_("the general pool"))))
    return tuple(stages)
