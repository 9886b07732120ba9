"""Skill-based routing for the 12345 hotline: pure, explainable, fast.

No I/O, no asyncio, no clock: the shell passes the time in. The public surface:

* facts: ``OperatorStatus``, ``OperatorState``, ``OperatorStateChanged``, ``RoutingFacts``,
  ``Urgency``, ``OpenCase``;
* policy: ``RoutingPolicy``, ``WideningStep``, ``penalty_for``, ``render_queuerules``;
* state: ``OperatorIndex`` (``apply`` each change; ``best_available`` in microseconds);
* decision: ``decide(call, operators, now, policy) -> RouteDecision`` with its reasons;
* on app_queue: ``plan_stages`` (the queues a caller passes through while waiting);
* the line: ``WaitingCall``, ``WaitingCallback``, ``line_for``, ``next_in_line``,
  ``expected_wait``.
"""

from ivr.core.routing._decide import RouteDecision, decide
from ivr.core.routing._index import Candidate, OperatorIndex, acceptable, member_penalty, rank
from ivr.core.routing._model import (
    MAX_LEVEL,
    MIN_LEVEL,
    OpenCase,
    OperatorRecord,
    OperatorState,
    OperatorStateChanged,
    OperatorStatus,
    RoutingFacts,
    Urgency,
)
from ivr.core.routing._policy import (
    DEFAULT_PRIORITIES,
    DEFAULT_WIDENING,
    GENERAL_POOL_PENALTY,
    LANGUAGE_PENALTY,
    RoutingPolicy,
    WideningStep,
    penalty_for,
    render_queuerules,
)
from ivr.core.routing._stages import (
    PREVIOUS_OPERATOR_SECONDS,
    QueueStage,
    language_queue,
    personal_queue,
    plan_stages,
)
from ivr.core.routing._waiting import (
    InLine,
    WaitingCall,
    WaitingCallback,
    expected_wait,
    line_for,
    next_in_line,
)

__all__ = [
    "DEFAULT_PRIORITIES",
    "DEFAULT_WIDENING",
    "GENERAL_POOL_PENALTY",
    "LANGUAGE_PENALTY",
    "MAX_LEVEL",
    "MIN_LEVEL",
    "PREVIOUS_OPERATOR_SECONDS",
    "Candidate",
    "InLine",
    "OpenCase",
    "OperatorIndex",
    "OperatorRecord",
    "OperatorState",
    "OperatorStateChanged",
    "OperatorStatus",
    "QueueStage",
    "RouteDecision",
    "RoutingFacts",
    "RoutingPolicy",
    "Urgency",
    "WaitingCall",
    "WaitingCallback",
    "WideningStep",
    "acceptable",
    "decide",
    "expected_wait",
    "language_queue",
    "line_for",
    "member_penalty",
    "next_in_line",
    "penalty_for",
    "personal_queue",
    "plan_stages",
    "rank",
    "render_queuerules",
]
