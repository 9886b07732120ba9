"""What a call flow is once read: nodes, their targets, and the problems found in a flow file.

A ``CallFlow`` is the parsed, immutable form of one ``dialplans/*.yaml`` file. Every node keeps
the YAML line it was written on (``line``) and the line of each field that names another node
(``lines``, keyed like the labels ``edges()`` returns), so that every problem found later, by the
loader or by the validator, points an admin at the exact place to fix.

Problems are ``ivr.errors.FlowProblem`` values (the kinds below are stable: tests and the CLI
key on them); a file with problems raises ``ivr.errors.FlowError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Prompts = tuple[str, ...]
Validation = Literal["none", "case_number"]

# Stable problem kinds: tests and the CLI key on these, messages are for people.
SYNTAX = "syntax"
UNKNOWN_NODE = "unknown-node"
UNREACHABLE = "unreachable"
DEAD_END = "dead-end"
MISSING_PROMPT = "missing-prompt"
UNKNOWN_SKILL = "unknown-skill"
DUPLICATE_KEY = "duplicate-key"
SCHEDULE_OVERLAP = "schedule-overlap"
SCHEDULE_GAP = "schedule-gap"
UNKNOWN_SCHEDULE = "unknown-schedule"
LOOP_WITHOUT_EXIT = "loop-without-exit"
NOT_AN_OPERATOR = "exhausted-not-operator"


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Minutes since midnight, ``start`` inclusive, ``end`` exclusive; wraps if end <= start."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def minutes(self) -> frozenset[int]:
        """Every minute of the day the window covers (1,440 at most; used by the validator)."""
        return frozenset(m for m in range(24 * 60) if self.contains(m))

    def __str__(self) -> str:
        def hhmm(m: int) -> str:
            return f"{m // 60:02d}:{m % 60:02d}"

        return f"{hhmm(self.start)}-{hhmm(self.end)}"


@dataclass(frozen=True, slots=True)
class Condition:
    """One branch condition: every field that is set must hold (they are ANDed)."""

    goto: str
    line: int
    time: TimeWindow | None = None
    weekdays: frozenset[int] | None = None  # 0 = Monday, as datetime.weekday()
    holiday: str | None = None  # holiday calendar name; holds when today is in it
    schedule_open: str | None = None  # schedule name; holds when it is open now
    caller_known: bool | None = None
    caller_has_open_cases: bool | None = None
    language: str | None = None
    variable: tuple[str, str] | None = None  # (name, value) that must be equal


@dataclass(frozen=True, slots=True)
class Play:
    """Play prompts; the caller may skip them with a key when interruptible."""

    id: str
    line: int
    prompts: Prompts
    interruptible: bool
    next: str | None
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Menu:
    """Choose by one DTMF key or by a spoken keyword; retries then an operator."""

    id: str
    line: int
    prompts: Prompts
    options: Mapping[str, str]  # DTMF key -> node
    keywords: Mapping[str, Mapping[str, tuple[str, ...]]]  # language -> key -> words
    timeout: float
    retries: int
    no_input: str | None
    invalid: str | None
    on_exhausted: str | None
    no_input_prompts: Prompts = ("ivr/no-input",)
    invalid_prompts: Prompts = ("ivr/invalid-option",)
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Collect:
    """Collect a digit string into a variable, optionally checked (``case_number``)."""

    id: str
    line: int
    prompts: Prompts
    variable: str
    min_digits: int
    max_digits: int
    terminator: str | None
    validation: Validation
    timeout: float
    retries: int
    next: str | None
    invalid: str | None
    no_input: str | None
    on_exhausted: str | None
    invalid_prompts: Prompts = ("ivr/invalid-number",)
    no_input_prompts: Prompts = ("ivr/no-input",)
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Speech:
    """A free-form "describe your problem" turn; the recognised skill picks the target."""

    id: str
    line: int
    prompts: Prompts
    timeout: float
    min_confidence: float
    variable: str
    routes: Mapping[str, str]  # skill -> node
    next: str | None  # heard, but no skill in ``routes``
    fallback: str | None  # nothing heard, or below ``min_confidence``
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Branch:
    """First condition that holds wins; ``otherwise`` (YAML ``else``) when none does."""

    id: str
    line: int
    conditions: tuple[Condition, ...]
    otherwise: str | None
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SetVariables:
    """Set call variables and/or the call's language."""

    id: str
    line: int
    variables: Mapping[str, str]
    language: str | None
    next: str | None
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Route:
    """End of the IVR: queue the call for a skill at a priority (0 lowest, 10 highest)."""

    id: str
    line: int
    skill: str
    priority: int
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transfer:
    """End of the IVR: transfer to an external number, if its schedule (if any) is open."""

    id: str
    line: int
    number: str
    schedule: str | None
    closed: str | None  # where to go when the schedule is closed
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CaseStatusNode:
    """Look up the case number held in ``variable``; read its status back when found."""

    id: str
    line: int
    variable: str
    found: str | None
    not_found: str | None
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CaseReopen:
    """Reopen the caller's own resolved case held in ``variable`` (the citizen says it is not
    resolved); ``next`` when it was reopened, ``refused`` when it could not be."""

    id: str
    line: int
    variable: str
    next: str | None
    refused: str | None
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Survey:
    """Ask for a 1-5 satisfaction score; record it; move on whether or not one was given."""

    id: str
    line: int
    prompts: Prompts
    timeout: float
    retries: int
    next: str | None
    thanks_prompts: Prompts = ("ivr/survey-thanks",)
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BulletinNode:
    """Play the active emergency bulletin, if there is one in the caller's language."""

    id: str
    line: int
    interruptible: bool
    next: str | None
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HangUpNode:
    """End of the IVR: hang up with a reason recorded on the call."""

    id: str
    line: int
    reason: str
    lines: Mapping[str, int] = field(default_factory=dict)


