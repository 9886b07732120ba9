"""Property tests: the codecs on arbitrary input, checked against models of how Asterisk reads.

Each property runs a moderate number of examples so the whole folder stays fast; together
they say: a parser raises only its documented error, whatever the bytes; what we encode is
read back by Asterisk as exactly what we meant, or refused.
"""

from __future__ import annotations

import contextlib
import re
import uuid

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ivr.core.figures import LiveFigures, Target
from ivr.core.flow import parse_flow
from ivr.core.protocols.agi import (
    MAX_COMMAND_BYTES,
    NEED_DATA,
    AgiEnvironment,
    AgiResult,
    HandshakeReader,
    ResponseReader,
    encode_command,
    parse_handshake,
    sanitize,
)
from ivr.core.protocols.ami import MAX_LINE_BYTES, AmiEvent, action_fields, channel_variable
from ivr.core.protocols.audiosocket import (
    CLOSED,
    DTMF_KEYS,
    MAX_AUDIO_BYTES,
    Audio,
    FrameReader,
    KeyPressed,
    PeerError,
    StreamHungUp,
    StreamStarted,
    encode_audio,
    encode_dtmf,
    encode_error,
    encode_hangup,
    encode_uuid,
)
from ivr.core.protocols.audiosocket import (
    NEED_DATA as NEED_AUDIO,
)
from ivr.errors import AgiError, AmiError, HandshakeError, ProtocolError
from tests.badinput.asterisk import (
    agi_parse_args,
    agi_read_commands,
    app_separate_args,
    manager_read_actions,
    panoramisk_bytes,
)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any text at all: lone surrogates (undecodable bytes read with surrogateescape), control
# characters, quoting characters, and values long enough to pass every line limit.
_HOSTILE = st.text(
    alphabet=st.characters() | st.characters(categories=["Cs", "Cc"]) | st.sampled_from(
        '\r\n\x00"\\ ,()[]\t$`;|=\u202e\u0301'),
    max_size=40,
)
ANY_TEXT = st.one_of(
    _HOSTILE,
    st.tuples(st.integers(min_value=0, max_value=2200), _HOSTILE).map(
        lambda t: "A" * t[0] + t[1]
    ),
    st.tuples(_HOSTILE, st.integers(min_value=0, max_value=1200)).map(
        lambda t: t[0] + "\u738b" * t[1]  # three UTF-8 bytes each
    ),
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def one_line(value: str) -> str:
    return _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", value))


# ------------------------------------------------------------------------------ AGI


@FAST
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=512))
def test_handshake_reader_raises_only_handshake_errors(data: bytes, chunk: int) -> None:
    """Whatever a port scanner sends, the handshake reader says NEED_DATA, parses, or refuses."""
    reader = HandshakeReader(max_bytes=2048)
    with contextlib.suppress(HandshakeError):
        for i in range(0, len(data), chunk):
            reader.receive_data(data[i : i + chunk])
            event = reader.next_event()
            assert event is NEED_DATA or isinstance(event, AgiEnvironment)
        reader.receive_data(b"")


HEADER_VALUE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\n"), max_size=40
).map(str.strip)
HEADER_KEY = st.from_regex(r"\Aagi_[a-z_]{1,20}\Z")


@FAST
@given(
    st.dictionaries(HEADER_KEY, HEADER_VALUE, max_size=12),
    HEADER_VALUE, HEADER_VALUE, st.sampled_from([b"\n", b"\r\n"]),
)
def test_valid_handshakes_round_trip(
    extra: dict[str, str], channel: str, caller: str, eol: bytes
) -> None:
    """A handshake of any agi_* values parses back to exactly those values."""
    values = {**extra, "agi_channel": channel, "agi_callerid": caller}
    env = parse_handshake(eol.join(f"{k}: {v}".encode() for k, v in values.items()))
    assert dict(env.raw) == values
    assert env.channel == channel
    assert env.caller_number == ("" if caller == "unknown" else caller)


RESPONSE_LINES = st.one_of(
    st.binary(max_size=200),
    st.tuples(
        st.sampled_from(
            ["200 result=", "510", "511 ", "520-", "520 ", "２００ ", "²²² ", "HANGUP"]
        ),
        st.text(alphabet="0123456789-٣²() =a", max_size=40)
        | st.integers(min_value=19, max_value=6000).map(lambda n: "9" * n),
    ).map(lambda t: (t[0] + t[1]).encode()),
)


