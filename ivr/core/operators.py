"""Operators in app_queue's queues, as values: memberships, presence, and how a resync brings
them in line with configuration. Pure.

An operator logged in is a member of their skill queues (penalty ``5 - level``), of
``lang-<language>`` for each enabled language they speak, of the general queue and of
``op-<id>`` (see ``ivr.core.routing.plan_stages``). Asterisk is the source of truth for who is
logged in and paused; ``plan`` never logs anybody in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ivr.core.figures import WRAP_UP_PAUSE_REASONS
from ivr.core.routing import GENERAL_POOL_PENALTY, OperatorState, language_queue, personal_queue
from ivr.core.settings import Operator, Settings

LOGIN_NOTE = "login: "  # state-history reason of a login, followed by the skills taken


@dataclass(frozen=True, slots=True)
class Membership:
    queue: str
    interface: str
    penalty: int
    name: str


@dataclass(frozen=True, slots=True)
class Member:
    """One queue membership as Asterisk reports it."""

    queue: str
    interface: str
    penalty: int
    paused: bool
    reason: str
    in_call: bool
    status: int


@dataclass(frozen=True, slots=True)
class Presence:
    """An operator's state as Asterisk has it."""

    operator: Operator
    queues: tuple[str, ...] = ()
    paused: bool = False
    reason: str = ""
    in_call: bool = False

    @property
    def state(self) -> str:
        if not self.queues:
            return "logged out"
        if self.in_call:
            return "on a call"
        return f"paused ({self.reason or 'no reason'})" if self.paused else "available"


class MemberLike(Protocol):
    """What presence needs of a membership: Asterisk's (``Member``) or the live figures'."""

    @property
    def queue(self) -> str: ...
    @property
    def interface(self) -> str: ...
    @property
    def paused(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def in_call(self) -> bool: ...


def presence_of(
    operators: Iterable[Operator], members: Iterable[MemberLike]
) -> dict[str, Presence]:
    """Each operator's presence from the queue memberships (one pass over them, whatever the
    roster's size)."""
    by_interface: dict[str, list[MemberLike]] = {}
    for m in members:
        by_interface.setdefault(m.interface, []).append(m)
    out = {}
    for op in operators:
        mine = by_interface.get(op.interface, [])
        out[op.id] = Presence(
            op, tuple(sorted(m.queue for m in mine)),
            paused=any(m.paused for m in mine),
            reason=next((m.reason for m in mine if m.paused), ""),
            in_call=any(m.in_call for m in mine),
        )
    return out


@dataclass(frozen=True, slots=True)
class SyncPlan:
    add: tuple[Membership, ...] = ()
    repenalise: tuple[Membership, ...] = ()
    remove: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def memberships(
    settings: Settings, op: Operator, skills: Iterable[str] | None = None
) -> dict[tuple[str, str], Membership]:
    """The queues a logged-in operator belongs to (see ivr.core.routing.plan_stages).

    Their skill queues (``skills``: the ones they logged in with, default all) at penalty
    5 - level; ``lang-<language>`` for each enabled language they speak; the general queue
    (at their level if they have that skill, else at the general-pool penalty); ``op-<id>``.
    """
    chosen = set(op.skills if skills is None else skills) & set(op.skills)
    general = settings.menu.general_queue

    def member(queue: str, penalty: int) -> tuple[tuple[str, str], Membership]:
        return (queue, op.interface), Membership(queue, op.interface, penalty, op.name)

    out = dict(member(skill, op.penalty(skill)) for skill in chosen if skill in settings.skills)
    out |= dict(member(language_queue(lang), 0) for lang in op.languages
                if lang in settings.languages)
    if (general, op.interface) not in out:
        out |= dict([member(general, GENERAL_POOL_PENALTY)])
    out |= dict([member(personal_queue(op.id), 0)])
    return out


def plan(
    desired: Mapping[tuple[str, str], Membership],
    current: Mapping[tuple[str, str], int],
    logged_in: set[str],
) -> SyncPlan:
    """Pure: bring logged-in operators' memberships in line with their configured skills.

    ``current`` maps (queue, interface) to penalty. Operators not logged in (``logged_in``
    holds interfaces) are left alone: resync never logs anybody in.
    """
    add = tuple(m for key, m in desired.items()
                if key not in current and m.interface in logged_in)
    repenalise = tuple(m for key, m in desired.items()
                       if key in current and current[key] != m.penalty)
    remove = tuple(key for key in current if key not in desired)
    return SyncPlan(add, repenalise, remove)


def shown_state(
    presence: Presence | None, queue_states: Iterable[OperatorState | None]
) -> tuple[OperatorState, str]:
    """(state, reason) as the console shows it, from Asterisk's presence and the operator's
    state in each of their queues (live figures). Wrap-up is a pause with a wrap-up reason, or
    the queue's wrap-up time after a call."""
    if presence is None or not presence.queues:
        return OperatorState.LOGGED_OUT, ""
    if presence.in_call:
        return OperatorState.ON_CALL, ""
    if presence.paused:
        if presence.reason in WRAP_UP_PAUSE_REASONS:
            return OperatorState.WRAP_UP, presence.reason
        return OperatorState.PAUSED, presence.reason or "no reason"
    states = set(queue_states)
    if OperatorState.ON_CALL in states:
        return OperatorState.ON_CALL, ""
    if OperatorState.WRAP_UP in states:
        return OperatorState.WRAP_UP, ""
    return OperatorState.AVAILABLE, ""