Node = (
    Play
    | Menu
    | Collect
    | Speech
    | Branch
    | SetVariables
    | Route
    | Transfer
    | CaseStatusNode
    | CaseReopen
    | Survey
    | BulletinNode
    | HangUpNode
)
# Nodes where the IVR ends for this call: the call is routed, transferred or hung up.
TERMINAL_KINDS = (Route, Transfer, HangUpNode)


def edges(node: Node) -> list[tuple[str, str | None]]:
    """Every (label, target) a node can go to; a None target is a hole (a dead end).

    Labels are the keys of ``node.lines`` so a problem about an edge points at its line.
    """
    match node:
        case Play() | SetVariables() | BulletinNode() | Survey():
            return [("next", node.next)]
        case Menu():
            out: list[tuple[str, str | None]] = [
                (f"options.{k}", v) for k, v in node.options.items()
            ]
            out.append(("on_exhausted", node.on_exhausted))
            if node.no_input is not None:
                out.append(("no_input", node.no_input))
            if node.invalid is not None:
                out.append(("invalid", node.invalid))
            return out
        case Collect():
            out = [("next", node.next), ("on_exhausted", node.on_exhausted)]
            if node.no_input is not None:
                out.append(("no_input", node.no_input))
            if node.invalid is not None:
                out.append(("invalid", node.invalid))
            return out
        case Speech():
            out = [(f"routes.{k}", v) for k, v in node.routes.items()]
            if node.next is not None:  # optional: without it, unrecognised speech falls back
                out.append(("next", node.next))
            return [*out, ("fallback", node.fallback)]
        case Branch():
            out = [(f"conditions.{i}", c.goto) for i, c in enumerate(node.conditions)]
            if node.otherwise is not None:
                out.append(("else", node.otherwise))
            return out
        case Transfer():
            return [("closed", node.closed)] if node.schedule is not None else []
        case CaseStatusNode():
            return [("found", node.found), ("not_found", node.not_found)]
        case CaseReopen():
            return [("next", node.next), ("refused", node.refused)]
        case Route() | HangUpNode():
            return []


def confirm_prompt(skill: str) -> str:
    """The prompt that asks a caller to confirm ``skill`` ("did you mean noise? yes 1, no 2")."""
    return f"ivr/confirm-{skill}"


def prompts_of(node: Node) -> Prompts:
    """Every prompt name a node may play itself (engine-generated read-backs excluded)."""
    match node:
        case Play():
            return node.prompts
        case Menu():
            return node.prompts + node.no_input_prompts + node.invalid_prompts
        case Collect():
            return node.prompts + node.invalid_prompts + node.no_input_prompts
        case Speech():
            # "You said <skill>, right?": asked in the confirm band (see ivr.core.triage).
            return node.prompts + tuple(confirm_prompt(skill) for skill in node.routes)
        case Survey():
            return node.prompts + node.thanks_prompts + ("ivr/no-input", "ivr/invalid-option")
        case _:
            return ()


@dataclass(frozen=True, slots=True)
class CallFlow:
    """A parsed flow file. ``entries`` are named re-entry points (``survey`` after an operator)."""

    name: str
    version: str
    start: str
    nodes: Mapping[str, Node]
    languages: tuple[str, ...]
    entries: Mapping[str, str]
    source: str
    line: int = 1
    lines: Mapping[str, int] = field(default_factory=dict)
