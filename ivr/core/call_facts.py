"""What Asterisk itself says about a call, made into the call's final record. Pure.

Asterisk's account of a call comes from two places (the shell, ``ivr.calls.reconcile``,
reads them):

* app_queue's ``queue_log`` (one line per queue event, keyed by the caller's unique id, which
  is the call record's ``call_id``)::

      1733220000|1733219990.42|hotline|NONE|ENTERQUEUE||13800138000|1
      1733220003|1733219990.42|hotline|PJSIP/op1004|CONNECT|3|1733220000.43|1
      1733220063|1733219990.42|hotline|PJSIP/op1004|COMPLETEAGENT|3|60|1

  ``parse_queue_log_line`` reads one line (``None`` for anything that is not one: a torn
  line, garbage, a line of another format); ``CallFacts.add`` folds a call's lines together;
* the channel list (AMI ``CoreShowChannels``): a call whose channel is gone has ended, even if
  no queue line says so (``CallFacts.gone_at``).

``reconcile_call(facts, recorded, ...)`` is the one place these facts meet what the
application recorded: it returns the final record (the recorded one completed, or a new one
for a call the application never saw) or ``None`` when the recorded one already says it all.
Applying it twice gives the same record: any node may run it (upsert by call id).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ivr.core.records import CallRecord

MAX_LINE = 4096  # a longer line is not app_queue's
FINAL_EVENTS = frozenset({"COMPLETECALLER", "COMPLETEAGENT", "ABANDON", "BLINDTRANSFER",
                          "ATTENDEDTRANSFER"})
"""Queue events after which the caller has left app_queue for good (in this dialplan a
timeout (``EXITWITHTIMEOUT``) or a key (``EXITWITHKEY``) leads to the next stage or a
callback: not final)."""
WITHOUT_APPLICATION = "without_application"
"""The outcome of a call the application never saw (it was down or unreachable): the
dialplan's fallback queued it and only Asterisk's records tell what happened."""
INTERRUPTED = "interrupted"
"""The outcome of a call the application was handling when it stopped (killed, crashed)."""
_CALLER = re.compile(r"\+?[0-9*#]{1,32}")
RECORDED_BY = "recorded_by"  # variables[RECORDED_BY] = "asterisk" on a record made here


@dataclass(frozen=True, slots=True)
class QueueLogEntry:
    """One line of app_queue's queue_log."""

    at: float  # epoch seconds
    call_id: str
    queue: str
    agent: str  # the member's interface (or name), "NONE" when no member is concerned
    event: str
    data: tuple[str, ...]


def parse_queue_log_line(line: str) -> QueueLogEntry | None:
    """One queue_log line, or ``None`` for a line that is not a call's queue event."""
    if len(line) > MAX_LINE:
        return None
    parts = line.rstrip("\r\n").split("|")
    if len(parts) < 5:
        return None
    stamp, call_id, queue, agent, event, *data = parts
    try:
        at = float(stamp)
    except ValueError:
        return None
    if not math.isfinite(at) or at < 0 or not call_id or call_id in {"NONE", "REALTIME"}:
        return None
    if not event.isupper() or not event.replace("_", "").isalnum() or not queue:
        return None
    if any(ch < " " for ch in call_id + queue + agent):
        return None
    return QueueLogEntry(at, call_id, queue, agent, event, tuple(data))


