"""AGI: hostile caller data stays one inert argument of one command, read the way Asterisk reads.

Every value of the corpus goes through ``encode_command`` and is read back with a model of
res_agi.c (``agi_read_commands`` + ``agi_parse_args``): Asterisk must see exactly one command
with the value as exactly one argument, or the codec must refuse it with ``AgiError``.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.core.protocols.agi import (
    MAX_COMMAND_BYTES,
    NEED_DATA,
    AgiEnvironment,
    AgiResult,
    HandshakeReader,
    ResponseReader,
    encode_command,
    parse_handshake,
    parse_result_line,
    sanitize,
)
from ivr.errors import AgiError, HandshakeError, ProtocolError
from tests.badinput.asterisk import agi_parse_args, agi_read_commands
from tests.badinput.corpus import CALLER_TEXT, DTMF_FLOODS, RAW_BYTES


def as_asterisk_sees(line: bytes) -> list[list[bytes]]:
    """The words of every command Asterisk reads from ``line``."""
    return [agi_parse_args(command) for command in agi_read_commands(line)]


def encoded(verb: str, *args: str) -> bytes | AgiError:
    """The command line, or the codec's refusal."""
    try:
        return encode_command(verb, *args)
    except AgiError as exc:
        return exc


def inert(value: str) -> bytes:
    """What the value becomes on the wire: one line of UTF-8 (controls -> spaces)."""
    return sanitize(value).encode("utf-8")


@pytest.mark.parametrize("value", CALLER_TEXT)
def test_set_variable_value_is_one_argument(value: str) -> None:
    """SET VARIABLE with caller data: one command, three words, the value intact or refused."""
    line = encoded("SET VARIABLE", "IVR_NOTE", value)
    if isinstance(line, AgiError):
        assert "refused" in str(line)
        assert len(inert(value)) > MAX_COMMAND_BYTES - len(b'SET VARIABLE "IVR_NOTE" ""\n')
        return
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert b"\r" not in line
    assert b"\0" not in line
    assert len(line) <= MAX_COMMAND_BYTES
    assert as_asterisk_sees(line) == [[b"SET", b"VARIABLE", b"IVR_NOTE", inert(value)]]


PRINTABLE = [p for p in CALLER_TEXT if p.values[0] == sanitize(str(p.values[0]))]


@pytest.mark.parametrize("value", PRINTABLE)
def test_printable_values_round_trip_unchanged(value: str) -> None:
    """A value without control characters reaches Asterisk byte for byte as the caller gave it."""
    line = encoded("EXEC", "Verbose", value)
    if isinstance(line, AgiError):
        assert len(value.encode()) > MAX_COMMAND_BYTES - len(b'EXEC "Verbose" ""\n')
        return
    (words,) = as_asterisk_sees(line)
    assert words[2].decode("utf-8") == value


@pytest.mark.parametrize("value", CALLER_TEXT)
def test_every_argument_position_is_safe(value: str) -> None:
    """Hostile text in any argument leaves the others where they were."""
    line = encoded("STREAM FILE", value, "0123456789*#")
    if isinstance(line, AgiError):
        assert len(inert(value)) > MAX_COMMAND_BYTES - len(b'STREAM FILE "" "0123456789*#"\n')
        return
    assert as_asterisk_sees(line) == [[b"STREAM", b"FILE", inert(value), b"0123456789*#"]]


def test_overlong_value_cannot_smuggle_a_second_command() -> None:
    """Without the cap, Asterisk would read the tail of a long value as a command of its own."""
    attack = "A" * (MAX_COMMAND_BYTES - len('SET VARIABLE "IVR_NOTE" "')) + 'EXEC System "reboot"'
    naive = ('SET VARIABLE "IVR_NOTE" "' + attack + '"\n').encode()
    assert len(agi_read_commands(naive)) == 2  # the danger the cap is for
    assert agi_parse_args(agi_read_commands(naive)[1])[:2] == [b"EXEC", b"System"]
    with pytest.raises(AgiError, match="refused"):
        encode_command("SET VARIABLE", "IVR_NOTE", attack)


def test_longest_accepted_command_is_read_whole() -> None:
    """A command exactly at the limit is one command for Asterisk."""
    head = 'SET VARIABLE "IVR_NOTE" ""\n'
    value = "x" * (MAX_COMMAND_BYTES - len(head))
    line = encode_command("SET VARIABLE", "IVR_NOTE", value)
    assert len(line) == MAX_COMMAND_BYTES
    assert as_asterisk_sees(line) == [[b"SET", b"VARIABLE", b"IVR_NOTE", value.encode()]]
    with pytest.raises(AgiError):
        encode_command("SET VARIABLE", "IVR_NOTE", value + "x")


