"""Skill-based routing for the 12345 hotline: one pure, explainable decision per call.

No I/O, no asyncio, no clock: the shell passes facts and live figures in. The public surface:

* facts: ``RoutingFacts``, ``OpenCase``, ``Urgency``, ``OperatorState``;
* policy: ``RoutingPolicy``, ``WideningStep``, ``penalty_for``, ``render_queuerules``;
* the decision every live call runs: ``plan_call(facts, roster, load, policy) -> CallPlan``
  (queue, priority, stages, announcement, reasons), with ``Roster`` (configuration, built
  once) and ``QueueLoad`` (live figures);
* on app_queue: ``plan_stages`` (the queues a caller passes through while waiting),
  ``language_queue``, ``personal_queue``; ``expected_wait``;
* what app_queue then did: ``QueueOutcome`` (rung, skipped, answered, which stage), and
  the words for calls without a plan (``FALLBACK_REASON``, ``callback_reason``,
  ``transfer_line``).
"""

from ivr.core.routing._model import (
    MAX_LEVEL,
    MIN_LEVEL,
    OpenCase,
    OperatorState,
    RoutingFacts,
    Urgency,
)
from ivr.core.routing._outcome import (
    FALLBACK_REASON,
    QueueOutcome,
    callback_id_of,
    callback_reason,
    stage_words,
    transfer_line,
)
from ivr.core.routing._plan import (
    SKILLED_SHOWN,
    Announcement,
    CallPlan,
    QueueLoad,
    Roster,
    RosterOperator,
    expected_wait,
    plan_call,
)
from ivr.core.routing._policy import (
    DEFAULT_WIDENING,
    GENERAL_POOL_PENALTY,
    LANGUAGE_PENALTY,
    MAX_PRIORITY,
    RoutingPolicy,
    WideningStep,
    penalty_for,
    render_queuerules,
)
from ivr.core.routing._stages import (
    QueueStage,
    is_stage_queue,
    language_queue,
    personal_queue,
    plan_stages,
)

__all__ = [
    "DEFAULT_WIDENING",
    "FALLBACK_REASON",
    "GENERAL_POOL_PENALTY",
    "LANGUAGE_PENALTY",
    "MAX_LEVEL",
    "MAX_PRIORITY",
    "MIN_LEVEL",
    "SKILLED_SHOWN",
    "Announcement",
    "CallPlan",
    "OpenCase",
    "OperatorState",
    "QueueLoad",
    "QueueOutcome",
    "QueueStage",
    "Roster",
    "RosterOperator",
    "RoutingFacts",
    "RoutingPolicy",
    "Urgency",
    "WideningStep",
    "callback_id_of",
    "callback_reason",
    "expected_wait",
    "is_stage_queue",
    "language_queue",
    "penalty_for",
    "personal_queue",
    "plan_call",
    "plan_stages",
    "render_queuerules",
    "stage_words",
    "transfer_line",
]
