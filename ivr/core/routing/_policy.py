"""The routing policy: priorities and how the acceptable operators widen as a caller waits.

The application plans each call from it (``plan_call``) and Asterisk ``app_queue`` carries
the plan out: each operator is a member of a skill's queue with a penalty (``penalty_for``)
and ``QUEUE_MAX_PENALTY`` is raised over time by a ``queuerules.conf`` rule
(``render_queuerules``), both rendered from this one policy.

Penalty ladder (lower rings first)::

    skill level 5 4 3 2 1      speaks the language, other skill   anyone (general pool)
    penalty     0 1 2 3 4      5                                    6

so each widening step is exactly "max penalty <= N".
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from ivr.core.routing._model import MAX_LEVEL, MIN_LEVEL
from ivr.core.words import N_, Words, joined

LANGUAGE_PENALTY = MAX_LEVEL - MIN_LEVEL + 1
"""Member penalty for an operator who speaks the caller's language but lacks the skill."""

GENERAL_POOL_PENALTY = LANGUAGE_PENALTY + 1
"""Member penalty for any other operator: the last resort after the longest wait."""


def penalty_for(level: int) -> int:
    """Queue member penalty for a skill level: level 5 rings first (0), level 1 last (4)."""
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ValueError(f"skill level {level} is outside {MIN_LEVEL}..{MAX_LEVEL}")
    return MAX_LEVEL - level


@dataclass(frozen=True, slots=True)
class WideningStep:
    """From ``after_seconds`` of waiting on, which operators may take the call.

    ``min_level``: operators holding the call's skill at this level or above.
    ``any_skill_with_language``: also any operator speaking the caller's language.
    ``general_pool``: also any operator at all (the caller's language is still preferred).
    """

    after_seconds: float
    min_level: int
    any_skill_with_language: bool = False
    general_pool: bool = False

    def __post_init__(self) -> None:
        # app_queue rules count whole seconds; a fractional step could not be rendered.
        if (
            not math.isfinite(self.after_seconds)
            or self.after_seconds < 0
            or not float(self.after_seconds).is_integer()
        ):
            raise ValueError(
                f"after_seconds must be whole seconds >= 0, got {self.after_seconds!r}"
            )
        penalty_for(self.min_level)  # validates the level

    @property
    def max_penalty(self) -> int:
        """``QUEUE_MAX_PENALTY`` that admits exactly this step's operators in app_queue."""
        if self.general_pool:
            return GENERAL_POOL_PENALTY
        if self.any_skill_with_language:
            return LANGUAGE_PENALTY
        return penalty_for(self.min_level)

    def describe(self, language: str) -> Words:
        """The step in plain words, for reasons and the wallboard."""
        if self.general_pool:
            return Words(N_("the general pool (any available operator, %(language)s speakers "
                            "first)"), language=language)
        if self.any_skill_with_language:
            return Words(N_("any operator speaking %(language)s"), language=language)
        return Words(N_("level %(level)s+ operators speaking %(language)s"),
                     level=self.min_level, language=language)


DEFAULT_WIDENING: tuple[WideningStep, ...] = (
    WideningStep(0, min_level=4),
    WideningStep(30, min_level=2),
    WideningStep(90, min_level=1, any_skill_with_language=True),
    WideningStep(180, min_level=1, any_skill_with_language=True, general_pool=True),
)

MAX_PRIORITY = 10
"""``QUEUE_PRIO`` runs 0 (lowest) .. 10 (highest); the flow's route nodes use the same range."""


