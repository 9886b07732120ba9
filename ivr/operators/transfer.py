"""An operator sends the citizen they are talking to, to a department's number.

* blind: AMI ``Redirect`` of the caller's channel into the dialplan's transfer context;
* warm (attended): AMI ``Atxfer`` on the operator's own channel (the number given to the
  feature as ``TRANSFER_EXTEN``, set with ``Setvar``): the citizen is held while
  the operator's phone talks to the department (dialled through the same transfer context);
  then ``complete`` (AMI ``Hangup`` of the operator's channel: Asterisk joins the citizen and
  the department) or ``return_to_caller`` (AMI ``CancelAtxfer``: the department's leg is hung
  up and the operator is back with the citizen).

Each step is written to the call's record (``queue_outcome``).
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from ivr.core.asterisk_render import TRANSFER_CONTEXT
from ivr.core.numbers import DEPARTMENT_NUMBER
from ivr.core.settings import Settings
from ivr.core.supervision import (
    consult_completed_line,
    consult_line,
    consult_returned_line,
    own_channel,
)
from ivr.edges.ami import AmiClient
from ivr.errors import AmiError, TransferFailed
from ivr.operators.queue_events import QueueEvents

log = structlog.get_logger("ivr.operators.transfer")


class OperatorTransfers:
    def __init__(self, ami: AmiClient, queue_events: QueueEvents,
                 settings: Callable[[], Settings] | None = None) -> None:
        self._ami = ami
        self._queue_events = queue_events
        self._settings = settings
        self._consulting: dict[str, tuple[str, str]] = {}  # operator -> (call id, number)

    async def transfer(self, operator_id: str, target: str) -> None:
        """Send the citizen ``operator_id`` is talking to, to ``target``; ``TransferFailed``
        when the number is not a department's, the operator is on no call, or Asterisk
        refuses."""
        _check_number(target)
        channel = self._queue_events.caller_channel(operator_id)
        if channel is None:
            raise TransferFailed(f"{operator_id} is not on a call")
        try:
            await self._ami.action("Redirect", {
                "Channel": channel, "Context": TRANSFER_CONTEXT, "Exten": target, "Priority": 1,
            })
        except AmiError as exc:
            raise TransferFailed(f"{operator_id}'s call could not be transferred: {exc}") from exc
        self._queue_events.transferred(operator_id, target)
        log.info("call_transferred_by_operator", operator=operator_id, target=target)

    def consulting(self, operator_id: str) -> str | None:
        """The department number the operator is consulting now, if any."""
        call = self._queue_events.live_call(operator_id)
        held = self._consulting.get(operator_id)
        if held is None or call is None or call.call_id != held[0]:
            return None
        return held[1]

    async def consult(self, operator_id: str, target: str) -> None:
        """Hold the citizen and call ``target`` from the operator's phone (a warm transfer's
        first step)."""
        _check_number(target)
        channel, call_id = self._operator_channel(operator_id)
        if self.consulting(operator_id) is not None:
            raise TransferFailed(f"{operator_id} is already consulting a department")
        try:
            # Atxfer's own digits (queued as DTMF into the feature's prompt) can be cut short:
            # TRANSFER_EXTEN names the number to the feature directly.
            await self._ami.action("Setvar", {
                "Channel": channel, "Variable": "TRANSFER_EXTEN", "Value": target,
            })
            await self._ami.action("Atxfer", {
                "Channel": channel, "Context": TRANSFER_CONTEXT, "Exten": target,
            })
        except AmiError as exc:
            raise TransferFailed(f"{operator_id} could not consult {target}: {exc}") from exc
        self._consulting[operator_id] = (call_id, target)
        self._queue_events.note(operator_id, consult_line(operator_id, target))
        log.info("call_consult_by_operator", operator=operator_id, target=target)

    async def complete(self, operator_id: str) -> str:
        """Join the held citizen and the department consulted; the operator leaves the call.
        Returns the department number."""
        target = self._held(operator_id)
        channel, _ = self._operator_channel(operator_id)
        self._queue_events.note(operator_id, consult_completed_line(operator_id, target))
        try:
            await self._ami.action("Hangup", {"Channel": channel})
        except AmiError as exc:
            raise TransferFailed(f"{operator_id}'s transfer could not complete: {exc}") from exc
        self._consulting.pop(operator_id, None)
        log.info("call_consult_completed", operator=operator_id, target=target)
        return target

    async def return_to_caller(self, operator_id: str) -> str:
        """End the consultation: the department's leg is hung up, the operator is back with
        the citizen. Returns the department number."""
        target = self._held(operator_id)
        channel, _ = self._operator_channel(operator_id)
        # Either way the consultation is over here: a department that never answered
        # (features.conf atxfernoanswertimeout) already gave the operator back the citizen.
        self._consulting.pop(operator_id, None)
        try:
            await self._ami.action("CancelAtxfer", {"Channel": channel})
        except AmiError as exc:
            raise TransferFailed(f"{operator_id} could not return to the caller: {exc}") from exc
        self._queue_events.note(operator_id, consult_returned_line(operator_id, target))
        log.info("call_consult_returned", operator=operator_id, target=target)
        return target

    def _held(self, operator_id: str) -> str:
        target = self.consulting(operator_id)
        if target is None:
            self._consulting.pop(operator_id, None)
            raise TransferFailed(f"{operator_id} is not consulting a department")
        return target

    def _operator_channel(self, operator_id: str) -> tuple[str, str]:
        """The operator's own channel of their call (checked against their endpoint) and the
        call's id."""
        call = self._queue_events.live_call(operator_id)
        operator = self._settings().operators.get(operator_id) if self._settings else None
        if call is None or operator is None:
            raise TransferFailed(f"{operator_id} is not on a call")
        channel = own_channel(operator.endpoint, call.channel)
        if channel is None:
            raise TransferFailed(f"{operator_id}'s own channel is not known on this node")
        return channel, call.call_id


def _check_number(target: str) -> None:
    if not DEPARTMENT_NUMBER.fullmatch(target):
        raise TransferFailed(f"not a department number: {target!r} (2 to 15 digits)")
