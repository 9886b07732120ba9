"""The project's exception tree.

    IvrError
    ├── ConfigError            settings files are invalid (carries every problem found)
    ├── SandboxError           the Asterisk test bed cannot be built, started or stopped
    ├── ProtocolError          bytes from a peer do not follow its protocol (remote's fault)
    │   └── HandshakeError     a FastAGI peer sent a bad, truncated or oversized handshake
    ├── AgiError               an AGI command could not be carried out on a live channel
    ├── AmiError               the AMI link failed or an action was refused
    │   └── AmiTimeout         an action got no answer within its deadline
    ├── StorageError           the database refused or lost a write
    ├── SpeechError            speech recognition failed (ivr.edges.vosk)
    │   └── ModelUnavailable   a language's model is missing or cannot be loaded
    ├── StreamNotConnected     Asterisk opened no AudioSocket stream in time (ivr.edges.audiosocket)
    ├── AudioError             a prompt could not be synthesised or converted
    └── SippError              a simulated phone (SIPp) could not be run

A caller hanging up is *not* an error: it is reported as ``AgiResult.hung_up``
and becomes a ``CallerHungUp`` fact for the call.
"""

from __future__ import annotations

from dataclasses import dataclass


class IvrError(Exception):
    """Base of every error this package raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in one settings file: where it is and why it is wrong."""

    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}"


class ConfigError(IvrError):
    """Settings are invalid; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class SandboxError(IvrError):
    """The Asterisk test bed cannot be built, started or stopped."""


class ProtocolError(IvrError):
    """A peer sent bytes that do not follow its protocol."""


class HandshakeError(ProtocolError):
    """A FastAGI peer sent a bad, truncated or oversized handshake, or none in time."""


class AgiError(IvrError):
    """An AGI command failed on a channel that is still up."""


class AmiError(IvrError):
    """The AMI link failed or Asterisk refused an action."""


class AmiTimeout(AmiError):
    """An AMI action got no answer within its deadline."""


class StorageError(IvrError):
    """The database refused or lost a write."""


class AudioError(IvrError):
    """A prompt could not be synthesised or converted."""


class SippError(IvrError):
    """A simulated phone (SIPp) could not be run."""


class BusError(IvrError):
    """The event bus between application nodes failed (``ivr.edges.bus``): it is not running,
    or the database refused an event or could not be reached."""


class PayloadTooLarge(BusError):
    """An event is larger than the bus carries (PostgreSQL NOTIFY); ``ivr.edges.bus.fit``
    trims one to size."""
