"""Screen pops: every console of the operator receives them, slow consoles never block."""

from __future__ import annotations

import asyncio
import json

import pytest

from ivr.core.screen_pops import ScreenPop
from ivr.operators.screen_pops import ScreenPopHub


def pop(call_id: str = "c1", operator_id: str = "op1", **fields: object) -> ScreenPop:
    values: dict[str, object] = {"caller": "13800138000", "transcript": "water leak"}
    values.update(fields)
    return ScreenPop(call_id, operator_id, **values)  # type: ignore[arg-type]


def test_json_keeps_every_field_and_text_as_is() -> None:
    """The JSON a console receives carries the caller's words verbatim, lists for tuples."""
    p = pop(
        transcript='<b>water</b> leak "quoted" 水管',
        route_reasons=["repeat caller", "language zh"],
        queue_outcome=["inquiry: rang op1002"],
        previous_cases=[{"number": "6001000013", "category": "water", "status": "new"}],
        at="2026-01-01T09:00:00+08:00",
    )
    data = json.loads(p.to_json())
    assert data["transcript"] == '<b>water</b> leak "quoted" 水管'
    assert data["route_reasons"] == ["repeat caller", "language zh"]
    assert data["queue_outcome"] == ["inquiry: rang op1002"]
    assert data["previous_cases"] == [
        {"number": "6001000013", "category": "water", "status": "new"}
    ]
    assert data["call_id"] == "c1"
    assert data["operator_id"] == "op1"
    assert data["at"] == "2026-01-01T09:00:00+08:00"
    assert "水管" in p.to_json()


def test_pop_is_immutable_copy_of_what_it_was_given() -> None:
    """Changing the lists handed in afterwards does not change a published pop."""
    reasons = ["vip"]
    cases = [{"number": "1", "status": None}]
    p = pop(route_reasons=reasons, previous_cases=cases)
    reasons.append("later")
    cases[0]["number"] = "2"
    assert p.route_reasons == ("vip",)
    assert p.previous_cases == ({"number": "1", "status": ""},)


@pytest.mark.parametrize(("call_id", "operator_id"), [("", "op1"), ("c1", "")])
def test_pop_needs_call_and_operator(call_id: str, operator_id: str) -> None:
    """A pop without a call or an operator is refused."""
    with pytest.raises(ValueError, match="must not be empty"):
        ScreenPop(call_id, operator_id, caller="1")


async def test_every_console_of_the_operator_receives_the_pop() -> None:
    """Two consoles of op1 both get the pop; op2's console gets nothing."""
    hub = ScreenPopHub()
    async with (
        hub.subscribe("op1") as first,
        hub.subscribe("op1") as second,
        hub.subscribe("op2") as other,
    ):
        assert hub.publish(pop()) == 2
        assert (await asyncio.wait_for(first.get(), 1)).call_id == "c1"
        assert (await asyncio.wait_for(second.get(), 1)).call_id == "c1"
        assert other.empty()
    assert hub.subscribers("op1") == 0


async def test_unsubscribed_console_no_longer_receives() -> None:
    """After the console's block ends, publishing delivers to nobody."""
    hub = ScreenPopHub()
    async with hub.subscribe("op1"):
        assert hub.subscribers("op1") == 1
    assert hub.publish(pop()) == 0


async def test_slow_console_drops_oldest_and_never_blocks() -> None:
    """A console that does not read keeps only the newest pops; the others get all."""
    hub = ScreenPopHub(queue_size=2)
    async with hub.subscribe("op1") as slow, hub.subscribe("op1") as fast:
        received = []
        for n in range(5):
            assert hub.publish(pop(call_id=f"c{n}")) == 2
            received.append(fast.get_nowait().call_id)
        assert received == ["c0", "c1", "c2", "c3", "c4"]
        assert [slow.get_nowait().call_id, slow.get_nowait().call_id] == ["c3", "c4"]
        assert hub.dropped == 3


def test_current_pop_survives_until_the_call_ends() -> None:
    """A console opened mid-call finds the current pop; after clear there is none."""
    hub = ScreenPopHub()
    assert hub.current("op1") is None
    hub.publish(pop(call_id="c1"))
    hub.publish(pop(call_id="c2", operator_id="op2"))
    current = hub.current("op1")
    assert current is not None
    assert current.call_id == "c1"
    assert hub.clear("op1") is True
    assert hub.current("op1") is None
    other = hub.current("op2")
    assert other is not None
    assert other.call_id == "c2"


def test_late_clear_of_an_old_call_keeps_the_new_pop() -> None:
    """Clearing with the previous call's id leaves the next call's pop on screen."""
    hub = ScreenPopHub()
    hub.publish(pop(call_id="old"))
    hub.publish(pop(call_id="new"))
    assert hub.clear("op1", call_id="old") is False
    current = hub.current("op1")
    assert current is not None
    assert current.call_id == "new"
    assert hub.clear("op1", call_id="new") is True
    assert hub.clear("op1") is False


def test_queue_size_must_be_positive() -> None:
    """A hub without room for one pop is refused."""
    with pytest.raises(ValueError, match="queue_size"):
        ScreenPopHub(queue_size=0)
