"""AGI wire format, without any networking.

Theory of operation
-------------------
A FastAGI session starts with Asterisk sending a block of ``agi_<key>: <value>`` lines ended
by an empty line (the *handshake*). ``HandshakeReader`` accepts bytes as they arrive and
yields ``NEED_DATA`` until the block is complete, then an ``AgiEnvironment``. The block is
capped: a peer that sends more than ``max_bytes`` without finishing it is refused, and so is
a block that repeats a key (Asterisk sends each once). The AGI URL the dialplan calls carries
the installation's secret (``?secret=...``, ``AgiEnvironment.secret``), checked by the server.

Then the application sends one command per line and Asterisk answers each with a response:

    200 result=<int> [(<data>)] [key=value ...]     success (result -1 usually means hung up)
    510 Invalid or unknown command
    511 Command Not Permitted on a dead channel or intercept routine
    520-Invalid command syntax.  Proper usage follows:  ... 520 End of proper usage.

Asterisk may also send a lone ``HANGUP`` line at any time when the caller hangs up.
``ResponseReader`` consumes lines and yields ``NEED_DATA`` or an ``AgiResult``; it notes a
``HANGUP`` line and reports it on the next result (``hung_up=True``). Every line is parsed in
time linear in its length (``parse_result_line``), capped at 8 KB.

Commands are built with ``encode_command``: every argument is double-quoted with ``\\`` and
``"`` escaped (how Asterisk's ``parse_args`` reads them), and control characters (CR, LF, NUL
and the rest) are replaced by a space, so caller data can never end a command line early and
inject another command. Text that UTF-8 cannot carry (lone surrogates) becomes U+FFFD, as
undecodable bytes do when we read. Asterisk reads a command into a 2048-byte buffer and takes
whatever does not fit as the *next* command, so a line longer than ``MAX_COMMAND_BYTES`` is
refused with ``AgiError`` rather than sent: an overlong caller value cannot smuggle its tail in
as a command of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Final

from ivr.errors import AgiError, HandshakeError, ProtocolError


class _Sentinel(Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = _Sentinel.NEED_DATA
"""Returned by readers when more bytes are needed; not an error."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_VERB = re.compile(r"^[A-Z][A-Z ]*[A-Z]$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\([A-Za-z0-9_]*\))?$")
_RESULT_PREFIX = "200 result="
_FIELD = re.compile(r"[A-Za-z_]+=\S*")
_NON_SPACE = re.compile(r"\S*")
_INT = re.compile(r"^-?[0-9]+$")
_MAX_RESULT_DIGITS = 18  # Asterisk prints a C int; anything longer is garbage
_CODE = re.compile(r"^[0-9]{3}(?: |$)")
_MAX_LINE = 8192
_MAX_USAGE_LINES = 256  # a 520 usage text is a few dozen lines; an endless one is an attack
MAX_COMMAND_BYTES: Final = 2047
"""Longest command line (newline included) Asterisk reads whole (res_agi's AGI_BUF_LEN - 1)."""
MAX_ARGUMENTS: Final = 120
"""Asterisk keeps at most 127 words of a command (MAX_ARGS); the verb takes up to three."""


@dataclass(frozen=True, slots=True)
class AgiEnvironment:
    """What Asterisk told us about the call in the handshake."""

    request: str
    channel: str
    unique_id: str
    caller_number: str
    caller_name: str
    extension: str
    context: str
    language: str
    arguments: tuple[str, ...]
    raw: Mapping[str, str] = field(repr=False)

    @property
    def script(self) -> str:
        """The path part of ``agi://host:port/<script>?...``."""
        rest = self.request.split("://", 1)[-1]
        path = rest.split("/", 1)[1] if "/" in rest else ""
        return path.split("?", 1)[0]

    @property
    def secret(self) -> str:
        """The ``secret=`` parameter of the AGI URL (``agi://host:port/ivr?secret=...``), or ''.

        The dialplan carries the secret generated at set-up; the server refuses a session
        whose secret is missing or wrong.
        """
        query = self.request.partition("?")[2]
        for item in query.split("&"):
            key, _, value = item.partition("=")
            if key == "secret":
                return value
        return ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> AgiEnvironment:
        args = []
        n = 1
        while f"agi_arg_{n}" in values:
            args.append(values[f"agi_arg_{n}"])
            n += 1
        caller = values.get("agi_callerid", "")
        name = values.get("agi_calleridname", "")
        return cls(
            request=values.get("agi_request", ""),
            channel=values.get("agi_channel", ""),
            unique_id=values.get("agi_uniqueid", ""),
            caller_number="" if caller == "unknown" else caller,
            caller_name="" if name == "unknown" else name,
            extension=values.get("agi_extension", ""),
            context=values.get("agi_context", ""),
            language=values.get("agi_language", ""),
            arguments=tuple(args),
            raw=MappingProxyType(dict(values)),
        )