def test_multibyte_values_are_measured_in_bytes() -> None:
    """The limit counts UTF-8 bytes, not characters: 700 Chinese characters are 2100 bytes."""
    with pytest.raises(AgiError):
        encode_command("SET VARIABLE", "IVR_NOTE", "王" * 700)


def test_too_many_arguments_are_refused() -> None:
    """Asterisk silently drops words past its 127th; the codec refuses instead."""
    with pytest.raises(AgiError, match="arguments"):
        encode_command("EXEC", *(["x"] * 200))


@pytest.mark.parametrize("digits", DTMF_FLOODS)
def test_dtmf_floods_as_escape_digits(digits: str) -> None:
    """A flood of keys is one argument or refused, never a second command."""
    line = encoded("STREAM FILE", "ivr/main-menu", digits)
    if isinstance(line, AgiError):
        assert len(digits) > MAX_COMMAND_BYTES - len(b'STREAM FILE "ivr/main-menu" ""\n')
        return
    assert as_asterisk_sees(line) == [[b"STREAM", b"FILE", b"ivr/main-menu", digits.encode()]]


# ------------------------------------------------------------------------------ handshake


def handshake(**values: bytes) -> bytes:
    lines = [b"agi_request: agi://127.0.0.1/ivr", b"agi_channel: PJSIP/citizens-00000001"]
    lines += [b"agi_" + key.encode() + b": " + value for key, value in values.items()]
    return b"\n".join(lines) + b"\n\n"


@pytest.mark.parametrize("raw", RAW_BYTES)
def test_hostile_caller_id_in_the_handshake(raw: bytes) -> None:
    """Undecodable or odd caller ids are carried as text; a too-large block is refused."""
    block = handshake(callerid=raw, calleridname=raw)
    reader = HandshakeReader()
    if len(block) > 16384:
        with pytest.raises(HandshakeError, match="larger"):
            reader.receive_data(block)
        return
    reader.receive_data(block)
    env = reader.next_event()
    assert isinstance(env, AgiEnvironment)
    assert env.channel == "PJSIP/citizens-00000001"
    expected = raw.decode("utf-8", "replace").strip()
    assert env.caller_number == expected
    assert env.caller_name == expected


@pytest.mark.parametrize("value", CALLER_TEXT)
def test_caller_name_from_handshake_back_into_a_command(value: str) -> None:
    """What a caller put in their name, read from the handshake and sent back, stays inert."""
    raw = value.encode("utf-8", "surrogateescape").replace(b"\n", b" ")
    reader = HandshakeReader(max_bytes=1 << 20)
    reader.receive_data(handshake(calleridname=raw))
    env = reader.next_event()
    assert isinstance(env, AgiEnvironment)
    line = encoded("SET VARIABLE", "CALLERID(name)", env.caller_name)
    if isinstance(line, AgiError):
        assert len(inert(env.caller_name)) > MAX_COMMAND_BYTES // 2
        return
    words = as_asterisk_sees(line)
    assert len(words) == 1
    assert words[0][:3] == [b"SET", b"VARIABLE", b"CALLERID(name)"]
    assert len(words[0]) == 4


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(b"agi_channel: x\n" + b"agi_x: y\n" * 5000 + b"\n", id="many_lines"),
        pytest.param(b"agi_channel x\n\n", id="no_colon"),
        pytest.param(b"agi_channel: x\nnot_agi: y\n\n", id="foreign_key"),
        pytest.param(b"\xff\xfe\n\n", id="binary"),
        pytest.param(b"\r\n\r\n", id="crlf_only"),
        pytest.param(b"agi_channel: a\x00b\n\n", id="nul_in_value"),
        pytest.param(b":\n\n", id="bare_colon"),
    ],
)
def test_malformed_handshakes(block: bytes) -> None:
    """A handshake that is not one is a HandshakeError, never another exception."""
    reader = HandshakeReader()
    try:
        reader.receive_data(block)
        event = reader.next_event()
    except HandshakeError:
        return
    assert event is NEED_DATA or isinstance(event, AgiEnvironment)


# ------------------------------------------------------------------------------ responses


