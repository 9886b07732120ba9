"""Running one citizen's call over AGI: the main menu, the routing decision, the call record.

The dialplan reads back what we decide through channel variables: ``IVR_QUEUE`` (the skill
queue), ``IVR_PRIORITY`` (QUEUE_PRIO), ``IVR_ACTION``. ``IVR_QUEUE`` is set last, only once a
decision is made: if we die half way, the dialplan sends the caller to the general queue.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from ivr.edges.fastagi import AgiChannel
from ivr.edges.store import CallRecord, CallStore
from ivr.errors import StorageError
from ivr.settings import Settings

log = structlog.get_logger("ivr.calls")

# Main menu of the first slice: key -> skill.
MAIN_MENU_KEYS: Mapping[str, str] = {
    "1": "report",
    "2": "inquiry",
    "3": "case_status",
    "4": "suggestion",
}
OPERATOR_KEY = "0"


@dataclass(frozen=True, slots=True)
class MenuChoice:
    """The outcome of the main menu: a skill, and why."""

    skill: str
    reason: str


def choose(digits: str, keys: Mapping[str, str], general: str) -> MenuChoice | None:
    """Pure: map what was pressed to a skill; None means invalid input."""
    if digits == OPERATOR_KEY:
        return MenuChoice(general, "caller asked for an operator")
    skill = keys.get(digits)
    return MenuChoice(skill, f"main menu key {digits}") if skill else None


class CallHandler:
    """Handles every call the FastAGI server accepts; one instance for the process."""

    def __init__(self, settings: Settings, store: CallStore) -> None:
        self._settings = settings
        self._store = store
        general = settings.menu.general_queue
        self._keys = {k: v for k, v in MAIN_MENU_KEYS.items() if v in settings.skills}
        self._general = general

    async def __call__(self, channel: AgiChannel) -> None:
        env = channel.env
        started = time.monotonic()
        record = CallRecord(
            call_id=env.unique_id or env.channel,
            channel=env.channel,
            caller=env.caller_number,
            caller_name=env.caller_name,
            language=env.language or self._settings.default_language,
            arrived_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
        node = "answer"
        try:
            await self._save(record)
            if (await channel.answer()).hung_up:
                return
            node = "main_menu"
            record.path.append(node)
            choice = await self._main_menu(channel, record)
            if choice is None:
                return
            node = "route"
            record.path.append(f"route:{choice.skill}")
            await channel.set_variable("IVR_PRIORITY", "0")
            result = await channel.set_variable("IVR_QUEUE", choice.skill)
            if result.ok:
                record.queue, record.priority, record.outcome = choice.skill, 0, "routed"
                log.info("call_routed", queue=choice.skill, reason=choice.reason)
        finally:
            if record.outcome == "in_progress":
                record.outcome = "caller_hung_up" if channel.hung_up else "ivr_failed"
                record.hangup_node = node
            record.ended_at = datetime.now(UTC).isoformat(timespec="milliseconds")
            record.ivr_ms = int((time.monotonic() - started) * 1000)
            await self._save(record)
            log.info(
                "call_finished", outcome=record.outcome, queue=record.queue,
                hangup_node=record.hangup_node, path=record.path, ivr_ms=record.ivr_ms,
            )

    async def _main_menu(self, channel: AgiChannel, record: CallRecord) -> MenuChoice | None:
        menu = self._settings.menu
        for attempt in range(1, menu.retries + 1):
            result = await channel.get_data("ivr/main-menu", int(menu.digit_timeout * 1000), 1)
            if result.hung_up:
                return None
            digits = result.value if result.ok else ""
            if not digits:
                record.path.append("main_menu:no_input")
                continue
            choice = choose(digits, self._keys, self._general)
            if choice is not None:
                record.path.append(f"main_menu:{digits}")
                return choice
            record.path.append("main_menu:invalid")
            log.info("menu_invalid_input", attempt=attempt)
            if (await channel.stream_file("ivr/invalid-option")).hung_up:
                return None
        return MenuChoice(self._general, f"no valid choice after {menu.retries} tries")

    async def _save(self, record: CallRecord) -> None:
        try:
            await self._store.save(record)
        except StorageError as exc:
            # Routing a citizen matters more than the record; the failure is logged loudly.
            log.exception("call_record_not_saved", error=str(exc))