class HandshakeReader:
    """Accumulates the handshake block; see the module docstring."""

    def __init__(self, max_bytes: int = 16384) -> None:
        self._buffer = bytearray()
        self._max = max_bytes

    def receive_data(self, data: bytes) -> None:
        if not data:
            raise HandshakeError(
                f"peer closed the connection during the handshake after {len(self._buffer)} bytes"
            )
        self._buffer += data
        end = self._buffer.find(b"\n\n")
        limit = end if end >= 0 else len(self._buffer)
        if limit > self._max:
            raise HandshakeError(f"handshake larger than {self._max} bytes")

    def next_event(self) -> AgiEnvironment | _Sentinel:
        end = self._buffer.find(b"\n\n")
        if end < 0:
            return NEED_DATA
        # Asterisk sends nothing after the block until we send a command.
        return parse_handshake(bytes(self._buffer[:end]))


def parse_handshake(block: bytes) -> AgiEnvironment:
    """Parse the ``agi_*`` lines (without the final empty line)."""
    text = block.decode("utf-8", errors="replace")
    values: dict[str, str] = {}
    for raw_line in text.split("\n"):
        line = raw_line.rstrip("\r")
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_"):
            raise HandshakeError(f"not an AGI handshake line: {line[:80]!r}")
        key = key.strip()
        if key in values:
            # Asterisk sends each key once; a second one is a forged or spliced block.
            raise HandshakeError(f"handshake repeats {key[:40]!r}")
        values[key] = value.strip()
    if "agi_channel" not in values:
        raise HandshakeError("handshake has no agi_channel")
    return AgiEnvironment.from_mapping(values)


