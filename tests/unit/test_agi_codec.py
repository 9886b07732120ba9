"""AGI wire format: handshake, command encoding and response parsing, with no sockets."""

from __future__ import annotations

import pytest

from ivr.core.protocols.agi import (
    NEED_DATA,
    AgiEnvironment,
    AgiResult,
    HandshakeReader,
    ResponseReader,
    check_variable_name,
    encode_command,
    mset_argument,
    quote,
)
from ivr.errors import HandshakeError, ProtocolError

HANDSHAKE = (
    b"agi_network: yes\n"
    b"agi_network_script: ivr\n"
    b"agi_request: agi://127.0.0.1:4573/ivr\n"
    b"agi_channel: PJSIP/citizens-00000001\n"
    b"agi_language: zh\n"
    b"agi_uniqueid: 1700000000.1\n"
    b"agi_callerid: 13800138000\n"
    b"agi_calleridname: unknown\n"
    b"agi_context: citizens\n"
    b"agi_extension: 12345\n"
    b"agi_arg_1: first\n"
    b"agi_arg_2: second\n"
    b"\n"
)


def feed(chunks: list[bytes], max_bytes: int = 16384) -> AgiEnvironment:
    reader = HandshakeReader(max_bytes)
    for chunk in chunks:
        reader.receive_data(chunk)
    event = reader.next_event()
    assert isinstance(event, AgiEnvironment)
    return event


@pytest.mark.parametrize("split", [1, 7, 100, len(HANDSHAKE)])
def test_handshake_in_any_chunking(split: int) -> None:
    """The handshake parses the same however TCP splits it."""
    chunks = [HANDSHAKE[i : i + split] for i in range(0, len(HANDSHAKE), split)]
    env = feed(chunks)
    assert env.channel == "PJSIP/citizens-00000001"
    assert env.unique_id == "1700000000.1"
    assert env.caller_number == "13800138000"
    assert env.caller_name == ""  # Asterisk's "unknown" is no name
    assert env.language == "zh"
    assert env.arguments == ("first", "second")
    assert env.script == "ivr"


def test_incomplete_handshake_needs_data() -> None:
    """Half a header is 'not yet', not an error."""
    reader = HandshakeReader()
    reader.receive_data(HANDSHAKE[:40])
    assert reader.next_event() is NEED_DATA


def test_peer_closing_mid_handshake_is_an_error() -> None:
    """EOF before the blank line ends the session instead of spinning."""
    reader = HandshakeReader()
    reader.receive_data(HANDSHAKE[:40])
    with pytest.raises(HandshakeError, match="closed"):
        reader.receive_data(b"")


def test_oversized_handshake_is_refused() -> None:
    """A header block larger than the cap is refused as soon as the cap is passed."""
    reader = HandshakeReader(max_bytes=1024)
    with pytest.raises(HandshakeError, match="larger than 1024"):
        reader.receive_data(b"agi_x: " + b"a" * 2000)


@pytest.mark.parametrize(
    "block",
    [b"GET / HTTP/1.1\nHost: x\n\n", b"agi_request: x\n\n", b"\x00\x01\x02\n\n"],
)
def test_garbage_handshake_is_rejected(block: bytes) -> None:
    """Something that is not an AGI handshake (a port probe, HTTP) is rejected clearly."""
    reader = HandshakeReader()
    reader.receive_data(block)
    with pytest.raises(HandshakeError):
        reader.next_event()


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("plain", '"plain"'),
        ('Li "the boss"', '"Li \\"the boss\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("two\nlines", '"two lines"'),
        ("cr\r\nlf", '"cr  lf"'),
        ("nul\x00byte", '"nul byte"'),
        ("", '""'),
        (42, '"42"'),
        ("张伟", '"张伟"'),
    ],
)
def test_quote(value: str | int, wire: str) -> None:
    """Arguments are quoted so Asterisk reads exactly one argument, never a second line."""
    assert quote(value) == wire


def test_caller_data_cannot_inject_a_second_command() -> None:
    """A transcript with a newline and an AGI verb stays one command line."""
    line = encode_command("SET VARIABLE", "IVR_NOTE", 'x"\nEXEC System "rm -rf /"')
    assert line.count(b"\n") == 1
    assert line.endswith(b"\n")
    assert line.startswith(b'SET VARIABLE "IVR_NOTE" "x\\" EXEC System \\"rm -rf /\\""')


