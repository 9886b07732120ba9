"""AMI values and events, without networking.

AMI is ``Key: Value`` lines ended by CRLF, a message ended by an empty line. panoramisk writes
values verbatim, so a CR or LF inside a value (a caller name, a transcript) would end the
header early and smuggle in a second header or a whole second action. ``action_fields``
refuses bad keys and replaces control characters in values with spaces before anything
reaches the library.

Asterisk reads an action line into a 1024-byte buffer (``inbuf`` in main/manager.c): a longer
line is dropped with its whole action in current versions, and older ones took the tail as a
header line of its own. ``action_fields`` therefore refuses, with ``AmiError``, a field whose
line would not fit (``MAX_LINE_BYTES``), rather than cutting the value short.

``channel_variable`` escapes what Asterisk's argument splitter reads in an Originate
``Variable`` header (``,`` between variables, quotes, brackets and parentheses that group,
``\\`` that escapes), so a value stays one variable and cannot swallow the next one.

What Asterisk sends is split into messages by ``MessageReader``: bytes in, each message's
bytes out, found by scanning every byte once (a message arriving a few bytes at a time is not
re-scanned from its start on every chunk) and capped at ``MAX_MESSAGE_BYTES``: a peer that
never ends a message is refused with ``ProtocolError`` instead of growing the buffer forever.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ivr.errors import AmiError, ProtocolError

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_()-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_APP_ARG_SPECIAL = re.compile(r'([\\,()\[\]"])')
MAX_VALUE = 4096
MAX_LINE_BYTES = 1024
"""Longest action line Asterisk reads whole, ``Key: value`` and CRLF included."""
MAX_MESSAGE_BYTES = 1 << 20
"""Longest message we keep waiting for its end (Asterisk's are a few hundred bytes; a
``Response: Follows`` body may be tens of kilobytes)."""
_END = b"\r\n\r\n"


def _one_line(value: object) -> str:
    return _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", str(value)))


def safe_value(value: object) -> str:
    """One line, at most ``MAX_VALUE`` characters (for events we read, where cutting is fine)."""
    return _one_line(value)[:MAX_VALUE]


def action_fields(name: str, fields: Mapping[str, object]) -> dict[str, str]:
    """The fields of an AMI action, made safe.

    Raises ValueError for a bad key or action name (our bug), ``AmiError`` for a value too long
    for one AMI line (``MAX_LINE_BYTES``); a value is never cut short.
    """
    if not _KEY.match(name):
        raise ValueError(f"not an AMI action name: {name!r}")
    out = {"Action": name}
    for key, value in fields.items():
        if not _KEY.match(key) or key.lower() in {"action", "actionid"}:
            raise ValueError(f"not an AMI header name: {key!r}")
        text = _one_line(value)
        size = len(f"{key}: {text}\r\n".encode())
        if size > MAX_LINE_BYTES:
            raise AmiError(
                f"{name}: {key} refused: {size} bytes, Asterisk reads at most "
                f"{MAX_LINE_BYTES} per line"
            )
        out[key] = text
    return out


def channel_variable(name: str, value: object) -> str:
    """A ``Variable: NAME=value`` entry for Originate; the name must be an identifier.

    The value is escaped so that several entries joined with ``,`` split back into the same
    variables in Asterisk.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a channel variable name: {name!r}")
    escaped = _APP_ARG_SPECIAL.sub(r"\\\1", _one_line(value))
    return f"{name}={escaped}"


SUBSCRIBED_EVENTS: tuple[str, ...] = (
    # The AMI link waits for it after login (a restarting Asterisk is ready).
    "FullyBooted",
    # The live figures (ivr.core.figures), the queue's facts, pops and operator states
    # (ivr.operators.queue_events), the test call (ivr.testbed.testcall).
    "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon",
    "AgentCalled", "AgentRingNoAnswer", "AgentConnect", "AgentComplete", "AgentDump",
    "QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause", "QueueMemberPenalty",
    "QueueMemberRinginuse", "QueueMemberRemoved",
    # The dialplan's UserEvent(IvrCallback) (ivr.callbacks), and the answer to an async
    # Originate (callbacks, return visits), which Asterisk sends as an event.
    "UserEvent", "OriginateResponse",
    # The test call finds the citizen's channel by it before the call reaches a queue.
    "Newchannel",
)
"""The only AMI events Asterisk sends the application's user (manager.conf ``eventfilter``,
rendered by ``ivr.core.asterisk_render``): everything else (per call about a hundred
``VarSet``, ``Newexten``, ``Newstate``, ``DTMF*``, ``RTCP*``, bridge and hangup events) is
dropped inside Asterisk, before it is formatted, sent and parsed. Responses to actions
(``QueueStatus``'s ``QueueMember`` and ``QueueEntry``, ``CoreShowChannel``) are not events
and are never filtered. A new handler of another event adds its name here."""


@dataclass(frozen=True, slots=True)
class AmiEvent:
    """An AMI event as plain strings; unknown or malformed events are kept, never fatal."""

    name: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)

    @classmethod
    def from_message(cls, message: Mapping[str, object]) -> AmiEvent:
        fields = {str(k): safe_value(v) for k, v in message.items() if k is not None}
        name = fields.get("Event") or fields.get("event") or ""
        return cls(name=name, fields=MappingProxyType(fields))


class MessageReader:
    """Splits the AMI stream into messages ended by an empty line; see the module docstring."""

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer already known to hold no message end
        self._max = max_bytes

    def receive_data(self, data: bytes) -> list[bytes]:
        """The messages ``data`` completes (without their empty line), oldest first."""
        self._buffer += data
        messages = []
        start = 0
        while True:
            # The end marker may straddle the previous chunk: look back three bytes.
            end = self._buffer.find(_END, max(start, self._scanned - len(_END) + 1))
            if end < 0:
                break
            messages.append(bytes(self._buffer[start:end]))
            start = end + len(_END)
            self._scanned = start
        if start:
            del self._buffer[:start]
        self._scanned = len(self._buffer)
        if len(self._buffer) > self._max:
            raise ProtocolError(f"AMI message longer than {self._max} bytes without its end")
        return messages