def sanitize(value: str) -> str:
    """Replace control characters (CR, LF, NUL, ...) by spaces, lone surrogates by U+FFFD."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", value))


def quote(value: str | int) -> str:
    """Quote one AGI argument so Asterisk reads it back as exactly one argument."""
    text = sanitize(str(value))
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_command(verb: str, *args: str | int) -> bytes:
    """One command line: ``VERB "arg1" "arg2"\\n``. The verb is ours, never caller data.

    Raises ``AgiError`` when the line would be longer than Asterisk reads as one command
    (``MAX_COMMAND_BYTES``) or has more arguments than it keeps.
    """
    if not _VERB.match(verb):
        raise ValueError(f"not an AGI command verb: {verb!r}")
    if len(args) > MAX_ARGUMENTS:
        raise AgiError(f"{verb}: {len(args)} arguments, Asterisk keeps at most {MAX_ARGUMENTS}")
    parts = [verb, *(quote(a) for a in args)]
    line = (" ".join(parts) + "\n").encode("utf-8")
    if len(line) > MAX_COMMAND_BYTES:
        raise AgiError(
            f"{verb}: command of {len(line)} bytes refused; Asterisk reads at most "
            f"{MAX_COMMAND_BYTES} as one command"
        )
    return line


def check_variable_name(name: str) -> str:
    """Channel variable names are ours; refuse anything that is not a plain identifier."""
    if not _VARIABLE.match(name):
        raise ValueError(f"not a channel variable name: {name!r}")
    return name


_MSET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MSET_VALUE = re.compile(r"^[A-Za-z0-9_:.+@/-]*$")
MSET_MAX_VARIABLES: Final = 64
"""MSet takes at most 99 ``name=value`` pairs (pbx_builtin_setvar_multiple); we send fewer."""


def mset_argument(variables: Sequence[tuple[str, str]]) -> str | None:
    """The argument of one ``EXEC MSet`` that sets all ``variables`` in one round trip
    (``A=1,B=x:y``), or None when it must not be used: no variables, too many, a name that is
    not a plain identifier (no dialplan functions), or a value with anything MSet's argument
    parser reads as syntax (``,`` ``=`` quotes, backslashes, parentheses, ``$``, spaces).
    Values are the application's own (queue names, stage strings, numbers); caller data goes
    through ``SET VARIABLE``, which takes any value."""
    if not variables or len(variables) > MSET_MAX_VARIABLES:
        return None
    for name, value in variables:
        if not _MSET_NAME.match(name) or not _MSET_VALUE.match(value):
            return None
    return ",".join(f"{name}={value}" for name, value in variables)


@dataclass(frozen=True, slots=True)
class AgiResult:
    """One command's outcome, normalised.

    ``ok`` is True for ``200`` with ``result >= 0``. ``hung_up`` is True when Asterisk said
    ``HANGUP``, answered ``511`` (dead channel), returned ``result=-1`` for a channel
    operation, or the connection ended.
    """

    code: int
    result: int
    data: str = ""
    value: str = ""  # the raw ``result=`` text: GET DATA puts the digits pressed here
    fields: Mapping[str, str] = field(default_factory=dict)
    hung_up: bool = False
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200 and self.result >= 0 and not self.hung_up

    @property
    def digit(self) -> str:
        """For WAIT FOR DIGIT / STREAM FILE: the key pressed, or '' for none."""
        return chr(self.result) if self.ok and self.result > 0 else ""

    @property
    def timed_out(self) -> bool:
        return self.data == "timeout"

    @classmethod
    def connection_lost(cls) -> AgiResult:
        return cls(code=0, result=-1, hung_up=True, message="connection closed")


class ResponseReader:
    """Turns response lines into ``AgiResult``s; see the module docstring."""

    def __init__(self) -> None:
        self._hangup_seen = False
        self._usage: list[str] | None = None

    @property
    def hangup_seen(self) -> bool:
        return self._hangup_seen

    def receive_line(self, raw: bytes) -> AgiResult | _Sentinel:
        if len(raw) > _MAX_LINE:
            raise ProtocolError(f"AGI response line longer than {_MAX_LINE} bytes")
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if self._usage is not None:
            if line.startswith("520 "):
                usage, self._usage = self._usage, None
                return AgiResult(code=520, result=-1, message="\n".join(usage))
            if len(self._usage) >= _MAX_USAGE_LINES:
                raise ProtocolError(f"AGI 520 usage text longer than {_MAX_USAGE_LINES} lines")
            self._usage.append(line)
            return NEED_DATA
        if line == "HANGUP":
            self._hangup_seen = True
            return NEED_DATA
        if not line:
            return NEED_DATA
        if line.startswith("520-"):
            self._usage = [line[4:]]
            return NEED_DATA
        parsed = parse_result_line(line)
        if parsed is not None:
            value, data, fields = parsed
            result = 0
            if _INT.match(value):
                if len(value.lstrip("-")) > _MAX_RESULT_DIGITS:
                    raise ProtocolError(f"AGI result out of range: {line[:80]!r}")
                result = int(value)
            return AgiResult(
                code=200,
                result=result,
                value=value,
                data=data,
                fields=fields,
                hung_up=self._hangup_seen,
            )
        code_text = line[:3]
        if _CODE.match(line) and code_text != "200":
            code = int(code_text)
            return AgiResult(
                code=code,
                result=-1,
                hung_up=self._hangup_seen or code == 511,
                message=line[4:],
            )
        raise ProtocolError(f"unexpected AGI response line: {line[:80]!r}")


def parse_result_line(line: str) -> tuple[str, str, dict[str, str]] | None:
    """``200 result=<value> [(<data>)] [key=value ...]`` split into its parts, in linear time.

    None when the line is not of that shape. The data may itself hold brackets, spaces and
    ``key=value`` text (GET VARIABLE prints a caller's name as it is): it runs to the *last*
    ``)`` after which only ``key=value`` fields follow. A regular expression with a greedy
    ``(.*)`` before the fields says the same but backtracks quadratically (an 8 KB answer held
    the event loop half a second); here the fields are peeled off the end once, token by
    token, and each candidate ``)`` is looked at once.
    """
    if not line.startswith(_RESULT_PREFIX):
        return None
    rest = line[len(_RESULT_PREFIX):]
    value_match = _NON_SPACE.match(rest)
    value = value_match.group() if value_match else ""
    tail = rest[len(value):]
    body = tail.rstrip()
    # Where a run of " key=value" fields reaching the end of ``body`` may start: the end of
    # ``body`` itself, then each field's leading space, right to left, while tokens are fields.
    starts = [len(body)]
    position = len(body)
    while position > 0:
        space = body.rfind(" ", 0, position)
        if space < 0 or not _FIELD.fullmatch(body, space + 1, position):
            break
        starts.append(space)
        position = space
    if tail[:2] == " (":
        # Greedy: the data ends at the rightmost ")" that a run of fields (or nothing) follows.
        for start in starts:
            if start >= 3 and body[start - 1] == ")":
                return value, body[2:start - 1], _fields(body[start:])
    if starts[-1] == 0:
        return value, "", _fields(body)
    return None


def _fields(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split())
