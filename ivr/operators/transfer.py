"""An operator sends the citizen they are talking to, to a department's number (a blind
transfer: AMI ``Redirect`` of the caller's channel into the dialplan's transfer context)."""

from __future__ import annotations

import structlog

from ivr.core.asterisk_render import TRANSFER_CONTEXT
from ivr.core.numbers import DEPARTMENT_NUMBER
from ivr.edges.ami import AmiClient
from ivr.errors import AmiError, TransferFailed
from ivr.operators.queue_events import QueueEvents

log = structlog.get_logger("ivr.operators.transfer")


class OperatorTransfers:
    def __init__(self, ami: AmiClient, queue_events: QueueEvents) -> None:
        self._ami = ami
        self._queue_events = queue_events

    async def transfer(self, operator_id: str, target: str) -> None:
        """Send the citizen ``operator_id`` is talking to, to ``target``; ``TransferFailed``
        when the number is not a department's, the operator is on no call, or Asterisk
        refuses."""
        if not DEPARTMENT_NUMBER.fullmatch(target):
            raise TransferFailed(f"not a department number: {target!r} (2 to 15 digits)")
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
