"""AMI values and events, without networking.

AMI is ``Key: Value`` lines ended by CRLF, a message ended by an empty line. panoramisk writes
values verbatim, so a CR or LF inside a value (a caller name, a transcript) would end the
header early and smuggle in a second header or a whole second action. ``action_fields``
refuses bad keys and replaces control characters in values with spaces before anything
reaches the library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_()-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_VALUE = 4096


def safe_value(value: object) -> str:
    """One line, at most ``MAX_VALUE`` characters."""
    return _CONTROL.sub(" ", str(value))[:MAX_VALUE]


def action_fields(name: str, fields: Mapping[str, object]) -> dict[str, str]:
    """The fields of an AMI action, made safe; raises ValueError for a bad key or action name."""
    if not _KEY.match(name):
        raise ValueError(f"not an AMI action name: {name!r}")
    out = {"Action": name}
    for key, value in fields.items():
        if not _KEY.match(key) or key.lower() in {"action", "actionid"}:
            raise ValueError(f"not an AMI header name: {key!r}")
        out[key] = safe_value(value)
    return out


def channel_variable(name: str, value: object) -> str:
    """A ``Variable: NAME=value`` entry for Originate; the name must be an identifier."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a channel variable name: {name!r}")
    return f"{name}={safe_value(value)}"


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
