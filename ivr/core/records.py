"""What the hotline keeps, as values: call records, callbacks, flow versions, web accounts and
sessions, the audit log, bulletins and operators' state history. Pure.

The storage edge (``ivr.edges.storage``) reads and writes these; the rest of the shell and the
web use them. Cases have their own module (``ivr.core.cases``): they carry a lifecycle.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ivr.errors import RecordRefused


@dataclass(slots=True)
class CallRecord:
    """What the IVR did with one call, and what the queue did with it afterwards."""

    call_id: str
    channel: str
    caller: str
    language: str
    arrived_at: str
    caller_name: str = ""
    ended_at: str | None = None
    path: list[str] = field(default_factory=list)
    queue: str | None = None
    priority: int | None = None
    outcome: str = "in_progress"
    hangup_node: str | None = None
    ivr_ms: int | None = None
    flow_version: int | None = None
    variables: dict[str, str] = field(default_factory=dict)
    survey_score: int | None = None
    route_reasons: list[str] = field(default_factory=list)
    operator: str | None = None
    answered_at: str | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    skill: str | None = None
    # What app_queue did with the call (``ivr.core.routing.QueueOutcome``): who was rung,
    # who was skipped and why, who answered, in which stage of the wait, after how long.
    queue_outcome: list[str] = field(default_factory=list)
    # The operator leg's recording (ivr.calls.recordings): its file name in the recordings
    # directory, and ``RecordingStatus`` (None: the call was never answered, or recording off).
    recording: str | None = None
    recording_status: str | None = None


@dataclass(slots=True)
class CallbackRequest:
    """A citizen who chose to be called back instead of waiting; keeps their place (its entry
    in the line is ``ivr.core.routing.WaitingCallback``)."""

    id: int
    call_id: str
    number: str
    skill: str
    priority: int
    position: int
    arrived_at: str
    requested_at: str
    status: str  # waiting (in the queue as a stand-in), done, failed
    attempts: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FlowVersion:
    """A published version of a flow, or of a configuration file (then ``flow`` is the file's
    name in the admin pages, ``version`` its digest)."""

    id: int
    flow: str
    version: str
    digest: str
    text: str
    published_by: str
    published_at: str
    note: str = ""


class RecordingStatus(enum.StrEnum):
    """Where an answered call's recording stands (``CallRecord.recording_status``)."""

    RECORDING = "recording"  # the operator answered; Asterisk is recording
    OK = "ok"                # the call ended and the file holds audio
    FAILED = "failed"        # the call ended and the file is missing or empty
    PURGED = "purged"        # deleted past ``[recordings] keep_days``


class Role(enum.StrEnum):
    """What a web account may do. The centre's roles are a ladder: each may do what the ones
    before it may. ``department`` stands apart: a department's (or street's) account works its
    own cases and reaches nothing of the centre's (``rank_of`` gives it -1)."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    DEPARTMENT = "department"

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text``; ``RecordRefused`` for a word that is not one."""
        try:
            return cls(text)
        except ValueError:
            names = ", ".join(cls)
            raise RecordRefused(f"unknown role {text!r} (one of {names})") from None

    @classmethod
    def rank_of(cls, text: str) -> int:
        """0 for an operator, 1 for a supervisor, 2 for an admin; -1 for anything else (a
        department's account included)."""
        return _RANKS.get(text, -1)

    @classmethod
    def known(cls, text: str) -> bool:
        return text in cls._value2member_map_

    @property
    def rank(self) -> int:
        return _RANKS.get(self, -1)


_RANKS = {role.value: n for n, role in enumerate(Role) if role is not Role.DEPARTMENT}


@dataclass(frozen=True, slots=True)
class User:
    """Someone who signs in to the web console; ``operator_id`` ties an operator to a phone."""

    username: str
    role: str
    password_hash: str
    created_at: str
    operator_id: str | None = None
    disabled: bool = False
    department: str | None = None
    """The department (``config/departments.yaml``) a ``department`` account works for."""
    language: str | None = None
    """The language the user chose for the web (``zh_CN``, ``en``); None: the browser's."""


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in browser, stored server-side so every application node knows it."""

    token_hash: str
    username: str
    csrf_token: str
    created_at: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A credential for an integration (a CRM, a reporting job): it acts with its ``role`` (and
    ``department``, for a department's token) on the REST API only. The secret itself is shown
    once when created; the store keeps its sha256."""

    id: int
    name: str
    role: str
    department: str | None
    created_by: str
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    last_used_at: str | None = None

    def as_user(self) -> User:
        """Who the token acts as: ``token:<name>`` (so the audit log says which token)."""
        return User(f"token:{self.name}", self.role, "", self.created_at, None, False,
                    self.department)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: dict[str, object]


@dataclass(frozen=True, slots=True)
class Bulletin:
    """A message played to callers between ``starts_at`` and ``expires_at`` (language -> text)."""

    id: int
    texts: dict[str, str]
    starts_at: str
    expires_at: str
    created_by: str
    created_at: str
    withdrawn_at: str | None = None


@dataclass(frozen=True, slots=True)
class OperatorStateChange:
    """An operator's state (an ``ivr.core.routing.OperatorState`` value) from ``at`` on."""

    operator_id: str
    state: str
    reason: str
    at: str
