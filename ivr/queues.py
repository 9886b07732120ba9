"""Operators' membership of the skill queues, kept in line with Asterisk through AMI.

Every operator is a dynamic member of the queue of each of their skills, with penalty
``5 - level``. ``sync`` reads what Asterisk has (``QueueStatus``) and adds, re-weights or
removes members so the two agree; it runs at start-up and after every AMI reconnect, so a
restart of either side loses nothing and duplicates nothing. The general queue's members are
static (rendered in queues.conf) because it must work when the application is down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from ivr.edges.ami import AmiClient
from ivr.settings import Settings

log = structlog.get_logger("ivr.queues")


@dataclass(frozen=True, slots=True)
class Membership:
    queue: str
    interface: str
    penalty: int
    name: str


@dataclass(frozen=True, slots=True)
class SyncPlan:
    add: tuple[Membership, ...]
    repenalise: tuple[Membership, ...]
    remove: tuple[tuple[str, str], ...]


def desired_memberships(settings: Settings) -> dict[tuple[str, str], Membership]:
    general = settings.menu.general_queue
    return {
        (skill, op.interface): Membership(skill, op.interface, op.penalty(skill), op.name)
        for op in settings.operators.values()
        for skill in op.skills
        if skill != general and skill in settings.skills
    }


def plan(
    desired: Mapping[tuple[str, str], Membership],
    current: Mapping[tuple[str, str], tuple[int, bool]],
    managed_queues: set[str],
) -> SyncPlan:
    """Pure: what to change so Asterisk's dynamic members equal ``desired``.

    ``current`` maps (queue, interface) to (penalty, is_dynamic). Static members and queues
    we do not manage are left alone.
    """
    add = tuple(m for key, m in desired.items() if key not in current)
    repenalise = tuple(
        m for key, m in desired.items() if key in current and current[key][0] != m.penalty
    )
    remove = tuple(
        key for key, (_, dynamic) in current.items()
        if dynamic and key[0] in managed_queues and key not in desired
    )
    return SyncPlan(add, repenalise, remove)


class QueueMembers:
    def __init__(self, settings: Settings, ami: AmiClient) -> None:
        self._settings = settings
        self._ami = ami

    async def current(self) -> dict[tuple[str, str], tuple[int, bool]]:
        messages = await self._ami.action("QueueStatus", as_list=True, timeout=10)
        members: dict[tuple[str, str], tuple[int, bool]] = {}
        for m in messages:
            if m.get("Event") == "QueueMember":
                interface = m.get("StateInterface") or m.get("Location", "")
                dynamic = m.get("Membership", "") == "dynamic"
                members[(m.get("Queue", ""), interface)] = (int(m.get("Penalty", "0")), dynamic)
        return members

    async def sync(self) -> SyncPlan:
        managed = set(self._settings.skills) - {self._settings.menu.general_queue}
        todo = plan(desired_memberships(self._settings), await self.current(), managed)
        for m in todo.add:
            await self._ami.action("QueueAdd", {
                "Queue": m.queue, "Interface": m.interface, "Penalty": m.penalty,
                "MemberName": m.name, "StateInterface": m.interface,
            })
        for m in todo.repenalise:
            await self._ami.action(
                "QueuePenalty", {"Queue": m.queue, "Interface": m.interface, "Penalty": m.penalty}
            )
        for queue, interface in todo.remove:
            await self._ami.action("QueueRemove", {"Queue": queue, "Interface": interface})
        log.info(
            "queue_members_synced", added=len(todo.add), repenalised=len(todo.repenalise),
            removed=len(todo.remove),
        )
        return todo