@FAST
@given(st.lists(RESPONSE_LINES, max_size=20))
def test_response_reader_raises_only_protocol_errors(lines: list[bytes]) -> None:
    """Arbitrary response lines give results, NEED_DATA or ProtocolError, nothing else."""
    reader = ResponseReader()
    with contextlib.suppress(ProtocolError):
        for line in lines:
            outcome = reader.receive_line(line + b"\n")
            assert outcome is NEED_DATA or isinstance(outcome, AgiResult)


RESULT_DATA = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"),
                      max_size=60)
FIELD_VALUE = st.from_regex(r"\A[!-'*-~]{0,10}\Z")  # printable, no spaces or parentheses


@FAST
@given(
    st.integers(min_value=-1, max_value=2**31 - 1),
    st.none() | RESULT_DATA,
    st.dictionaries(st.from_regex(r"\A[a-z_]{1,8}\Z"), FIELD_VALUE, max_size=3),
)
def test_results_round_trip(result: int, data: str | None, fields: dict[str, str]) -> None:
    """``200 result=N (data) k=v``: result, data and fields come back as Asterisk printed them."""
    line = f"200 result={result}"
    if data is not None:
        line += f" ({data})"
    line += "".join(f" {k}={v}" for k, v in fields.items())
    got = ResponseReader().receive_line((line + "\n").encode())
    assert isinstance(got, AgiResult)
    assert (got.code, got.result, got.value) == (200, result, str(result))
    assert got.data == (data or "")
    assert dict(got.fields) == fields


def wire_length(verb: str, *args: str) -> int:
    """The bytes a command would take on the wire, quoted as Asterisk's parse_args expects."""
    quoted = ['"' + sanitize(a).replace("\\", "\\\\").replace('"', '\\"') + '"' for a in args]
    return len(" ".join([verb, *quoted]).encode()) + 1


@FAST
@given(ANY_TEXT, ANY_TEXT)
def test_quoted_arguments_are_read_back_by_asterisk(first: str, second: str) -> None:
    """Any two texts: one command line, Asterisk's parse_args gives them back, or AgiError."""
    try:
        line = encode_command("SET VARIABLE", first, second)
    except AgiError:
        assert wire_length("SET VARIABLE", first, second) > MAX_COMMAND_BYTES
        return
    commands = agi_read_commands(line)
    assert len(commands) == 1
    assert agi_parse_args(commands[0]) == [
        b"SET", b"VARIABLE", sanitize(first).encode(), sanitize(second).encode()
    ]


@FAST
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc",)), max_size=900))
def test_printable_text_round_trips_exactly(text: str) -> None:
    """Text without control characters reaches Asterisk unchanged, byte for byte."""
    try:
        line = encode_command("EXEC", "Verbose", text)
    except AgiError:
        assert len(text.encode()) * 2 + len(b'EXEC "Verbose" ""\n') > MAX_COMMAND_BYTES
        return
    (command,) = agi_read_commands(line)
    assert agi_parse_args(command)[2].decode() == text


# ------------------------------------------------------------------------------ AMI


@FAST
@given(ANY_TEXT)
def test_ami_field_is_one_header_line_or_refused(value: str) -> None:
    """Any text as a field: Asterisk reads one action with exactly our two headers, or AmiError."""
    try:
        fields = action_fields("UserEvent", {"Body": value})
    except AmiError:
        assert len(f"Body: {one_line(value)}\r\n".encode()) > MAX_LINE_BYTES
        return
    assert fields["Body"] == one_line(value)
    actions = manager_read_actions(panoramisk_bytes(fields))
    assert actions == [[("Action", "UserEvent"), ("Body", one_line(value).lstrip(" "))]]


@FAST
@given(st.lists(ANY_TEXT, min_size=1, max_size=4))
def test_originate_variables_split_back_exactly(values: list[str]) -> None:
    """Any values joined as Originate variables split back into the same name=value pairs."""
    names = [f"IVR_V{i}" for i in range(len(values))]
    joined = ",".join(channel_variable(n, v) for n, v in zip(names, values, strict=True))
    assert [e.split("=", 1) for e in app_separate_args(joined)] == [
        [n, one_line(v)] for n, v in zip(names, values, strict=True)
    ]


