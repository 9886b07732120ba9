"""A supervisor listens to, whispers to or barges in on an operator's call: the application
calls the supervisor's phone (AMI ``Originate``) into the dialplan's ``supervise`` context,
where ``ChanSpy`` joins the operator's channel (``ivr.core.supervision``).

Both operators are checked against the configuration; the operator's channel reaches the
dialplan only as the variable ``IVR_SPY_CHANNEL``, checked by ``spy_target``.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from ivr.core.asterisk_render import SPY_CONTEXT
from ivr.core.settings import Settings
from ivr.core.supervision import SpyMode, spy_target
from ivr.edges.ami import AmiClient
from ivr.errors import AmiError, SupervisionFailed
from ivr.operators.queue_events import QueueEvents

log = structlog.get_logger("ivr.operators.supervision")
RING_SECONDS = 30  # how long the supervisor's phone rings before the attempt is given up


class Supervision:
    def __init__(
        self, ami: AmiClient, queue_events: QueueEvents, settings: Callable[[], Settings],
    ) -> None:
        self._ami = ami
        self._queue_events = queue_events
        self._settings = settings

    async def spy(self, operator_id: str, mode: SpyMode, phone: str) -> str:
        """Ring the phone of operator ``phone`` (the supervisor's desk) and, once answered,
        join ``operator_id``'s call in ``mode``; returns what ChanSpy is given.
        ``SupervisionFailed`` when either is not a configured operator, they are the same,
        the operator is on no call, or Asterisk refuses."""
        operators = self._settings().operators
        target, desk = operators.get(operator_id), operators.get(phone)
        if target is None:
            raise SupervisionFailed(f"no operator {operator_id!r} in the configuration")
        if desk is None:
            raise SupervisionFailed(f"no phone {phone!r} in the configuration")
        if desk.id == target.id:
            raise SupervisionFailed("a supervisor cannot listen on their own phone's call")
        call = self._queue_events.live_call(operator_id)
        if call is None:
            raise SupervisionFailed(f"{operator_id} is not on a call")
        channel = spy_target(target.endpoint, call.channel)
        try:
            await self._ami.action("Originate", {
                "Channel": desk.interface, "Context": SPY_CONTEXT, "Exten": mode.value,
                "Priority": 1, "Timeout": RING_SECONDS * 1000, "Async": "true",
                "CallerID": f"{mode.value} <{target.id}>",
                "Variable": f"IVR_SPY_CHANNEL={channel}",
            })
        except AmiError as exc:
            raise SupervisionFailed(f"{desk.id}'s phone could not be called: {exc}") from exc
        log.info("supervisor_spy", operator=operator_id, phone=desk.id, mode=mode.value,
                 channel=channel)
        return channel
