"""The project's exception tree: every error this package raises on purpose, in one module.

    IvrError
    ├── ConfigError            settings files are invalid (carries every ConfigProblem)
    ├── ConfigRejected         an edit of a config file would break the configuration
    ├── FlowError              a flow or prompt catalog file is invalid (carries FlowProblems)
    ├── FlowRejected           a flow edit failed validation; the live flow is unchanged
    ├── FlowStateError         the driver fed the flow engine an event it did not ask for
    ├── Refused                the hotline's rules refuse a request
    │   ├── AccountError       a bad username or role for a web account
    │   ├── CallbackRefused    the caller's number cannot be called back
    │   ├── MarksRefused       a quality review's marks do not fit the checklist
    │   └── RecordRefused      a record may not change that way (also a StorageError)
    ├── TransferFailed         an operator's caller could not be transferred
    ├── SupervisionFailed      a supervisor could not listen to an operator's call
    ├── StorageError           the database failed, or refused or could not find a record
    │   ├── RecordNotFound     no such call, case, user or bulletin
    │   └── RecordRefused      (see Refused)
    ├── BusError               the event bus between nodes failed
    │   └── PayloadTooLarge    an event is larger than the bus carries
    ├── ProtocolError          bytes from a peer do not follow its protocol (remote's fault)
    │   └── HandshakeError     a FastAGI peer sent a bad, truncated or oversized handshake
    ├── AgiError               an AGI command could not be carried out on a live channel
    ├── AmiError               the AMI link failed or an action was refused
    │   ├── AmiTimeout         an action got no answer within its deadline
    │   └── AmiNotConnected    the link is down: the action was not sent
    ├── SpeechError            speech recognition failed
    │   └── ModelUnavailable   a language's model is missing or cannot be loaded
    ├── StreamNotConnected     Asterisk opened no AudioSocket stream in time
    ├── AudioError             a prompt could not be synthesised or converted
    ├── DrawingError           Graphviz could not draw a flow
    ├── SpreadsheetError       a report could not be written as an XLSX workbook
    ├── MetricsError           the metrics library refused a metric (a programming error)
    ├── PasswordError          a password could not be hashed
    ├── LoginRefused           a web login was refused (wrong, or throttled)
    ├── CatalogMissing         a language's compiled message catalog is not installed
    ├── SandboxError           the Asterisk test bed cannot be built, started or stopped
    └── SippError              a simulated phone (SIPp) could not be run

The REST API answers each with a stable error id (``ivr.web.errors``). Errors of a peer or a
library are translated at the edge that met them (``raise X from exc``). A caller hanging up is
*not* an error: it is reported as ``AgiResult.hung_up`` and becomes a ``CallerHungUp`` fact for
the call. ``tests/unit/test_architecture.py`` checks this drawing against the classes.
"""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True, slots=True)
class FlowProblem:
    """One problem in one flow or catalog file: where (file, 1-based line, node id or ""),
    what, which kind (the stable kinds are in ``ivr.core.flow.model``)."""

    file: str
    line: int
    node: str
    message: str
    kind: str = "syntax"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        node = f" [{self.node}]" if self.node else ""
        return f"{where}:{node} {self.message} ({self.kind})"


class ConfigError(IvrError):
    """Settings are invalid; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigRejected(IvrError):
    """An edit of a config file would leave the configuration (or the live flow) invalid;
    ``problems`` lists each as {file, key, message}. Nothing was changed."""

    def __init__(self, problems: Sequence[dict[str, str]], message: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__(message or f"{len(self.problems)} problem(s); nothing was changed.")


class FlowError(IvrError):
    """A flow or catalog file is invalid; ``problems`` lists every problem found, not the first."""

    def __init__(self, problems: list[FlowProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class FlowRejected(IvrError):
    """A flow edit failed validation; ``problems`` says why. The running flow is unchanged."""

    def __init__(self, problems: Sequence[FlowProblem], message: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__(message or "\n".join(f"{p.file}:{p.line}: {p.node}: {p.message}"
                                              for p in self.problems))


class FlowStateError(IvrError):
    """The driver sent an event the run is not waiting for, or sent one after the call ended."""


class Refused(IvrError):
    """The hotline's rules refuse the request; the message says which rule."""


class AccountError(Refused):
    """An account request that cannot be carried out (bad name or role)."""


class CallbackRefused(Refused):
    """The caller's number cannot be called back."""


class MarksRefused(Refused):
    """A quality review's marks do not fit the checklist (an unknown item, a mark out of its
    range, an item left unmarked); ``problems`` lists each as {item, problem, most}
    (``ivr.core.quality.score``)."""

    def __init__(self, problems: Sequence[dict[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p['item']}: {p['problem']} (0-{p['most']})"
                                   for p in self.problems))


class TransferFailed(IvrError):
    """The citizen an operator talks to could not be transferred (no call, Asterisk refused)."""


class SupervisionFailed(IvrError):
    """A supervisor's phone could not join an operator's call (unknown operator or phone,
    no call, Asterisk refused)."""


class StorageError(IvrError):
    """The database failed (unreachable, lost the connection), or refused a record."""


class RecordNotFound(StorageError):
    """No call, case, user or bulletin of that id."""


class RecordRefused(Refused, StorageError):
    """A record may not be written so: a case moving backwards, a name already taken."""


class BusError(IvrError):
    """The event bus between application nodes failed (``ivr.edges.bus``): it is not running,
    or the database refused an event or could not be reached."""


class PayloadTooLarge(BusError):
    """An event is larger than the bus carries (PostgreSQL NOTIFY); ``ivr.edges.bus.fit``
    trims one to size."""


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


class AmiNotConnected(AmiError):
    """The AMI link is down (or Asterisk not yet booted): the action was not sent."""


class SpeechError(IvrError):
    """Speech recognition failed: a model could not be loaded or Vosk failed during a turn."""


class ModelUnavailable(SpeechError):
    """A language's model is not configured, not installed, or cannot be loaded."""


class StreamNotConnected(IvrError):
    """Asterisk did not open the AudioSocket stream for a call within the deadline."""


class AudioError(IvrError):
    """A prompt could not be synthesised or converted."""


class DrawingError(IvrError):
    """Graphviz is missing, failed or timed out drawing a flow."""


class SpreadsheetError(IvrError):
    """XlsxWriter could not write a report as a workbook."""


class MetricsError(IvrError):
    """prometheus_client refused a metric (a bad name, labels that do not match)."""


class PasswordError(IvrError):
    """A password could not be hashed (argon2 failed); never raised for a wrong password."""


class LoginRefused(IvrError):
    """A login was refused: the password is wrong (``status`` 401), the name or password is
    too long (400), or the address or name is throttled after repeated failures (429)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class SandboxError(IvrError):
    """The Asterisk test bed cannot be built, started or stopped."""


class SippError(IvrError):
    """A simulated phone (SIPp) could not be run."""


class CatalogMissing(IvrError):
    """A language's compiled message catalog (``ivr/web/locale``) is not installed."""