@pytest.mark.parametrize("value", CALLER_TEXT)
def test_get_variable_returns_the_value_asterisk_printed(value: str) -> None:
    """``200 result=1 (<value>)``: the data is the value, whatever brackets or '=' it holds."""
    text = sanitize(value)
    line = f"200 result=1 ({text})\n".encode()
    if len(line) > 8192:
        with pytest.raises(ProtocolError, match="longer"):
            ResponseReader().receive_line(line)
        return
    result = ResponseReader().receive_line(line)
    assert isinstance(result, AgiResult)
    assert (result.ok, result.result, result.data) == (True, 1, text)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"200 result=" + b"9" * 5000 + b"\n", id="huge_result"),
        pytest.param(b"200 result=-" + b"9" * 40 + b"\n", id="huge_negative"),
        pytest.param("²²² nonsense\n".encode(), id="superscript_code"),
        pytest.param("٥١٠ Invalid\n".encode(), id="arabic_indic_code"),
        pytest.param(b"510Invalid\n", id="code_without_space"),
        pytest.param(b"\xff\xfe\xfd\n", id="binary"),
        pytest.param(b"200 result=1 (" + b"x" * 9000 + b")\n", id="overlong"),
        pytest.param(b"\x00\x00\x00\n", id="nuls"),
    ],
)
def test_garbage_responses_are_protocol_errors(line: bytes) -> None:
    """A response Asterisk cannot have sent is a ProtocolError, not a ValueError or a guess."""
    with pytest.raises(ProtocolError):
        ResponseReader().receive_line(line)


def test_endless_usage_text_is_refused() -> None:
    """A 520 usage text that never ends is cut off with a ProtocolError, not kept in memory."""
    reader = ResponseReader()
    assert reader.receive_line(b"520-Invalid command syntax.  Proper usage follows:\n") is NEED_DATA
    for _ in range(255):
        assert reader.receive_line(b"Usage: x\n") is NEED_DATA
    with pytest.raises(ProtocolError, match="usage"):
        reader.receive_line(b"Usage: x\n")


@pytest.mark.parametrize("line", [b"200 result=1 (x)\n", b"510 Invalid or unknown command\n"])
def test_reader_is_usable_after_a_normal_response(line: bytes) -> None:
    """After one result the next line starts a new response."""
    reader = ResponseReader()
    assert isinstance(reader.receive_line(line), AgiResult)
    again = reader.receive_line(b"200 result=0\n")
    assert isinstance(again, AgiResult)
    assert again.ok


# The definition of a result line the codec had before: correct, but its greedy ``(.*)``
# before the fields backtracks quadratically. It is the oracle for what a line means.
FORMER_RESULT = re.compile(r"^200 result=(\S*)(?: \((.*)\))?((?: [A-Za-z_]+=\S*)*)\s*$")
RESULT_PIECES = st.sampled_from(
    ["(", ")", " ", "a", "=", "b", "\t", "1", "-", "x=", ") ", " (", "endpos=12", "é", "()"]
)


def former(line: str) -> tuple[str, str, dict[str, str]] | None:
    match = FORMER_RESULT.match(line)
    if match is None:
        return None
    fields = dict(i.split("=", 1) for i in match.group(3).split() if "=" in i)
    return match.group(1), match.group(2) or "", fields


@given(st.lists(RESULT_PIECES, max_size=16).map("".join))
def test_result_lines_mean_what_they_meant(tail: str) -> None:
    """Value, data and fields are split exactly as before, brackets and '=' in data included."""
    line = "200 result=" + tail
    assert parse_result_line(line) == former(line)


@pytest.mark.parametrize("key", [b"agi_uniqueid", b"agi_channel", b"agi_request"])
def test_a_repeated_handshake_key_is_refused(key: bytes) -> None:
    """Asterisk sends every key once: a second one (a spliced block) is a HandshakeError."""
    block = handshake(uniqueid=b"1.1").rstrip(b"\n") + b"\n" + key + b": 2.2"
    with pytest.raises(HandshakeError, match="repeats"):
        parse_handshake(block)


@pytest.mark.parametrize(
    ("request_url", "secret"),
    [
        ("agi://127.0.0.1:4573/ivr?secret=abc-DEF_1", "abc-DEF_1"),
        ("agi://127.0.0.1:4573/ivr?x=1&secret=abc", "abc"),
        ("agi://127.0.0.1:4573/ivr", ""),
        ("agi://127.0.0.1:4573/ivr?secretx=abc", ""),
        ("agi://127.0.0.1:4573/ivr?secret=", ""),
    ],
)
def test_the_secret_is_read_from_the_agi_url(request_url: str, secret: str) -> None:
    """Only the ``secret`` parameter of the URL counts; the script stays ``ivr``."""
    env = AgiEnvironment.from_mapping({"agi_request": request_url, "agi_channel": "x"})
    assert (env.secret, env.script) == (secret, "ivr")