def _number(data: tuple[str, ...], index: int) -> float | None:
    try:
        value = float(data[index])
    except (IndexError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


@dataclass(slots=True)
class CallFacts:
    """What Asterisk said about one call so far."""

    call_id: str
    caller: str = ""
    entered_at: float | None = None  # first queue joined
    queues: list[str] = field(default_factory=list)
    agent: str = ""  # who answered (queue_log's agent field)
    answered_at: float | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    ended_at: float | None = None  # left the queue for good (answered and done, or gave up)
    abandoned: bool = False
    gone_at: float | None = None  # the channel was found gone (AMI), queue or not

    @property
    def final(self) -> bool:
        """True once nothing more will happen to the call."""
        return self.ended_at is not None or self.gone_at is not None

    def add(self, entry: QueueLogEntry) -> None:
        """Fold one of the call's queue_log lines in (lines in the order Asterisk wrote)."""
        data = entry.data
        if entry.event == "ENTERQUEUE":
            if self.entered_at is None:
                self.entered_at = entry.at
            if entry.queue not in self.queues:
                self.queues.append(entry.queue)
            if not self.caller and len(data) > 1 and _CALLER.fullmatch(data[1]):
                self.caller = data[1]
        elif entry.event == "CONNECT":
            self.agent = entry.agent
            self.answered_at = entry.at
            start = self.entered_at if self.entered_at is not None else entry.at
            self.wait_seconds = max(0.0, entry.at - start)
        elif entry.event in {"COMPLETECALLER", "COMPLETEAGENT"}:
            if not self.agent:
                self.agent = entry.agent
            self.talk_seconds = _number(data, 1)
            if self.answered_at is None and self.talk_seconds is not None:
                self.answered_at = entry.at - self.talk_seconds
            self.ended_at = entry.at
        elif entry.event in {"BLINDTRANSFER", "ATTENDEDTRANSFER"}:
            if not self.agent:
                self.agent = entry.agent
            self.talk_seconds = _number(data, 3)
            self.ended_at = entry.at
        elif entry.event == "ABANDON":
            self.abandoned = True
            self.wait_seconds = (max(0.0, entry.at - self.entered_at)
                                 if self.entered_at is not None else _number(data, 2))
            self.ended_at = entry.at


def operators_by_agent(operators: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """queue_log's agent field -> operator id, from ``{id: (interface, name)}``: the member's
    interface (``log_membername_as_agent = no``, as rendered here), or its name when an
    existing Asterisk logs names and the name is one operator's only."""
    by_name: dict[str, list[str]] = {}
    for op_id, (_, name) in operators.items():
        by_name.setdefault(name, []).append(op_id)
    out = {name: ids[0] for name, ids in by_name.items() if len(ids) == 1 and name}
    out.update({interface: op_id for op_id, (interface, _) in operators.items()})
    return out


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def reconcile_call(
    facts: CallFacts, recorded: CallRecord | None, agents: Mapping[str, str],
    default_language: str,
) -> CallRecord | None:
    """The call's final record from Asterisk's ``facts`` and what the application
    ``recorded`` (``None``: nothing); ``None`` when there is nothing to change.

    What the application recorded wins where it says something (its operator, wait and talk
    come from the same app_queue, seen live); Asterisk's facts fill what it could not see: a
    call that never reached it, or the part of a call after it stopped. ``agents`` maps
    queue_log's agent field to operator ids (``operators_by_agent``)."""
    if not facts.final:
        return None
    operator = agents.get(facts.agent) if facts.agent else None
    if facts.agent and operator is None:
        operator = facts.agent  # a member the configuration does not know: shown as logged
    if recorded is None:
        if facts.entered_at is None:
            return None  # gone without ever queueing, and never seen: nothing to record
        record = CallRecord(
            call_id=facts.call_id, channel="", caller=facts.caller,
            language=default_language, arrived_at=_stamp(facts.entered_at),
            queue=facts.queues[0] if facts.queues else None,
            outcome="abandoned" if facts.abandoned else WITHOUT_APPLICATION,
            variables={RECORDED_BY: "asterisk"},
        )
    else:
        record = dataclasses.replace(
            recorded, path=list(recorded.path), variables=dict(recorded.variables),
            route_reasons=list(recorded.route_reasons),
            queue_outcome=list(recorded.queue_outcome))
        if record.outcome == "in_progress":
            record.outcome = INTERRUPTED
        elif facts.abandoned and record.outcome == "routed":
            record.outcome = "abandoned"  # the application missed app_queue's event
    missed_end = False  # the application did not see the call leave the queue
    if operator and not facts.abandoned:
        if record.operator is None:
            record.operator = operator
        if record.answered_at is None and facts.answered_at is not None:
            record.answered_at = _stamp(facts.answered_at)
        if record.talk_seconds is None and facts.talk_seconds is not None:
            record.talk_seconds = facts.talk_seconds
            missed_end = True
    if record.wait_seconds is None and facts.wait_seconds is not None:
        record.wait_seconds = round(facts.wait_seconds, 1)
        missed_end = missed_end or facts.abandoned
    end = facts.ended_at if facts.ended_at is not None else facts.gone_at
    if end is not None and (record.ended_at is None or missed_end):
        record.ended_at = max(record.ended_at or "", _stamp(end))
    return None if record == recorded else record
