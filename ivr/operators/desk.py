"""Operators in Asterisk's skill queues: login, logout, pause, unpause, and resync.

Asterisk is the source of truth for who is logged in and who is paused: an operator is logged
in when they are a member of their skill queues, paused when Asterisk says so. Members are
dynamic and persistent (queues.conf ``persistentmembers``), so they survive a restart of
Asterisk; the application rebuilds its view from ``QueueStatus`` at start-up and after every
AMI reconnect (``resync``), adding the skill queues a logged-in operator is missing, fixing
penalties (``5 - level``) and removing queues they no longer have the skill for. It never logs
anybody in by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import structlog

from ivr.core.operators import (
    LOGIN_NOTE,
    Member,
    Membership,
    Presence,
    SyncPlan,
    memberships,
    plan,
    presence_of,
)
from ivr.core.routing import OperatorState
from ivr.core.settings import Operator, Settings
from ivr.edges.ami import AmiClient
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.storage.operator_states import OperatorStates
from ivr.errors import AmiError, Refused, StorageError

log = structlog.get_logger("ivr.operators.desk")


class OperatorDesk:
    """Operator states through AMI; see the module docstring."""

    def __init__(
        self, settings: Settings, ami: AmiClient, states: OperatorStates | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._settings = settings
        self._ami = ami
        # Where the skills each operator logged in with are written down (state history), so
        # a resync after a reconnect or a restart restores exactly those.
        self._states = states
        self._clock = clock
        self._by_interface = {op.interface: op for op in settings.operators.values()}

    def reconfigure(self, settings: Settings) -> None:
        self._settings = settings
        self._by_interface = {op.interface: op for op in settings.operators.values()}

    def operator_ids(self) -> list[str]:
        return list(self._settings.operators)

    def operator(self, operator_id: str) -> Operator:
        try:
            return self._settings.operators[operator_id]
        except KeyError:
            raise Refused(f"no operator {operator_id!r} in operators.yaml") from None

    async def members(self) -> list[Member]:
        messages = await self._ami.action("QueueStatus", as_list=True, timeout=10)
        return [_member(m) for m in messages if m.get("Event") == "QueueMember"]

    async def members_of(self, op: Operator, queues: Iterable[str]) -> list[Member]:
        """``op``'s memberships in ``queues`` only: one small ``QueueStatus`` per queue
        (filtered by queue and member), so a login costs the same with 7 operators as with
        1,700 (a whole ``QueueStatus`` lists every queue and member)."""
        out: list[Member] = []
        for queue in sorted(set(queues)):
            messages = await self._ami.action(
                "QueueStatus", {"Queue": queue, "Member": op.interface}, as_list=True,
                timeout=10)
            out += [_member(m) for m in messages if m.get("Event") == "QueueMember"
                    and (m.get("StateInterface") or m.get("Location")) == op.interface]
        return out

    async def presence(self) -> dict[str, Presence]:
        """Every operator's presence, from a whole ``QueueStatus`` (the web reads it from the
        live figures instead once they hold Asterisk's snapshot)."""
        return presence_of(self._settings.operators.values(), await self.members())

    async def login(
        self, operator_id: str, skills: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        """Join the skill queues the operator logs in with (default: all of theirs) and the
        later stages' queues; returns the skills taken."""
        op = self.operator(operator_id)
        unknown = sorted(set(skills or ()) - set(op.skills))
        if unknown:
            raise Refused(f"{op.id} has no skill {', '.join(unknown)}")
        if skills is not None and not skills:
            raise Refused("log in with at least one skill")
        wanted = memberships(self._settings, op, skills)
        # The queues they may be in: those of all their skills and stages (a queue of a
        # skill they no longer have is the resync's to remove).
        possible = {queue for queue, _ in memberships(self._settings, op, None)}
        have = {(m.queue, m.interface): m.penalty
                for m in await self.members_of(op, possible | {q for q, _ in wanted})}
        for key, want in wanted.items():
            if key not in have:
                await self._add(want)
            elif have[key] != want.penalty:
                await self._ami.action("QueuePenalty", {
                    "Queue": want.queue, "Interface": want.interface, "Penalty": want.penalty})
        # Logging in again with fewer skills leaves the others.
        for queue, interface in have.keys() - wanted.keys():
            await self._ami.action("QueueRemove", {"Queue": queue, "Interface": interface})
        taken = tuple(sorted(set(op.skills if skills is None else skills)))
        await self._note(op.id, OperatorState.AVAILABLE, LOGIN_NOTE + ",".join(taken))
        log.info("operator_logged_in", operator=op.id, skills=list(taken))
        return taken

    async def logout(self, operator_id: str) -> None:
        op = self.operator(operator_id)
        possible = {queue for queue, _ in memberships(self._settings, op, None)}
        for m in await self.members_of(op, possible):
            await self._ami.action("QueueRemove", {"Queue": m.queue, "Interface": m.interface})
        await self._note(op.id, OperatorState.LOGGED_OUT, "")
        log.info("operator_logged_out", operator=op.id)

    async def pause(self, operator_id: str, reason: str) -> None:
        op = self.operator(operator_id)
        # No Queue field: paused in every queue at once, with the reason Asterisk reports.
        await self._ami.action(
            "QueuePause", {"Interface": op.interface, "Paused": "true", "Reason": reason}
        )
        log.info("operator_paused", operator=op.id, reason=reason)

    async def unpause(self, operator_id: str) -> None:
        op = self.operator(operator_id)
        await self._ami.action("QueuePause", {"Interface": op.interface, "Paused": "false"})
        log.info("operator_unpaused", operator=op.id)

    async def resync(self) -> SyncPlan:
        members = await self.members()
        current = {(m.queue, m.interface): m.penalty for m in members
                   if m.interface in self._by_interface}
        logged_in = {m.interface for m in members}
        desired: dict[tuple[str, str], Membership] = {}
        chosen = await self._logins()
        for op in self._settings.operators.values():
            # The skills each operator logged in with are restored (all of theirs when that
            # was not written down); the later stages' queues are completed.
            desired |= memberships(self._settings, op, chosen.get(op.id))
        todo = plan(desired, current, logged_in)
        for m in todo.add:
            await self._add(m)
        for m in todo.repenalise:
            await self._ami.action(
                "QueuePenalty", {"Queue": m.queue, "Interface": m.interface, "Penalty": m.penalty}
            )
        for queue, interface in todo.remove:
            await self._ami.action("QueueRemove", {"Queue": queue, "Interface": interface})
        log.info("operators_resynced", logged_in=len(logged_in), added=len(todo.add),
                 repenalised=len(todo.repenalise), removed=len(todo.remove))
        return todo

    async def resync_if_connected(self, _settings: Settings) -> None:
        """After an edit of the settings: levels and skills take effect at once."""
        if self._ami.connected:
            await self.resync()

    async def _note(self, operator_id: str, state: OperatorState, reason: str) -> None:
        if self._states is None:
            return
        try:
            await self._states.record(operator_id, state.value, reason, self._clock.now())
        except StorageError as exc:
            log.error("operator_state_not_stored", operator=operator_id, error=str(exc))

    async def _logins(self) -> dict[str, list[str]]:
        """The skills of each operator's last login (one row each, whatever the history)."""
        if self._states is None:
            return {}
        try:
            logins = await self._states.last_logins()
        except StorageError as exc:
            log.error("operator_logins_unavailable", error=str(exc))
            return {}
        return {operator_id: [s for s in reason.removeprefix(LOGIN_NOTE).split(",") if s]
                for operator_id, reason in logins.items() if reason.startswith(LOGIN_NOTE)}

    async def _add(self, m: Membership) -> None:
        try:
            await self._ami.action("QueueAdd", {
                "Queue": m.queue, "Interface": m.interface, "Penalty": m.penalty,
                "MemberName": m.name, "StateInterface": m.interface,
            })
        except AmiError as exc:
            if "already there" not in str(exc).lower():
                raise


def _member(m: Mapping[str, str]) -> Member:
    return Member(
        queue=m.get("Queue", ""),
        interface=m.get("StateInterface") or m.get("Location", ""),
        penalty=int(m.get("Penalty", "0") or 0),
        paused=m.get("Paused", "0") == "1",
        reason=m.get("PausedReason", ""),
        in_call=m.get("InCall", "0") == "1",
        status=int(m.get("Status", "0") or 0),
    )