@FAST
@given(st.dictionaries(st.text(max_size=10), ANY_TEXT | st.integers() | st.none(), max_size=8))
def test_events_from_any_message_are_plain_one_line_strings(message: dict[str, object]) -> None:
    """Whatever panoramisk hands over, an AmiEvent holds one-line strings."""
    event = AmiEvent.from_message(message)
    for key, value in event.fields.items():
        assert isinstance(key, str)
        assert isinstance(value, str)
        assert not _CONTROL.search(value)


T0 = 1_767_225_600.0
Q = "report"
EVENT_NAMES = st.sampled_from([
    "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled", "AgentConnect",
    "AgentComplete", "AgentRingNoAnswer", "AgentDump", "QueueMemberAdded", "QueueMemberRemoved",
    "QueueMemberStatus", "QueueMemberPause", "QueueMemberPenalty", "Newchannel",
])
FIELD_NAMES = st.sampled_from([
    "Queue", "Uniqueid", "Interface", "StateInterface", "MemberName", "HoldTime", "TalkTime",
    "Status", "Paused", "PausedReason", "InCall", "Wrapuptime",
])
FIELD_VALUES = st.one_of(
    st.sampled_from(["", " ", "0", "1", "6", "-1", "nan", "inf", "1e400", "9" * 5000, "٣", Q,
                     "ghost", "PJSIP/op-alice", "PJSIP/new", "c1", "c2", "c9"]),
    st.text(max_size=6),
)


def floor() -> LiveFigures:
    live = LiveFigures({Q: Target(80, 20)})
    for i, event in enumerate([
        AmiEvent("QueueMemberAdded", {"Queue": Q, "Interface": "PJSIP/op-alice", "Status": "1"}),
        AmiEvent("QueueMemberAdded", {"Queue": Q, "Interface": "PJSIP/op-bob", "Status": "1"}),
        AmiEvent("QueueCallerJoin", {"Queue": Q, "Uniqueid": "c1"}),
        AmiEvent("QueueCallerJoin", {"Queue": Q, "Uniqueid": "c2"}),
    ]):
        live.apply(event, T0 + i)
    return live


def observable(live: LiveFigures) -> object:
    now = T0 + 120
    return (
        live.skills(),
        live.all_figures(now),
        {s: live.operator_states(s, now) for s in live.skills()},
    )


@SOME
@given(st.lists(st.tuples(EVENT_NAMES, st.dictionaries(FIELD_NAMES, FIELD_VALUES, max_size=7)),
                min_size=1, max_size=8))
def test_an_ignored_event_never_changes_the_figures(
    events: list[tuple[str, dict[str, str]]]
) -> None:
    """Each event is either applied or counted as ignored; an ignored one changes nothing."""
    live = floor()
    for offset, (name, fields) in enumerate(events):
        before, applied = observable(live), live.events_applied
        ignored = sum(live.ignored.values())
        live.apply(AmiEvent(name, fields), T0 + 10 + offset)
        if sum(live.ignored.values()) == ignored + 1:
            assert live.events_applied == applied
            assert observable(live) == before
        else:
            assert live.events_applied == applied + 1


# ------------------------------------------------------------------------------ AudioSocket

FRAMES = st.one_of(
    st.builds(StreamHungUp),
    st.builds(StreamStarted, st.uuids()),
    st.builds(KeyPressed, st.sampled_from(sorted(DTMF_KEYS))),
    st.builds(
        Audio,
        st.integers(min_value=1, max_value=MAX_AUDIO_BYTES // 2).flatmap(
            lambda n: st.binary(min_size=2 * n, max_size=2 * n)
        ),
    ),
    st.builds(PeerError, st.none() | st.integers(min_value=0, max_value=255)),
)


def encode(frame: object) -> bytes:
    match frame:
        case StreamHungUp():
            return encode_hangup()
        case StreamStarted(call_id=call_id):
            return encode_uuid(call_id)
        case KeyPressed(key=key):
            return encode_dtmf(key)
        case Audio(pcm=pcm):
            return encode_audio(pcm)
        case PeerError(code=code):
            return encode_error(code)
    raise AssertionError(frame)


def decode(wire: bytes, chunk: int) -> list[object]:
    reader = FrameReader()
    frames: list[object] = []
    for piece in [*(wire[i : i + chunk] for i in range(0, len(wire), chunk)), b""]:
        reader.receive_data(piece)
        while (frame := reader.next_frame()) is not NEED_AUDIO and frame is not CLOSED:
            frames.append(frame)
    assert reader.next_frame() is CLOSED
    return frames


