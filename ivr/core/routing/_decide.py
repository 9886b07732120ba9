"""``decide``: one waiting call, the operators' states and the time in; a decision out.

The decision is the whole answer for both executors: the queue and ``QUEUE_PRIO`` priority
for app_queue, the widening schedule and the step in force (``QUEUE_MAX_PENALTY``), the
operator the application would connect now, and the reasons in plain words, stored with
the call so anyone can later ask why it went where it went.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ivr.core.routing._index import Candidate, OperatorIndex, member_penalty, rank
from ivr.core.routing._model import OpenCase, OperatorState, OperatorStatus, RoutingFacts, Urgency
from ivr.core.routing._policy import RoutingPolicy, WideningStep

_URGENCY_CUE = {
    Urgency.EMERGENCY: "emergency cue",
    Urgency.ELDERLY: "elderly caller",
    Urgency.NORMAL: "normal call",
}

_STATE_WORDS = {
    OperatorState.LOGGED_OUT: "logged out",
    OperatorState.AVAILABLE: "available",
    OperatorState.ON_CALL: "on a call",
    OperatorState.WRAP_UP: "wrapping up a call",
    OperatorState.PAUSED: "paused",
}


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where a call goes and why; ``reasons`` is never empty.

    ``operator`` is the best available operator right now (the preferred one when they are
    available), or None when the call must wait in ``queue``. ``preferred_operator`` is the
    repeat caller's previous operator, whatever their state. ``offer_callback`` is set when
    the caller still waits after the policy's maximum wait.
    """

    call_id: str
    queue: str
    priority: int
    waited: float
    widening: tuple[WideningStep, ...]
    step_index: int
    preferred_operator: str | None
    operator: str | None
    offer_callback: bool
    reasons: tuple[str, ...]

    @property
    def step(self) -> WideningStep:
        """The widening step in force."""
        return self.widening[self.step_index]

    @property
    def max_penalty(self) -> int:
        """``QUEUE_MAX_PENALTY`` for the step in force."""
        return self.widening[self.step_index].max_penalty

    @property
    def next_widening_at(self) -> float | None:
        """Seconds of waiting at which the next step starts, or None at the last step."""
        following = self.widening[self.step_index + 1 : self.step_index + 2]
        return following[0].after_seconds if following else None


def decide(
    call: RoutingFacts,
    operators: OperatorIndex | Iterable[OperatorStatus],
    now: float,
    policy: RoutingPolicy,
) -> RouteDecision:
    """Decide the queue, priority, widening step and operator for ``call`` at ``now``.

    ``operators`` is an ``OperatorIndex`` (microseconds per decision) or any iterable of
    statuses (scanned in full; same answer). Only AVAILABLE operators are ever chosen.
    """
    waited = max(0.0, now - call.arrived_at)
    step_index, step = policy.step_at(waited)
    case = call.open_case
    # An empty department from a case record means "none", never "operators without one".
    department = (case.department or None) if case is not None else None
    reasons: list[str] = [f"skill {call.skill}: queue {call.skill}"]

    priority = policy.priorities[call.urgency]
    cue = f"{_URGENCY_CUE[call.urgency]}: priority {priority}"
    if case is not None and policy.repeat_caller_priority > priority:
        priority = policy.repeat_caller_priority
        cue = f"repeat caller with open case {case.case_id}: priority {priority}"
    reasons.append(cue)

    reasons.append(_waiting_reason(waited, step_index, step, policy, call.language))

    index = operators if isinstance(operators, OperatorIndex) else None
    # A generator would be exhausted by the first of the two passes below.
    statuses = () if index is not None else tuple(operators)
    chosen: Candidate | None = None
    preferred = case.operator_id if case is not None else None
    if case is not None and preferred is not None:
        previous = index.get(preferred) if index is not None else _find(statuses, preferred)
        chosen = _preferred(call, previous, preferred, case, reasons)
    if case is not None and department is not None:
        reasons.append(f"repeat caller: operators of {department} (case {case.case_id}) first")

    if chosen is None:
        if index is not None:
            chosen = index.best_available(call.skill, call.language, step, department)
        else:
            chosen = _scan(statuses, call, step, department)
    following = policy.widening[step_index + 1 : step_index + 2]
    widens_in = following[0].after_seconds - waited if following else None
    reasons.append(_choice_reason(call, chosen, now, widens_in))
    limit = policy.offer_callback_after
    offer_callback = chosen is None and limit is not None and waited >= limit
    if offer_callback:
        reasons.append(f"waited {waited:.0f} s, over {limit:g} s: offer a callback")

    return RouteDecision(
        call_id=call.call_id,
        queue=call.skill,
        priority=priority,
        waited=waited,
        widening=policy.widening,
        step_index=step_index,
        preferred_operator=preferred,
        operator=chosen.status.operator_id if chosen is not None else None,
        offer_callback=offer_callback,
        reasons=tuple(reasons),
    )


