"""The waiting line: callbacks keep their place; expected-wait estimates."""

from __future__ import annotations

import pytest

from ivr.core.routing import WaitingCall, WaitingCallback, expected_wait, line_for, next_in_line


def waiting(
    call_id: str, arrived_at: float, priority: int = 0, skill: str = "report"
) -> WaitingCall:
    return WaitingCall(call_id, skill, priority, arrived_at)


def callback(
    call_id: str, arrived_at: float, priority: int = 0, requested_at: float = 500.0
) -> WaitingCallback:
    return waiting(call_id, arrived_at, priority).to_callback(requested_at, "13800138000")


LINES = [
    pytest.param(
        [waiting("late", 300)], [callback("cb", 100)], ["cb", "late"], id="callback-keeps-place"
    ),
    pytest.param(
        [waiting("early", 50)], [callback("cb", 100)], ["early", "cb"], id="callback-never-jumps"
    ),
    pytest.param(
        [waiting("urgent", 400, priority=10)],
        [callback("cb", 100)],
        ["urgent", "cb"],
        id="priority-before-arrival",
    ),
    pytest.param(
        [waiting("normal", 50)],
        [callback("elderly-cb", 100, priority=5)],
        ["elderly-cb", "normal"],
        id="callback-keeps-priority",
    ),
    pytest.param([waiting("b", 100)], [callback("a", 100)], ["a", "b"], id="exact-tie-by-call-id"),
    pytest.param(
        [waiting("other", 1, skill="inquiry"), waiting("mine", 200)],
        [],
        ["mine"],
        id="other-skills-ignored",
    ),
]


@pytest.mark.parametrize(("calls", "callbacks", "order"), LINES)
def test_callbacks_keep_their_place(
    calls: list[WaitingCall], callbacks: list[WaitingCallback], order: list[str]
) -> None:
    """Live calls and callbacks share one line by priority, then original arrival."""
    line = line_for(calls, callbacks, "report")
    assert [entry.call_id for entry in line] == order
    first = next_in_line(calls, callbacks, "report")
    assert first is not None
    assert first.call_id == order[0]


def test_callback_keeps_original_arrival() -> None:
    """Asking for a callback at 500 s keeps the arrival at 100 s and the priority."""
    request = waiting("c", 100, priority=5).to_callback(500, "13800138000")
    assert (request.arrived_at, request.requested_at, request.priority) == (100, 500, 5)


def test_empty_line_has_nobody_next() -> None:
    """With nobody waiting in the skill there is no next caller."""
    assert next_in_line([waiting("x", 1, skill="inquiry")], [], "report") is None


def test_callback_requested_before_arrival_refused() -> None:
    """A callback cannot be asked for before the call arrived."""
    with pytest.raises(ValueError, match="before the call arrived"):
        callback("c", 100, requested_at=50)


@pytest.mark.parametrize(
    ("position", "agents", "aht", "expected"),
    [
        (1, 10, 300.0, 30.0),
        (10, 10, 300.0, 300.0),
        (25, 5, 240.0, 1200.0),
        (3, 1, 0.0, 0.0),
        (1, 0, 300.0, None),
    ],
)
def test_expected_wait(position: int, agents: int, aht: float, expected: float | None) -> None:
    """Expected wait is position x handle time / staffed operators; None with nobody staffed."""
    assert expected_wait(position, agents, aht) == expected


@pytest.mark.parametrize(("position", "aht"), [(0, 300.0), (1, -1.0), (1, float("nan"))])
def test_expected_wait_rejects_nonsense(position: int, aht: float) -> None:
    """Positions start at 1 and handle times are non-negative seconds."""
    with pytest.raises(ValueError, match=r"position|avg_handle_time"):
        expected_wait(position, 3, aht)
