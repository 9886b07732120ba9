"""AMI values: nothing a caller says can add a header or an action."""

from __future__ import annotations

import pytest

from ivr.core.protocols.ami import (
    AmiEvent,
    MessageReader,
    action_fields,
    channel_variable,
    safe_value,
)
from ivr.errors import ProtocolError


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("Wang Fang", "Wang Fang"),
        ("x\r\nAction: Originate", "x  Action: Originate"),
        ("tab\tand\x00nul", "tab and nul"),
        (5, "5"),
        ("王芳", "王芳"),
    ],
)
def test_safe_value(value: object, safe: str) -> None:
    """Control characters become spaces: one value stays one header line."""
    assert safe_value(value) == safe


def test_overlong_values_are_cut() -> None:
    """A value never exceeds the cap."""
    assert len(safe_value("x" * 10000)) == 4096


def test_action_fields_are_made_safe() -> None:
    """An action's fields pass through safe_value and keep their names."""
    fields = action_fields("QueueAdd", {"Queue": "report", "MemberName": 'Li\r\nAction: Logoff'})
    assert fields == {"Action": "QueueAdd", "Queue": "report", "MemberName": "Li  Action: Logoff"}


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("Queue\r\nAdd", {}),
        ("QueueAdd", {"Bad Key": "x"}),
        ("QueueAdd", {"X\nY": "x"}),
        ("QueueAdd", {"ActionID": "forged"}),
        ("QueueAdd", {"Action": "Originate"}),
    ],
)
def test_bad_names_are_refused(name: str, fields: dict[str, object]) -> None:
    """Header names are ours; malformed or reserved ones are refused."""
    with pytest.raises(ValueError, match="AMI"):
        action_fields(name, fields)


def test_channel_variable() -> None:
    """Originate variables: identifier names, safe values."""
    assert channel_variable("IVR_NOTE", "a\nb") == "IVR_NOTE=a b"
    with pytest.raises(ValueError, match="variable"):
        channel_variable("A=B", "x")


def test_event_from_malformed_message_is_kept() -> None:
    """An event without a name or with odd values is carried, never fatal."""
    event = AmiEvent.from_message({"Queue": "report\r\n", "Weird": None})
    assert event.name == ""
    assert event.get("Queue") == "report  "
    assert event.get("Missing", "-") == "-"


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"Event: A\r\n\r\n"], [b"Event: A"]),
        ([b"Event: A\r\n\r\nEvent: B\r\n\r\n"], [b"Event: A", b"Event: B"]),
        ([b"Event: A\r\n", b"\r\n"], [b"Event: A"]),
        ([b"Event: A\r", b"\n\r", b"\n"], [b"Event: A"]),
        ([b"Event: A\r\n\r", b"\nEvent: B"], [b"Event: A"]),
        ([b"Event: A\r\nX: 1\r\n"], []),
        ([b"E", b"v", b"ent: A\r\n\r\nEv", b"ent: B\r\n\r\n"], [b"Event: A", b"Event: B"]),
    ],
)
def test_messages_are_split_wherever_the_chunks_end(
    chunks: list[bytes], expected: list[bytes]
) -> None:
    """Each message comes out once and whole, however the stream was cut."""
    reader = MessageReader()
    got: list[bytes] = []
    for chunk in chunks:
        got += reader.receive_data(chunk)
    assert got == expected


def test_a_message_without_an_end_is_refused_at_the_cap() -> None:
    """Past the cap an unfinished message is a ProtocolError; up to it, it is waited for."""
    reader = MessageReader(max_bytes=1000)
    assert reader.receive_data(b"Event: A\r\n\r\n" + b"x" * 1000) == [b"Event: A"]
    with pytest.raises(ProtocolError, match="longer than 1000"):
        reader.receive_data(b"x")
