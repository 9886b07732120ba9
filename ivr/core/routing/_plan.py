"""``plan_call``: the one routing decision every live call runs.

Theory of operation
-------------------
The flow's route node names a skill and a base priority. ``plan_call`` turns that, the
caller's facts (urgency, open case, whether the case's operator is free), the routing policy
and the queue's live load into the whole plan the AGI driver carries out and app_queue
executes:

* the queue (the skill's, or the general queue for a skill that is not configured);
* the priority (``QUEUE_PRIO``): emergency -> the policy's emergency priority; otherwise the
  base raised by the elderly and repeat-caller bonuses, capped one below emergency and never
  below the base;
* the stages of the wait (``plan_stages``): the previous operator alone, the skill's queue
  widening by rule, ``lang-<language>``, the general pool;
* the announcement: the caller's place and, only when it can be estimated from live figures,
  the expected wait; none when an operator is free to answer at once;
* the reasons, in plain words, stored with the call.

Nothing here reads a clock, the database or Asterisk: the shell hands in values. Tests of this
function are tests of what live calls do.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from ivr.core.routing._model import RoutingFacts, Urgency
from ivr.core.routing._policy import RoutingPolicy
from ivr.core.routing._stages import QueueStage, plan_stages
from ivr.core.words import N_, Words, joined

SKILLED_SHOWN = 5
"""How many skilled operators a reason names (the best first); the rest are counted."""

class RosterOperator(Protocol):
    """What routing reads from a configured operator (``ivr.core.settings.Operator`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def skills(self) -> Mapping[str, int]: ...


@dataclass(frozen=True, slots=True)
class Roster:
    """The configuration routing plans with, built once per configuration (not per call).

    ``skilled`` maps each skill to its operators as (id, level), the highest level first.
    """

    skills: frozenset[str]
    general_queue: str
    languages: tuple[str, ...]
    skilled: Mapping[str, tuple[tuple[str, int], ...]]

    @classmethod
    def build(
        cls, skills: Iterable[str], general_queue: str, languages: Iterable[str],
        operators: Iterable[RosterOperator],
    ) -> Roster:
        by_skill: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for op in operators:
            for skill, level in op.skills.items():
                by_skill[skill].append((op.id, level))
        skilled = {skill: tuple(sorted(ops, key=lambda o: (-o[1], o[0])))
                   for skill, ops in by_skill.items()}
        return cls(frozenset(skills), general_queue, tuple(languages),
                   MappingProxyType(skilled))

    def queue_for(self, skill: str) -> str:
        """The queue a call for ``skill`` joins: its own, or the general queue if unknown."""
        return skill if skill in self.skills else self.general_queue


@dataclass(frozen=True, slots=True)
class QueueLoad:
    """The queue's live figures when the call is routed (``ivr.core.figures``).

    ``waiting``: callers in the queue now; ``available``: operators free to be rung;
    ``staffed``: available, on a call or wrapping up; ``average_handle``: today's average
    handle time in seconds (None until a call was handled); ``waiting_by_priority``: how
    many of the waiting callers have each ``QUEUE_PRIO`` (None: not known)."""

    waiting: int = 0
    available: int = 0
    staffed: int = 0
    average_handle: float | None = None
    waiting_by_priority: Mapping[int | None, int] | None = None

    def ahead_of(self, priority: int) -> int:
        """Callers app_queue will serve before a new caller at ``priority``: those waiting at
        the same or a higher priority (a caller whose priority is not known counts as ahead,
        so nobody is promised a better place than they get). Without the breakdown, all."""
        if self.waiting_by_priority is None:
            return self.waiting
        return sum(n for p, n in self.waiting_by_priority.items() if p is None or p >= priority)


@dataclass(frozen=True, slots=True)
class Announcement:
    """What the caller is told before waiting: their place (1 = next) and the expected wait
    in whole minutes, None when it cannot be estimated honestly (nobody staffs the skill)."""

    position: int
    minutes: int | None


@dataclass(frozen=True, slots=True)
class CallPlan:
    """Everything the AGI driver carries out for one routed call; ``reasons`` never empty."""

    queue: str
    priority: int
    stages: tuple[QueueStage, ...]
    announcement: Announcement | None
    reasons: tuple[str, ...]


def expected_wait(position: int, agents: int, avg_handle_time: float) -> float | None:
    """Seconds a caller at ``position`` (1 = next) should expect to wait; None if unknowable.

    ``agents`` counts operators staffing the skill (available, on a call or wrapping up).
    With all of them busy and handle times roughly exponential, one frees up every
    ``avg_handle_time / agents`` seconds on average, and the caller is served when
    ``position`` of them have: ``position * avg_handle_time / agents``. With nobody staffing
    the skill there is no honest estimate, and None tells the flow to say so instead.
    """
    if position < 1:
        raise ValueError(f"position starts at 1, got {position}")
    if not math.isfinite(avg_handle_time) or avg_handle_time < 0:
        raise ValueError(f"avg_handle_time must be >= 0 seconds, got {avg_handle_time!r}")
    if agents <= 0:
        return None
    return position * avg_handle_time / agents


def plan_call(
    facts: RoutingFacts, roster: Roster, load: QueueLoad, policy: RoutingPolicy
) -> CallPlan:
    """The plan of one routed call: queue, priority, stages, announcement and reasons."""
    reasons = [Words(N_("flow node %(node)s: skill %(skill)s, priority %(priority)s"),
                     node=facts.flow_node, skill=facts.skill, priority=facts.flow_priority)]
    queue = roster.queue_for(facts.skill)
    if queue != facts.skill:
        reasons.append(Words(N_("skill %(skill)s is not configured: general queue %(queue)s"),
                             skill=facts.skill, queue=queue))
    priority = _priority(facts, policy, reasons)
    reasons.append(_queue_reason(queue, roster))
    reasons.append(Words(N_("widening: %(schedule)s"),
                         schedule=policy.describe(facts.language)))
    case = facts.open_case
    previous = case.operator_id if case is not None and case.operator_free else None
    stages = plan_stages(
        queue=queue, general_queue=roster.general_queue, language=facts.language,
        languages=roster.languages, priority=priority, policy=policy,
        previous_operator=previous,
    )
    reasons += [Words(N_("stage %(n)s: %(reason)s"), n=n, reason=stage.reason)
                for n, stage in enumerate(stages, 1)]
    announcement = None if previous is not None else _announcement(load, priority)
    return CallPlan(queue, priority, stages, announcement, tuple(reasons))


def _priority(facts: RoutingFacts, policy: RoutingPolicy, reasons: list[Words]) -> int:
    base = facts.flow_priority
    if facts.urgency is Urgency.EMERGENCY:
        top = policy.emergency_priority
        reasons.append(Words(N_("emergency cue %(cue)s: priority %(before)s -> %(after)s"),
                             cue=repr(facts.evidence), before=base, after=max(base, top)))
        return max(base, top)
    priority = base
    ceiling = policy.emergency_priority - 1  # only emergencies reach the top
    if facts.urgency is Urgency.ELDERLY and policy.elderly_bonus:
        raised = max(priority, min(priority + policy.elderly_bonus, ceiling))
        reasons.append(Words(N_("elderly caller %(cue)s: priority %(before)s -> %(after)s"),
                             cue=repr(facts.evidence), before=priority, after=raised))
        priority = raised
    case = facts.open_case
    if case is not None and policy.repeat_caller_bonus:
        raised = max(priority, min(priority + policy.repeat_caller_bonus, ceiling))
        what = ", ".join(w for w in (case.category, case.status) if w)
        if what:
            reasons.append(Words(N_("repeat caller with open case %(case)s (%(what)s): "
                                    "priority %(before)s -> %(after)s"), case=case.case_id,
                                 what=what, before=priority, after=raised))
        else:
            reasons.append(Words(N_("repeat caller with open case %(case)s: priority "
                                    "%(before)s -> %(after)s"), case=case.case_id,
                                 before=priority, after=raised))
        priority = raised
    return priority


def _queue_reason(queue: str, roster: Roster) -> Words:
    skilled = roster.skilled.get(queue, ())
    who: Words = joined(", ", (Words(N_("%(operator)s level %(level)s"), operator=op_id,
                                     level=level) for op_id, level in skilled[:SKILLED_SHOWN]))
    if len(skilled) > SKILLED_SHOWN:
        who = Words(N_("%(who)s and %(n)s more"), who=who, n=len(skilled) - SKILLED_SHOWN)
    elif not skilled:
        who = Words(N_("nobody"))
    return Words(N_("queue %(queue)s: highest level rings first (penalty 5 - level), then "
                    "the longest idle; skilled operators: %(who)s"), queue=queue, who=who)


def _announcement(load: QueueLoad, priority: int) -> Announcement | None:
    """The caller's place and expected wait, unless an operator is free and nobody will be
    served first. The place counts only the callers served first (same or higher priority).

    The wait is estimated only from live figures: with no measured handle time today or
    nobody staffing the skill, the caller hears their place and no made-up estimate."""
    ahead = load.ahead_of(priority)
    if ahead < 1 and load.available > 0:
        return None  # answered at once: nothing to announce
    position = ahead + 1
    if load.average_handle is None:
        return Announcement(position, None)
    seconds = expected_wait(position, load.staffed, load.average_handle)
    return Announcement(position, None if seconds is None else max(1, round(seconds / 60)))