@SOME
@given(st.lists(FRAMES, max_size=12), st.integers(min_value=1, max_value=700))
def test_audiosocket_frames_round_trip_in_any_chunking(frames: list[object], chunk: int) -> None:
    """Any frames, encoded and cut anywhere, decode to the same frames in the same order."""
    assert decode(b"".join(encode(f) for f in frames), chunk) == frames


@FAST
@given(st.lists(FRAMES, min_size=1, max_size=6), st.data())
def test_one_corrupted_byte_is_a_protocol_error_or_other_valid_frames(
    frames: list[object], data: st.DataObject
) -> None:
    """Flip one byte of a valid stream: frames (maybe other ones) or ProtocolError, nothing else."""
    wire = bytearray(b"".join(encode(f) for f in frames))
    position = data.draw(st.integers(min_value=0, max_value=len(wire) - 1))
    wire[position] = data.draw(st.integers(min_value=0, max_value=255))
    with contextlib.suppress(ProtocolError):
        for frame in decode(bytes(wire), data.draw(st.integers(min_value=1, max_value=64))):
            assert isinstance(frame, StreamHungUp | StreamStarted | KeyPressed | Audio | PeerError)


@FAST
@given(st.binary(min_size=16, max_size=16))
def test_any_uuid_bytes_start_a_stream(raw: bytes) -> None:
    """Every 16-byte payload is a UUID: no version or variant is required of Asterisk."""
    assert decode(b"\x01\x00\x10" + raw, 5) == [StreamStarted(uuid.UUID(bytes=raw))]


# ------------------------------------------------------------------------------ flows

FLOW_PIECES = st.sampled_from([
    "name: f\n", "version: '1'\n", "start: a\n", "nodes:\n", "  a:\n", "    kind: menu\n",
    "    kind: play\n", "    kind: teleport\n", "    next: a\n", "    next: b\n",
    "    options: {'1': a}\n", "    retries: x\n", "    retries: !t 1\n", "    prompts: [p]\n",
    "  b: {kind: hangup}\n", "  a: {kind: route, skill: s}\n", "\t- x\n", "&x [*x]\n",
    "? [a]\n: b\n", "---\n", "...\n", "  c: *a\n", "  d: &a {kind: set}\n", "%YAML 1.1\n",
    "\x00", "'unterminated\n", "{", "}", "[", "]", ": :\n", "- - -\n",
])


HOSTILE_SCALARS = st.sampled_from([
    "x", "!t 1", "!!int abc", "!!binary eA==", "!!float nope", "!!timestamp 2026-02-31",
    "!!python/object:os.system x", "9" * 5000, "1e999", ".nan", "-.inf", "*nowhere", "&a 1",
    "[1, 2]", "{a: b}", "''", "~", "true", "0x1F", "0o17", "1_000", "'\t'", "\"\\0\"",
])
STRUCTURED_FLOWS = st.tuples(
    st.sampled_from(["retries", "timeout", "interruptible", "next", "prompts", "options", "kind"]),
    HOSTILE_SCALARS,
    st.sampled_from(["retries", "min_digits", "priority", "skill", "variable", "kind"]),
    HOSTILE_SCALARS,
).map(lambda t: (
    "name: f\nversion: '1'\nstart: m\nnodes:\n  m:\n    kind: menu\n    prompts: [p]\n"
    f"    options: {{'1': r}}\n    on_exhausted: r\n    {t[0]}: {t[1]}\n"
    f"  r: {{kind: route, skill: hotline, {t[2]}: {t[3]}}}\n"
    "  c: {kind: collect, variable: n, next: r, on_exhausted: r, retries: &bad !!int x,"
    " timeout: *bad}\n"
))


@FAST
@given(
    st.lists(FLOW_PIECES, max_size=25).map("".join)
    | st.lists(st.text(max_size=20), max_size=5).map("".join)
    | STRUCTURED_FLOWS
)
def test_any_flow_text_gives_problems_with_lines_never_an_exception(text: str) -> None:
    """Fragments of flows in any order: parse_flow returns problems with real lines."""
    assume(text.strip())
    _, problems = parse_flow(text, "fuzz.yaml")
    lines = len(re.split(r"\r\n|[\r\n\x85\u2028\u2029]", text))  # YAML's line breaks
    assert all(1 <= p.line <= lines for p in problems), problems