MIN_POSITION_EVERY = 15
"""app_queue never tells a caller their place more often than every 15 s."""
MAX_POSITION_EVERY = 600


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """The one routing policy: who goes ahead (``QUEUE_PRIO``) and how the search widens.

    Loaded from ``[routing]`` of ``config/routing.toml`` and validated with the rest of the
    configuration. Priority of a call (see ``plan_call``): the flow's route node gives a base
    priority; an emergency cue sets ``emergency_priority``; otherwise an elderly caller goes
    ``elderly_bonus`` steps ahead and a caller with an open case ``repeat_caller_bonus``
    steps ahead, never reaching the emergency priority and never lowering the base.

    ``widening`` starts at 0 s, its times strictly increase and it only ever widens (levels
    never rise, flags never switch off), so a caller who waits longer is never worse off.
    ``previous_operator_seconds``: how long a repeat caller's previous operator, free right
    now, is tried alone before the skill's queue (0: never).
    ``position_every``: seconds between the place-in-line updates app_queue tells a waiting
    caller (0: only the announcement before the caller joins the queue); see
    ``ivr.core.asterisk_render.render_queues``.
    """

    widening: tuple[WideningStep, ...] = DEFAULT_WIDENING
    emergency_priority: int = MAX_PRIORITY
    elderly_bonus: int = 1
    repeat_caller_bonus: int = 1
    previous_operator_seconds: int = 20
    position_every: int = 0
    rule_name: str = "widening"

    def __post_init__(self) -> None:
        steps = self.widening
        if not steps or steps[0].after_seconds != 0:
            raise ValueError("the widening schedule must start with a step at 0 s")
        for before, after in itertools.pairwise(steps):
            if after.after_seconds <= before.after_seconds:
                raise ValueError("widening steps must be in strictly increasing time order")
            if (
                after.min_level > before.min_level
                or before.any_skill_with_language > after.any_skill_with_language
                or before.general_pool > after.general_pool
            ):
                raise ValueError(
                    f"widening step at {after.after_seconds:g} s narrows the step before it"
                )
        if not 1 <= self.emergency_priority <= MAX_PRIORITY:
            raise ValueError(
                f"emergency_priority must be 1-{MAX_PRIORITY}, got {self.emergency_priority!r}"
            )
        for name in ("elderly_bonus", "repeat_caller_bonus"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_PRIORITY:
                raise ValueError(f"{name} must be 0-{MAX_PRIORITY}, got {value!r}")
        if not 0 <= self.previous_operator_seconds <= 600:
            raise ValueError(
                "previous_operator_seconds must be 0-600, got "
                f"{self.previous_operator_seconds!r}"
            )
        if self.position_every != 0 and not (
                MIN_POSITION_EVERY <= self.position_every <= MAX_POSITION_EVERY):
            raise ValueError(
                f"position_every must be 0 (off) or {MIN_POSITION_EVERY}-{MAX_POSITION_EVERY} "
                f"seconds, got {self.position_every!r}"
            )
        later_queue = next((s.after_seconds for s in steps
                            if s.any_skill_with_language or s.general_pool), None)
        if later_queue is not None and self.previous_operator_seconds >= later_queue:
            raise ValueError(
                f"previous_operator_seconds ({self.previous_operator_seconds}) must end before "
                f"the search leaves the skill's queue at {later_queue:g} s"
            )
        if not self.rule_name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"rule_name {self.rule_name!r} is not a queuerules.conf section")
        object.__setattr__(self, "widening", tuple(steps))

    def step_at(self, waited: float) -> tuple[int, WideningStep]:
        """The step (index, step) in force after ``waited`` seconds (negative counts as 0)."""
        index = 0
        for i, step in enumerate(self.widening):
            if step.after_seconds <= waited:
                index = i
            else:
                break
        return index, self.widening[index]

    def describe(self, language: str) -> Words:
        """The widening schedule in plain words, for a call's reasons."""
        return joined("; ", (
            Words(N_("%(step)s after %(n)s s"), step=step.describe(language),
                  n=f"{step.after_seconds:g}")
            if step.after_seconds else Words(N_("%(step)s at once"),
                                             step=step.describe(language))
            for step in self.widening
        ))


def render_queuerules(policy: RoutingPolicy) -> str:
    """``queuerules.conf`` text: one section raising ``QUEUE_MAX_PENALTY`` as the caller waits.

    app_queue applies a rule only once the caller has waited its time, so the first step is
    not a rule: the dialplan sets ``QUEUE_MAX_PENALTY`` to its value (stated in the header)
    when the call joins the queue, and each later step raises it relative to the one before.
    """
    first, *later = policy.widening
    lines = [
        "; Rendered from ivr.core.routing.RoutingPolicy: edit the policy, not this file.",
        "; Member penalty = 5 - skill level; "
        f"{LANGUAGE_PENALTY} = speaks the language, other skill; "
        f"{GENERAL_POOL_PENALTY} = general pool.",
        f"; Start: the dialplan sets QUEUE_MAX_PENALTY={first.max_penalty} ({_plain(first)}).",
        f"[{policy.rule_name}]",
    ]
    previous = first.max_penalty
    for step in later:
        raise_by = step.max_penalty - previous
        previous = step.max_penalty
        lines.append(f"penaltychange => {int(step.after_seconds)},+{raise_by}  ; {_plain(step)}")
    return "\n".join(lines) + "\n"


def _plain(step: WideningStep) -> str:
    """A step in a few words for a config comment (no caller language is known there)."""
    if step.general_pool:
        return "general pool"
    if step.any_skill_with_language:
        return "any operator with the language"
    return f"level {step.min_level}+"