@pytest.mark.parametrize("verb", ["stream file", "EXEC\nHANGUP", "", "SET VARIABLE;"])
def test_verbs_are_checked(verb: str) -> None:
    """Only well-formed command verbs go on the wire."""
    with pytest.raises(ValueError, match="verb"):
        encode_command(verb)


@pytest.mark.parametrize("name", ["IVR_QUEUE", "CHANNEL(language)", "_x1"])
def test_good_variable_names(name: str) -> None:
    """Plain identifiers and function names are accepted as variable names."""
    assert check_variable_name(name) == name


@pytest.mark.parametrize("name", ["A B", "X\nY", "1abc", "A=B", ""])
def test_bad_variable_names(name: str) -> None:
    """Anything else is refused before reaching Asterisk."""
    with pytest.raises(ValueError, match="variable"):
        check_variable_name(name)


@pytest.mark.parametrize(("variables", "argument"), [
    ([("IVR_STAGE_1", "inquiry::5:1"), ("IVR_QUEUE", "inquiry")],
     "IVR_STAGE_1=inquiry::5:1,IVR_QUEUE=inquiry"),
    ([("IVR_TRANSFER", "+8610123"), ("IVR_ACTION", "transfer")],
     "IVR_TRANSFER=+8610123,IVR_ACTION=transfer"),
    ([], None),
    ([("IVR_SAID", "a,IVR_QUEUE=vip")], None),  # a comma would set a second variable
    ([("IVR_X", "${SHELL(id)}")], None),
    ([("IVR_X", 'a"b')], None),
    ([("IVR_X", "a b")], None),
    ([("IVR_X", "a\\b")], None),
    ([("CHANNEL(language)", "zh")], None),  # dialplan functions go through SET VARIABLE
    ([("A=B", "x")], None),
    ([("IVR_X", "1")] * 65, None),
])
def test_mset_argument(variables: list[tuple[str, str]], argument: str | None) -> None:
    """Only the application's own plain values are batched into one MSet."""
    assert mset_argument(variables) == argument


def read(lines: list[bytes]) -> AgiResult:
    reader = ResponseReader()
    for line in lines:
        outcome = reader.receive_line(line)
        if outcome is not NEED_DATA:
            assert isinstance(outcome, AgiResult)
            return outcome
    raise AssertionError("no result")


@pytest.mark.parametrize(
    ("lines", "ok", "result", "value", "data", "hung_up"),
    [
        ([b"200 result=0\n"], True, 0, "0", "", False),
        ([b"200 result=49 endpos=1234\n"], True, 49, "49", "", False),
        ([b"200 result=12 (timeout)\n"], True, 12, "12", "timeout", False),
        ([b"200 result= (timeout)\n"], True, 0, "", "timeout", False),
        ([b"200 result=1 (a value (with) parens)\n"], True, 1, "1", "a value (with) parens", False),
        ([b"200 result=-1\n"], False, -1, "-1", "", False),
        ([b"HANGUP\n", b"200 result=-1\n"], False, -1, "-1", "", True),
        ([b"511 Command Not Permitted on a dead channel or intercept routine\n"],
         False, -1, "", "", True),
        ([b"510 Invalid or unknown command\n"], False, -1, "", "", False),
        ([b"520-Invalid command syntax.  Proper usage follows:\n", b"Usage: GET DATA\n",
          b"520 End of proper usage.\n"], False, -1, "", "", False),
    ],
)
def test_responses(
    lines: list[bytes], ok: bool, result: int, value: str, data: str, hung_up: bool
) -> None:
    """Every response shape becomes one normalised AgiResult."""
    got = read(lines)
    assert (got.ok, got.result, got.value, got.data, got.hung_up) == (
        ok, result, value, data, hung_up,
    )


def test_digit_of_stream_file() -> None:
    """STREAM FILE's result is the ASCII code of the key pressed."""
    assert read([b"200 result=49 endpos=800\n"]).digit == "1"
    assert read([b"200 result=0 endpos=800\n"]).digit == ""


@pytest.mark.parametrize("line", [b"hello\n", b"2xx nope\n", b"200 nonsense\n"])
def test_malformed_response_is_a_protocol_error(line: bytes) -> None:
    """A line that is no AGI response is reported, not guessed at."""
    with pytest.raises(ProtocolError):
        ResponseReader().receive_line(line)


def test_overlong_response_line_is_a_protocol_error() -> None:
    """A response line beyond the cap is refused."""
    with pytest.raises(ProtocolError, match="longer"):
        ResponseReader().receive_line(b"200 result=1 (" + b"x" * 10000 + b")\n")
