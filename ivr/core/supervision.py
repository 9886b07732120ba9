"""Live supervision and warm transfers, the pure parts: what a supervisor may do to an
operator's call (ChanSpy's modes), which channel names may reach the dialplan, and the lines
a warm transfer writes to the call's record.

A supervisor's phone is called by the application (AMI ``Originate``) into the dialplan's
``supervise`` context, extension ``listen``, ``whisper`` or ``barge``, which runs ``ChanSpy``
on the operator's channel. The channel reaches the dialplan only as the channel variable
``IVR_SPY_CHANNEL`` and only once ``spy_target`` has checked it: a PJSIP channel of the
operator's configured endpoint (``PJSIP/<endpoint>-<id>``), or, when this node has not seen the
operator's channel, that endpoint's prefix (``PJSIP/<endpoint>-``: ChanSpy takes a prefix).
No caller data ever reaches the dialplan.
"""

from __future__ import annotations

import enum
import re
from typing import Final

from ivr.core.words import N_, Words

# An endpoint name as config validation admits it; a channel Asterisk names after it.
_ENDPOINT: Final = re.compile(r"[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*")
_CHANNEL_ID: Final = re.compile(r"[0-9a-f]{8}")


class SpyMode(enum.StrEnum):
    """What the supervisor does (the ``supervise`` context's extension of the same name)."""

    LISTEN = "listen"    # hears both sides, nobody hears the supervisor
    WHISPER = "whisper"  # the operator hears the supervisor, the citizen does not
    BARGE = "barge"      # both hear the supervisor (a three-way call)

    @property
    def audit_action(self) -> str:
        return f"call.spy.{self.value}"


def spy_target(endpoint: str, channel: str | None) -> str:
    """The value of ``IVR_SPY_CHANNEL`` for the operator at ``endpoint`` (from configuration):
    ``channel`` if it is that endpoint's PJSIP channel, else the endpoint's prefix.
    ``ValueError`` for an endpoint name that could not be a PJSIP endpoint's."""
    if not _ENDPOINT.fullmatch(endpoint):
        raise ValueError(f"not a PJSIP endpoint name: {endpoint!r}")
    prefix = f"PJSIP/{endpoint}-"
    if channel and channel.startswith(prefix) and _CHANNEL_ID.fullmatch(channel[len(prefix):]):
        return channel
    return prefix


def own_channel(endpoint: str, channel: str | None) -> str | None:
    """``channel`` if it is exactly a PJSIP channel of ``endpoint`` (the operator's own leg of
    a call, for AMI actions on it), else None."""
    target = spy_target(endpoint, channel)
    return None if target.endswith("-") else target


def consult_line(operator: str, target: str) -> str:
    """An operator put the citizen on hold and called a department (a warm transfer)."""
    return Words(N_("warm transfer by %(operator)s: consulted department number %(target)s"),
                 operator=operator, target=target)


def consult_completed_line(operator: str, target: str) -> str:
    return Words(N_("warm transfer by %(operator)s completed: citizen connected to "
                    "department number %(target)s"), operator=operator, target=target)


def consult_returned_line(operator: str, target: str) -> str:
    return Words(N_("warm transfer by %(operator)s to department number %(target)s "
                    "cancelled: back with the operator"), operator=operator, target=target)