def _waiting_reason(
    waited: float, step_index: int, step: WideningStep, policy: RoutingPolicy, language: str
) -> str:
    if step_index == 0:
        reason = f"waited {waited:.0f} s: {step.describe(language)}"
    else:
        reason = f"waited {waited:.0f} s: widened to {step.describe(language)}"
    following = policy.widening[step_index + 1 : step_index + 2]
    if following:
        return f"{reason}; widens at {following[0].after_seconds:g} s"
    return f"{reason}; widest step"


def _preferred(
    call: RoutingFacts,
    previous: OperatorStatus | None,
    operator_id: str,
    case: OpenCase,
    reasons: list[str],
) -> Candidate | None:
    """The repeat caller's previous operator when free to take the call, with a reason."""
    handled = f"{operator_id} who handled case {case.case_id}"
    if previous is None:
        reasons.append(
            f"repeat caller: prefers {handled}, but they are unknown here; best available instead"
        )
        return None
    if previous.state is not OperatorState.AVAILABLE:
        words = _STATE_WORDS[previous.state]
        if previous.pause_reason:
            words = f"{words} ({previous.pause_reason})"
        reasons.append(
            f"repeat caller: prefers {handled}, but they are {words}; best available instead"
        )
        return None
    if call.language not in previous.languages:
        reasons.append(
            f"repeat caller: prefers {handled}, but they do not speak {call.language}; "
            "best available instead"
        )
        return None
    reasons.append(f"repeat caller: prefers {handled}, available now")
    return Candidate(
        previous,
        member_penalty(previous, call.skill, call.language),
        bool(case.department) and previous.department == case.department,
    )


def _choice_reason(
    call: RoutingFacts,
    chosen: Candidate | None,
    now: float,
    widens_in: float | None,
) -> str:
    if chosen is None:
        later = f"; widens in {widens_in:.0f} s" if widens_in is not None else ""
        return f"no acceptable operator available: waits in queue {call.skill}{later}"
    status = chosen.status
    idle = now - status.since
    level = chosen.level
    if level is not None:
        what = f"{call.skill} level {level}"
    elif call.language in status.languages:
        what = f"speaks {call.language}, no {call.skill} skill"
    else:
        what = f"general pool, does not speak {call.language}"
    dept = f", {status.department}" if chosen.department_match else ""
    return f"chose {status.operator_id}: {what}{dept}, idle {idle:.0f} s"


def _find(operators: Iterable[OperatorStatus], operator_id: str) -> OperatorStatus | None:
    return next((s for s in operators if s.operator_id == operator_id), None)


def _scan(
    operators: Iterable[OperatorStatus],
    call: RoutingFacts,
    step: WideningStep,
    department: str | None,
) -> Candidate | None:
    """The reference answer: rank every acceptable available operator (O(operators))."""
    best: Candidate | None = None
    best_rank: tuple[int, bool, int, float, str] | None = None
    for status in operators:
        if status.state is not OperatorState.AVAILABLE:
            continue
        penalty = member_penalty(status, call.skill, call.language)
        if penalty > step.max_penalty:
            continue
        candidate = Candidate(
            status, penalty, department is not None and status.department == department
        )  # ``department`` is never "" here (see ``decide``)
        key = rank(candidate)
        if best_rank is None or key < best_rank:
            best, best_rank = candidate, key
    return best
