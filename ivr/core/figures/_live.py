"""Live figures per skill, fed with app_queue's AMI events as they arrive.

Theory of operation
-------------------
Each skill is the app_queue queue of the same name. ``LiveFigures`` keeps, per queue:

* the callers waiting now (``Uniqueid`` -> when they joined), from ``QueueCallerJoin`` and
  removed by ``QueueCallerLeave`` / ``QueueCallerAbandon`` / ``AgentConnect``;
* the members (operators) by ``Interface``: device status, paused and why, in a call, ringing
  for which caller, and when their wrap-up ends, from ``QueueMember*`` and ``Agent*`` events;
* counters in three rings of buckets (per minute for sliding windows, per interval for charts,
  per local day for "since midnight"), bumped when something happens: offered at
  ``QueueCallerJoin``, answered at ``AgentConnect``, abandoned at ``QueueCallerAbandon``,
  talk and wrap-up at ``AgentComplete``. Calls are forgotten once they leave the queue, so
  memory depends on the waiting calls, the members and the buckets kept, not on traffic;
* idle while waiting (``Counts.idle_wait_seconds``): the seconds callers waited in a queue
  while one of its members was available. A queue's members change state only at its own
  events (and when a wrap-up time runs out), so each queue is *settled* up to an event's time
  just before the event changes it (and before figures are read): the waiting callers times
  the span in which a member was available (from the earliest wrap-up end if nobody was at
  the start). Settling costs the queue's members only while callers wait in it. A caller in a
  stage queue of their wait (``lang-*``, ``op-*``) counts towards the skill the application
  noted for them (``note_priorities``), so stage queues fold into their skills: so does an
  answer or an abandon there (counted once, in the skill, with the wait since the caller
  first joined), and the talk after it. A stage queue keeps only its own offers.

After an AMI reconnect some events are lost; ``load_snapshot`` takes the ``QueueStatus``
response and *replaces* the waiting calls and the members (never the counters) with what
Asterisk reports. A caller in the snapshot that was not known is counted as offered once (its
join was lost); one that left moments ago (its ``QueueCallerLeave`` overtook the response) is
not resurrected. Events are idempotent where Asterisk may repeat them: a second join of a
waiting caller is not a second offer.

Times are epoch seconds passed in by the shell (when the event was received); this module
reads no clock. A malformed event (missing queue, non-numeric hold time) or one that figures
do not use is counted in ``ignored`` and otherwise has no effect: ``apply`` never raises.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from types import MappingProxyType

from ivr.core.figures._clock import LocalCalendar
from ivr.core.figures._counts import (
    DEFAULT_TARGET,
    CallOutcome,
    Counts,
    Outcome,
    ServiceTarget,
    Tally,
    Target,
)
from ivr.core.protocols.ami import AmiEvent
from ivr.core.routing import OperatorState, is_stage_queue

# AST_DEVICE_* numbers in the Status field of QueueMember* events.
DEVICE_UNKNOWN = 0
DEVICE_NOT_INUSE = 1
DEVICE_INUSE = 2
DEVICE_BUSY = 3
DEVICE_INVALID = 4
DEVICE_UNAVAILABLE = 5
DEVICE_RINGING = 6
DEVICE_RINGINUSE = 7
DEVICE_ONHOLD = 8
_OFFLINE = frozenset({DEVICE_INVALID, DEVICE_UNAVAILABLE})
_ON_CALL = frozenset({DEVICE_INUSE, DEVICE_BUSY, DEVICE_RINGINUSE, DEVICE_ONHOLD})

DAY = 86_400
MINUTE = 60
# A caller who left is remembered this long so a QueueStatus response that was already on
# its way does not bring them back as waiting.
GONE_SECONDS = 300.0
GONE_MAX = 100_000
# Sanity bounds: an event time outside these years, or a wait or talk time longer than a week,
# is a corrupt field, and would make the calendar arithmetic overflow.
EARLIEST, LATEST = 0.0, 32_503_680_000.0  # 1970 .. 3000
LONGEST = 7 * DAY
WRAP_UP_PAUSE_REASONS = frozenset({"wrap-up", "wrapup", "wrap_up", "Wrap-up"})


class _Malformed(ValueError):
    """An event figures cannot use; the message is the reason counted in ``ignored``."""


@dataclass(frozen=True, slots=True)
class OperatorCounts:
    """Members of one skill's queue by state.

    ``on_call`` includes on hold; ``ringing`` is being offered a caller; ``wrap_up`` finishes
    the case after a call (the queue's wrap-up time, or paused with a wrap-up reason);
    ``unavailable`` is a member whose phone is not registered (logged in to the queue only).
    """

    available: int = 0
    on_call: int = 0
    ringing: int = 0
    wrap_up: int = 0
    paused: int = 0
    unavailable: int = 0

    @property
    def busy(self) -> int:
        """On a call or ringing: the wallboard's "busy"."""
        return self.on_call + self.ringing

    @property
    def on_duty(self) -> int:
        """Members whose phone is reachable, whatever they are doing."""
        return self.available + self.on_call + self.ringing + self.wrap_up + self.paused

    @property
    def staffed(self) -> int:
        """On duty and not paused: the operators Erlang C may count on."""
        return self.on_duty - self.paused


@dataclass(frozen=True, slots=True)
class SkillFigures:
    """One skill's live figures at ``at``.

    ``window`` covers the last ``window_seconds`` in whole minutes (the current minute
    included); ``current_interval`` is the interval ``at`` falls in, ``last_interval`` the one
    before (complete, the staffing hint's arrival rate); ``today`` is since local midnight.
    """

    skill: str
    at: float
    target: Target
    waiting: int
    longest_wait_seconds: float
    operators: OperatorCounts
    window_seconds: int
    window: Counts
    interval_seconds: int
    current_interval: Counts
    last_interval: Counts
    today: Counts

    @property
    def service_level_percent(self) -> float | None:
        """The window's service level (the wallboard's headline figure)."""
        return self.window.service_level_percent

    @property
    def meets_target(self) -> bool | None:
        level = self.window.service_level_percent
        return None if level is None else level >= self.target.percent


@dataclass(frozen=True, slots=True)
class IntervalFigures:
    """One bar of a chart: the calls of a skill in ``[start, start + seconds)``."""

    start: float
    seconds: int
    counts: Counts


@dataclass(frozen=True, slots=True)
class SnapshotLoaded:
    """What a ``QueueStatus`` snapshot replaced."""

    queues: int
    members: int
    waiting: int
    offered_late: int  # callers found waiting whose join had not been seen
    skipped_gone: int  # callers in the snapshot who had already left


class _Series:
    """A ring of buckets at one resolution; buckets older than ``keep`` are dropped."""

    __slots__ = ("buckets", "keep", "newest", "resolution")

    def __init__(self, resolution: int, keep: int) -> None:
        self.resolution = resolution
        self.keep = keep
        self.buckets: dict[int, Tally] = {}
        self.newest = -(2**62)

    def tally(self, index: int) -> Tally | None:
        bucket = self.buckets.get(index)
        if bucket is not None:
            return bucket
        if index <= self.newest - self.keep:
            return None  # older than anything kept: a late event can no longer be charted
        bucket = self.buckets[index] = Tally()
        if index > self.newest:
            self.newest = index
            oldest_kept = index - self.keep + 1
            if len(self.buckets) > self.keep:
                for stale in [i for i in self.buckets if i < oldest_kept]:
                    del self.buckets[stale]
        return bucket

    def counts(self, index: int) -> Counts:
        bucket = self.buckets.get(index)
        return bucket.freeze() if bucket is not None else Counts()

    def total(self, first: int, last: int) -> Counts:
        """The sum of buckets ``first..last`` (inclusive)."""
        out = Tally()
        for index in range(first, last + 1):
            bucket = self.buckets.get(index)
            if bucket is not None:
                out.add(bucket)
        return out.freeze()


class _Waiting:
    __slots__ = ("joined_at", "priority", "ringing", "skill")

    def __init__(
        self, joined_at: float, priority: int | None = None, skill: str | None = None
    ) -> None:
        self.joined_at = joined_at
        self.priority = priority  # QUEUE_PRIO; None when Asterisk did not say
        self.ringing: list[str] = []
        self.skill = skill  # the skill the application routed the call for, if it said


MAX_NOTED = 10_000  # calls whose queue priorities are noted ahead of their joins


def _priority(event: AmiEvent) -> int | None:
    """The caller's ``QUEUE_PRIO`` as a ``QueueEntry`` of a snapshot reports it."""
    raw = event.get("Priority").strip()
    return int(raw) if raw.isdigit() and len(raw) <= 3 else None


@dataclass(frozen=True, slots=True)
class MemberState:
    """One queue membership as the live figures have it (``LiveFigures.member_states``)."""

    queue: str
    interface: str
    paused: bool
    reason: str
    in_call: bool


class _Member:
    __slots__ = (
        "in_call",
        "name",
        "pause_reason",
        "paused",
        "ringing_for",
        "status",
        "wrap_up_seconds",
        "wrap_up_until",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = DEVICE_NOT_INUSE
        self.paused = False
        self.pause_reason = ""
        self.in_call = False
        self.ringing_for = ""
        self.wrap_up_seconds: float | None = None  # None: the skill's default
        self.wrap_up_until = -math.inf


class _Skill:
    __slots__ = (
        "days",
        "intervals",
        "members",
        "minutes",
        "name",
        "settled_at",
        "target",
        "waiting",
        "wrap_up_seconds",
    )

    def __init__(
        self, name: str, target: Target, *, wrap_up: float, interval: int,
        keep_intervals: int, keep_minutes: int,
    ) -> None:
        self.name = name
        self.target = target
        self.wrap_up_seconds = wrap_up
        self.waiting: dict[str, _Waiting] = {}
        self.members: dict[str, _Member] = {}
        self.minutes = _Series(MINUTE, keep_minutes)
        self.intervals = _Series(interval, keep_intervals)
        self.days = _Series(DAY, 2)
        self.settled_at = -math.inf  # idle-while-waiting accounted up to here


def _field(event: AmiEvent, *names: str) -> str:
    for name in names:
        value = event.fields.get(name, "").strip()
        if value:
            return value
    raise _Malformed(f"missing {names[0]}")


def _seconds(event: AmiEvent, name: str) -> float | None:
    raw = event.fields.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _Malformed(f"bad {name}") from None
    if not 0 <= value <= LONGEST:  # also refuses NaN
        raise _Malformed(f"bad {name}")
    return value


def _sane_time(at: float) -> bool:
    return EARLIEST <= at <= LATEST  # also refuses NaN


def _flag(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


class LiveFigures:
    """Per-skill live figures from AMI events; see the module docstring for the contract.

    ``targets`` maps skill id to its service-level target (``Skill.service_level``); a queue
    without one gets 80 % in 20 s. ``tz`` is the hotline's time zone (buckets and "today" are
    local). ``wrap_up_seconds`` is the queues' wrap-up time (a number, or per skill), used when
    a member does not report its own ``Wrapuptime``. ``interval_seconds`` (a divisor of an
    hour) is the chart and staffing interval, kept for ``keep_hours``; sliding windows may
    reach back ``max_window_seconds``.
    """

    def __init__(
        self,
        targets: Mapping[str, ServiceTarget] | None = None,
        *,
        tz: tzinfo = UTC,
        wrap_up_seconds: float | Mapping[str, float] = 0.0,
        interval_seconds: int = 900,
        keep_hours: int = 24,
        window_seconds: int = 900,
        max_window_seconds: int = 3600,
        wrap_up_pause_reasons: Iterable[str] = WRAP_UP_PAUSE_REASONS,
    ) -> None:
        if interval_seconds <= 0 or 3600 % interval_seconds or interval_seconds % MINUTE:
            raise ValueError("interval_seconds must be whole minutes dividing an hour")
        if keep_hours <= 0:
            raise ValueError("keep_hours must be positive")
        if not 0 < window_seconds <= max_window_seconds:
            raise ValueError("window_seconds must be in (0, max_window_seconds]")
        self._targets = {skill: Target.of(t) for skill, t in (targets or {}).items()}
        self._wrap_up = wrap_up_seconds
        self._calendar = LocalCalendar(tz)
        self.interval_seconds = interval_seconds
        self.window_seconds = window_seconds
        self._keep_intervals = keep_hours * 3600 // interval_seconds
        self._keep_minutes = -(-max_window_seconds // MINUTE) + 1
        self._wrap_up_reasons = frozenset(wrap_up_pause_reasons)
        self._skills: dict[str, _Skill] = {}
        self._gone: OrderedDict[str, float] = OrderedDict()
        # uniqueid -> {queue: QUEUE_PRIO} the application gave the call's stages (app_queue's
        # join events do not say); applied when the caller joins each queue.
        self._noted: OrderedDict[str, Mapping[str, int]] = OrderedDict()
        self._noted_skill: dict[str, str] = {}  # uniqueid -> the skill of its plan
        self._first_join: dict[str, float] = {}  # uniqueid -> when it joined its first queue
        # uniqueid -> the skill an answer in a stage queue counted for, until AgentComplete
        self._answered_home: OrderedDict[str, str] = OrderedDict()
        self._ignored: dict[str, int] = {}
        # interface -> the operator's calls today, over every queue (the supervisors' board)
        self._operator_days: dict[str, _Series] = {}
        self.events_applied = 0
        self.snapshot_loaded = False
        """A ``QueueStatus`` snapshot was loaded: the members are Asterisk's, kept by events."""
        self._handlers: dict[str, Callable[[AmiEvent, float], CallOutcome | None]] = {
            "QueueCallerJoin": self._caller_joined,
            "QueueCallerLeave": self._caller_left,
            "QueueCallerAbandon": self._caller_abandoned,
            "AgentCalled": self._operator_rung,
            "AgentRingNoAnswer": self._ring_not_answered,
            "AgentConnect": self._call_answered,
            "AgentComplete": self._call_completed,
            "AgentDump": self._operator_dumped,
            "QueueMemberAdded": self._member_changed,
            "QueueMemberStatus": self._member_changed,
            "QueueMemberPause": self._member_changed,
            "QueueMemberPenalty": self._member_changed,
            "QueueMemberRinginuse": self._member_changed,
            "QueueMemberRemoved": self._member_removed,
        }
        for skill in self._targets:
            self._skill(skill)

    # -- reading ---------------------------------------------------------------------------

    @property
    def ignored(self) -> Mapping[str, int]:
        """Events not used, by reason ("not a queue event", "QueueCallerJoin: missing Queue")."""
        return MappingProxyType(self._ignored)

    def configured_skills(self) -> tuple[str, ...]:
        """The skills given a target (the configured ones), in their order."""
        return tuple(self._targets)

    def skills(self) -> tuple[str, ...]:
        """Skills with a target or seen in an event, in the order first known."""
        return tuple(self._skills)

    def target(self, skill: str) -> Target:
        return self._targets.get(skill, DEFAULT_TARGET)

    def figures(self, skill: str, now: float, window_seconds: int | None = None) -> SkillFigures:
        """The live figures of ``skill`` at ``now`` (epoch seconds; an unknown skill has all
        zeros). ``window_seconds`` overrides the sliding window, up to ``max_window_seconds``."""
        state = self._skills.get(skill) or self._new_skill(skill)
        if state.waiting and _sane_time(now):
            self._settle(state, now)
        window = window_seconds or self.window_seconds
        cal = self._calendar
        minute = cal.index(now, MINUTE)
        minutes = max(1, min(-(-window // MINUTE), state.minutes.keep - 1))
        interval = cal.index(now, self.interval_seconds)
        oldest = min((w.joined_at for w in state.waiting.values()), default=now)
        return SkillFigures(
            skill=skill,
            at=now,
            target=state.target,
            waiting=len(state.waiting),
            longest_wait_seconds=max(0.0, now - oldest),
            operators=self._operator_counts(state, now),
            window_seconds=minutes * MINUTE,
            window=state.minutes.total(minute - minutes + 1, minute),
            interval_seconds=self.interval_seconds,
            current_interval=state.intervals.counts(interval),
            last_interval=state.intervals.counts(interval - 1),
            today=state.days.counts(cal.index(now, DAY)),
        )

    def all_figures(self, now: float) -> dict[str, SkillFigures]:
        self.settle(now)
        return {skill: self.figures(skill, now) for skill in self._skills}

    def history(
        self, skill: str, now: float, *, hours: float = 4, per: int | None = None
    ) -> tuple[IntervalFigures, ...]:
        """Chart bars for the last ``hours`` up to ``now``, oldest first, empty ones included.

        ``per`` is the bar width: the interval (default) or a multiple of it such as 3600.
        Bars start at local interval (or hour) boundaries; the last one is in progress.
        """
        per = per or self.interval_seconds
        if per % self.interval_seconds:
            raise ValueError("per must be a multiple of the interval")
        state = self._skills.get(skill)
        cal = self._calendar
        step = per // self.interval_seconds
        last_bar = cal.index(now, per)
        bars = max(1, math.ceil(hours * 3600 / per))
        out = []
        for bar in range(last_bar - bars + 1, last_bar + 1):
            first = bar * step
            counts = (
                state.intervals.total(first, first + step - 1) if state is not None else Counts()
            )
            out.append(IntervalFigures(cal.start(bar, per), per, counts))
        return tuple(out)

    def note_priorities(
        self, uniqueid: str, priorities: Mapping[str, int], skill: str | None = None
    ) -> None:
        """The ``QUEUE_PRIO`` a call will have in each queue of its wait (its plan's stages),
        told before it joins: app_queue's join events do not carry it; ``skill``, the skill
        it was routed for, is where its waits in stage queues count. Kept for at most
        ``MAX_NOTED`` calls (the oldest forgotten), and dropped once the call is answered or
        abandoned."""
        self._noted[uniqueid] = dict(priorities)
        self._noted.move_to_end(uniqueid)
        if skill:
            self._noted_skill[uniqueid] = skill
        while len(self._noted) > MAX_NOTED:
            old, _ = self._noted.popitem(last=False)
            self._noted_skill.pop(old, None)
            self._first_join.pop(old, None)

    def settle(self, now: float) -> None:
        """Bring idle-while-waiting up to ``now`` in every queue where callers wait (before
        reading several skills' figures at once)."""
        if not _sane_time(now):
            return
        for state in self._skills.values():
            if state.waiting:
                self._settle(state, now)

    def stage_waiting(self, stage_queues: Callable[[str], bool], now: float
                      ) -> dict[str, tuple[int, float]]:
        """Callers waiting now in the queues ``stage_queues`` picks, by the skill noted for
        them (unknown: the stage queue itself): (how many, the longest wait)."""
        out: dict[str, tuple[int, float]] = {}
        for name, state in self._skills.items():
            if not state.waiting or not stage_queues(name):
                continue
            for waiting in state.waiting.values():
                skill = waiting.skill or name
                count, longest = out.get(skill, (0, 0.0))
                out[skill] = (count + 1, max(longest, now - waiting.joined_at))
        return out

    def member_states(self) -> list[MemberState]:
        """Every queue membership (stage queues too) with its pause and call state: who is
        logged in where, without asking Asterisk."""
        return [MemberState(name, interface, m.paused, m.pause_reason, m.in_call)
                for name, state in self._skills.items()
                for interface, m in state.members.items()]

    def waiting_by_priority(self, skill: str) -> dict[int | None, int]:
        """How many callers wait in ``skill``'s queue at each ``QUEUE_PRIO`` (None: not
        reported), so a new caller can be told how many will really be served first."""
        state = self._skills.get(skill)
        counts: dict[int | None, int] = {}
        for waiting in state.waiting.values() if state is not None else ():
            counts[waiting.priority] = counts.get(waiting.priority, 0) + 1
        return counts

    def operator_today(self, interface: str, now: float) -> Counts:
        """The calls the operator at ``interface`` completed today (the hotline's day), in
        every queue: ``completed``, talk and wrap-up seconds, ``average_handle_time``."""
        series = self._operator_days.get(interface)
        return series.counts(self._calendar.index(now, DAY)) if series else Counts()

    def operator_states(self, skill: str, now: float) -> dict[str, OperatorState]:
        """Each member of the skill's queue (by interface) in routing's terms; ringing is
        ON_CALL and an unreachable phone LOGGED_OUT."""
        state = self._skills.get(skill)
        if state is None:
            return {}
        return {
            interface: _ROUTING_STATE[self._classify(member, now)]
            for interface, member in state.members.items()
        }

    # -- feeding ---------------------------------------------------------------------------

    def apply(self, event: AmiEvent, at: float) -> CallOutcome | None:
        """Take one AMI event received at ``at``; returns a call's outcome when one is known.

        An answered call's outcome comes twice: with ``AgentConnect`` (``completed`` False,
        the wait known), then final with ``AgentComplete`` (wait, talk and wrap-up known); an
        abandoned one with ``QueueCallerAbandon``.
        """
        handler = self._handlers.get(event.name)
        if handler is None:
            self._ignore("not a queue event")
            return None
        if not _sane_time(at):
            self._ignore(f"{event.name}: bad time")
            return None
        queue = self._skills.get(event.fields.get("Queue", "").strip())
        if queue is not None and queue.waiting:
            self._settle(queue, at)  # the event may change who is available or waiting
        try:
            outcome = handler(event, at)
        except _Malformed as exc:
            self._ignore(f"{event.name}: {exc}")
            return None
        self.events_applied += 1
        return outcome

    def load_snapshot(self, messages: Iterable[AmiEvent], at: float) -> SnapshotLoaded:
        """Replace waiting callers and members with a ``QueueStatus`` response's.

        ``messages`` are the response's events (``QueueParams``, ``QueueMember``,
        ``QueueEntry``; others are skipped). Every queue named in the response is replaced; a
        queue known here but absent from it loses its waiting callers and members (it no
        longer exists in Asterisk). Counters are kept: only callers whose join was never
        seen are counted as offered, at the time they joined (``at - Wait``). A response
        naming no queue at all changes nothing (counted in ``ignored``).
        """
        if not _sane_time(at):
            self._ignore("snapshot: bad time")
            return SnapshotLoaded(0, 0, 0, 0, 0)
        self._forget_gone(at)
        queues: dict[str, tuple[dict[str, _Member], list[tuple[float, str, int | None]]]] = {}
        for message in messages:
            if message.name not in _SNAPSHOT_MESSAGES:
                continue  # the action's own response and QueueStatusComplete carry no state
            try:
                queue = _field(message, "Queue")
                members, entries = queues.setdefault(queue, ({}, []))
                if message.name == "QueueMember":
                    interface = _field(message, "Location", "Interface", "StateInterface")
                    update = _MemberUpdate.of(message)
                    member = _Member(message.get("Name") or message.get("MemberName"))
                    update.apply(member)
                    members[interface] = member
                elif message.name == "QueueEntry":
                    uniqueid = _field(message, "Uniqueid")
                    wait = _seconds(message, "Wait") or 0.0
                    entries.append((at - wait, uniqueid, _priority(message)))
            except _Malformed as exc:
                self._ignore(f"snapshot {message.name}: {exc}")
        if not queues:
            # A failed or cut-short action, not Asterisk without queues: keep what we have.
            self._ignore("snapshot: no queue in the response")
            return SnapshotLoaded(0, 0, 0, 0, 0)
        self.settle(at)  # idle-while-waiting up to now, with the states as they were
        late = skipped = 0
        for name in list(self._skills):
            if name not in queues:
                self._skills[name].waiting.clear()
                self._skills[name].members.clear()
        for name, (members, entries) in queues.items():
            state = self._skill(name)
            for interface, member in members.items():
                before = state.members.get(interface)
                if before is not None:
                    # Asterisk does not report the end of a wrap-up; keep what we knew.
                    member.wrap_up_until = before.wrap_up_until
            state.members = members
            waiting: dict[str, _Waiting] = {}
            for joined_at, uniqueid, priority in sorted(entries, key=lambda e: e[:2]):
                if uniqueid in self._gone:
                    skipped += 1
                    continue
                known = state.waiting.get(uniqueid)
                if known is None:
                    late += 1
                    for tally in self._tallies(state, joined_at):
                        tally.offered += 1
                    waiting[uniqueid] = _Waiting(joined_at, priority,
                                                 self._noted_skill.get(uniqueid))
                else:
                    waiting[uniqueid] = _Waiting(
                        known.joined_at, known.priority if priority is None else priority,
                        known.skill)
            state.waiting = waiting
        self.snapshot_loaded = True
        return SnapshotLoaded(
            queues=len(queues),
            members=sum(len(m) for m, _ in queues.values()),
            waiting=sum(len(self._skills[q].waiting) for q in queues),
            offered_late=late,
            skipped_gone=skipped,
        )

    # -- handlers --------------------------------------------------------------------------
    # Each handler reads and checks every field it needs before it changes anything, so a
    # malformed event (``_Malformed``) leaves the figures exactly as they were.

    def _caller_joined(self, event: AmiEvent, at: float) -> None:
        queue, uniqueid = _field(event, "Queue"), _field(event, "Uniqueid")
        state = self._skill(queue)
        self._gone.pop(uniqueid, None)  # a caller put back in line is waiting again
        if uniqueid in state.waiting:
            return  # already counted (a repeated event or the snapshot saw them first)
        noted = self._noted.get(uniqueid)
        if uniqueid in self._noted_skill:
            self._first_join.setdefault(uniqueid, at)
        if not state.waiting:
            state.settled_at = at
        state.waiting[uniqueid] = _Waiting(at, noted.get(queue) if noted is not None else None,
                                           self._noted_skill.get(uniqueid))
        for tally in self._tallies(state, at):
            tally.offered += 1

    def _caller_left(self, event: AmiEvent, at: float) -> None:
        queue, uniqueid = _field(event, "Queue"), _field(event, "Uniqueid")
        self._leave(self._skill(queue), uniqueid, at)

    def _caller_abandoned(self, event: AmiEvent, at: float) -> CallOutcome:
        queue, uniqueid = _field(event, "Queue"), _field(event, "Uniqueid")
        wait = self._wait(event, self._waiting(queue, uniqueid), at)
        state = self._skill(queue)
        home, wait = self._home(state, uniqueid, wait, at)
        self._forget_noted(uniqueid)
        self._leave(state, uniqueid, at)
        in_target = wait <= home.target.seconds
        for tally in self._tallies(home, at):
            tally.abandoned += 1
            tally.wait_abandoned_seconds += wait
            tally.abandoned_in_target += in_target
        return CallOutcome(
            skill=home.name, arrived_at=at - wait, outcome=Outcome.ABANDONED,
            wait_seconds=wait, uniqueid=uniqueid,
        )

    def _operator_rung(self, event: AmiEvent, at: float) -> None:
        queue, interface = _field(event, "Queue"), _interface(event)
        state = self._skill(queue)
        member = self._member(state, interface, event)
        uniqueid = event.get("Uniqueid")
        member.ringing_for = uniqueid or "?"
        waiting = state.waiting.get(uniqueid)
        if waiting is not None:
            waiting.ringing.append(interface)

    def _ring_not_answered(self, event: AmiEvent, at: float) -> None:
        queue, interface = _field(event, "Queue"), _interface(event)
        state = self._skill(queue)
        self._member(state, interface, event).ringing_for = ""
        for tally in self._tallies(state, at):
            tally.rings_unanswered += 1

    def _operator_dumped(self, event: AmiEvent, at: float) -> None:
        # The operator hung up during the announcement: the call ends as if completed
        # without talk; AgentComplete does not follow.
        queue, interface = _field(event, "Queue"), _interface(event)
        member = self._member(self._skill(queue), interface, event)
        member.in_call = False
        member.ringing_for = ""

    def _call_answered(self, event: AmiEvent, at: float) -> CallOutcome:
        queue, interface = _field(event, "Queue"), _interface(event)
        uniqueid = event.get("Uniqueid")
        wait = self._wait(event, self._waiting(queue, uniqueid), at)
        state = self._skill(queue)
        member = self._member(state, interface, event)
        home, wait = self._home(state, uniqueid, wait, at)
        if home is not state:
            self._answered_home[uniqueid] = home.name
            while len(self._answered_home) > MAX_NOTED:
                self._answered_home.popitem(last=False)
        if uniqueid:
            self._forget_noted(uniqueid)
            self._leave(state, uniqueid, at)
        member.in_call = True
        member.ringing_for = ""
        in_target = wait <= home.target.seconds
        for tally in self._tallies(home, at):
            tally.answered += 1
            tally.wait_answered_seconds += wait
            tally.answered_in_target += in_target
        return CallOutcome(
            skill=state.name, arrived_at=at - wait, outcome=Outcome.ANSWERED, wait_seconds=wait,
            completed=False, uniqueid=uniqueid, operator=member.name or interface,
        )

    def _call_completed(self, event: AmiEvent, at: float) -> CallOutcome:
        queue, interface = _field(event, "Queue"), _interface(event)
        talk = _seconds(event, "TalkTime")
        if talk is None:
            raise _Malformed("missing TalkTime")
        wait = _seconds(event, "HoldTime") or 0.0
        state = self._skill(queue)
        member = self._member(state, interface, event)
        wrap_up = (
            member.wrap_up_seconds if member.wrap_up_seconds is not None
            else state.wrap_up_seconds
        )
        member.in_call = False
        member.ringing_for = ""
        member.wrap_up_until = at + wrap_up
        home_name = self._answered_home.pop(event.get("Uniqueid"), None)
        home = self._skill(home_name) if home_name else state
        day = self._operator_days.setdefault(interface, _Series(DAY, 2))
        for tally in [*self._tallies(home, at), day.tally(self._calendar.index(at, DAY))]:
            if tally is None:
                continue
            tally.completed += 1
            tally.talk_seconds += talk
            tally.wrap_up_seconds += wrap_up
        return CallOutcome(
            skill=home.name, arrived_at=at - talk - wait, outcome=Outcome.ANSWERED,
            wait_seconds=wait, talk_seconds=talk, wrap_up_seconds=wrap_up,
            uniqueid=event.get("Uniqueid"), operator=member.name or interface,
        )

    def _member_changed(self, event: AmiEvent, at: float) -> None:
        queue, interface = _field(event, "Queue"), _interface(event)
        update = _MemberUpdate.of(event)
        update.apply(self._member(self._skill(queue), interface, event))

    def _member_removed(self, event: AmiEvent, at: float) -> None:
        queue, interface = _field(event, "Queue"), _interface(event)
        self._skill(queue).members.pop(interface, None)

    # -- helpers ---------------------------------------------------------------------------

    def _home(self, state: _Skill, uniqueid: str, wait: float, at: float
              ) -> tuple[_Skill, float]:
        """Where an answer or abandon in ``state`` counts, and with which wait: a stage
        queue's counts go to the caller's skill, with the wait since they first joined."""
        skill = self._noted_skill.get(uniqueid) if uniqueid else None
        if skill is None or skill == state.name or not is_stage_queue(state.name):
            return state, wait
        first = self._first_join.get(uniqueid)
        return self._skill(skill), max(wait, at - first) if first is not None else wait

    def _forget_noted(self, uniqueid: str) -> None:
        self._noted.pop(uniqueid, None)
        self._noted_skill.pop(uniqueid, None)
        self._first_join.pop(uniqueid, None)

    def _ignore(self, reason: str) -> None:
        self._ignored[reason] = self._ignored.get(reason, 0) + 1

    def _new_skill(self, name: str) -> _Skill:
        wrap_up = (
            self._wrap_up if isinstance(self._wrap_up, int | float)
            else self._wrap_up.get(name, 0.0)
        )
        return _Skill(
            name, self.target(name), wrap_up=float(wrap_up), interval=self.interval_seconds,
            keep_intervals=self._keep_intervals, keep_minutes=self._keep_minutes,
        )

    def _skill(self, name: str) -> _Skill:
        state = self._skills.get(name)
        if state is None:
            state = self._skills[name] = self._new_skill(name)
        return state

    def _waiting(self, queue: str, uniqueid: str) -> _Waiting | None:
        """The waiting caller, looked up without creating the skill."""
        state = self._skills.get(queue)
        return state.waiting.get(uniqueid) if state is not None else None

    def _member(self, state: _Skill, interface: str, event: AmiEvent) -> _Member:
        member = state.members.get(interface)
        if member is None:
            # An Agent* event for a member we never saw (its QueueMemberAdded was lost):
            # it is a member all the same.
            member = state.members[interface] = _Member(event.get("MemberName"))
        return member

    def _tallies(self, state: _Skill, at: float) -> list[Tally]:
        cal = self._calendar
        out = []
        for series in (state.minutes, state.intervals, state.days):
            tally = series.tally(cal.index(at, series.resolution))
            if tally is not None:
                out.append(tally)
        return out

    def _wait(self, event: AmiEvent, waiting: _Waiting | None, at: float) -> float:
        """Asterisk's HoldTime (whole seconds, its own count) or, without it, ours."""
        wait = _seconds(event, "HoldTime")
        if wait is not None:
            return wait
        if waiting is None:
            raise _Malformed("missing HoldTime")
        return max(0.0, at - waiting.joined_at)

    def _leave(self, state: _Skill, uniqueid: str, at: float) -> None:
        waiting = state.waiting.pop(uniqueid, None)
        if waiting is not None:
            for interface in waiting.ringing:
                member = state.members.get(interface)
                if member is not None and member.ringing_for == uniqueid:
                    member.ringing_for = ""
        self._gone[uniqueid] = at
        self._gone.move_to_end(uniqueid)
        self._forget_gone(at)

    def _forget_gone(self, at: float) -> None:
        gone = self._gone
        while gone:
            _, left_at = next(iter(gone.items()))
            if left_at >= at - GONE_SECONDS and len(gone) <= GONE_MAX:
                break
            gone.popitem(last=False)

    def _settle(self, state: _Skill, now: float) -> None:
        """Idle-while-waiting of ``state``'s waiting callers from ``settled_at`` to ``now``
        (see the module docstring), counted in the tallies of ``now``."""
        since = max(state.settled_at, min(w.joined_at for w in state.waiting.values()))
        state.settled_at = max(state.settled_at, now)
        if now <= since:
            return
        start: float | None = None
        for member in state.members.values():
            kind = self._classify(member, since)
            if kind == "available":
                start = since
                break
            # A wrap-up running out within the span, with nothing else holding them.
            if (kind == "wrap_up" and not member.paused and member.wrap_up_until < now
                    and (start is None or member.wrap_up_until < start)):
                start = member.wrap_up_until
        if start is None:
            return
        for waiting in state.waiting.values():
            seconds = now - max(start, waiting.joined_at)
            if seconds <= 0:
                continue
            target = state
            if waiting.skill and waiting.skill != state.name:
                target = self._skills.get(waiting.skill) or self._skill(waiting.skill)
            for tally in self._tallies(target, now):
                tally.idle_wait_seconds += seconds

    def _classify(self, member: _Member, now: float) -> str:
        if member.status in _OFFLINE:
            return "unavailable"
        if member.ringing_for or member.status == DEVICE_RINGING:
            return "ringing"
        if member.in_call or member.status in _ON_CALL:
            return "on_call"
        if member.paused:
            return "wrap_up" if member.pause_reason in self._wrap_up_reasons else "paused"
        if now < member.wrap_up_until:
            return "wrap_up"
        return "available"

    def _operator_counts(self, state: _Skill, now: float) -> OperatorCounts:
        counts = dict.fromkeys(
            ("available", "on_call", "ringing", "wrap_up", "paused", "unavailable"), 0
        )
        for member in state.members.values():
            counts[self._classify(member, now)] += 1
        return OperatorCounts(**counts)


_SNAPSHOT_MESSAGES = frozenset({"QueueParams", "QueueMember", "QueueEntry"})

_ROUTING_STATE = {
    "unavailable": OperatorState.LOGGED_OUT,
    "ringing": OperatorState.ON_CALL,
    "on_call": OperatorState.ON_CALL,
    "wrap_up": OperatorState.WRAP_UP,
    "paused": OperatorState.PAUSED,
    "available": OperatorState.AVAILABLE,
}


def _interface(event: AmiEvent) -> str:
    return _field(event, "Interface", "StateInterface")


@dataclass(frozen=True, slots=True)
class _MemberUpdate:
    """The fields a QueueMember* event carries, checked; ``None`` keeps the member's value."""

    name: str
    status: int | None
    paused: bool | None
    pause_reason: str
    in_call: bool | None
    wrap_up_seconds: float | None

    @classmethod
    def of(cls, event: AmiEvent) -> _MemberUpdate:
        fields = event.fields
        raw_status = fields.get("Status", "").strip()
        status = None
        if raw_status:
            if not raw_status.isascii() or not raw_status.isdigit() or len(raw_status) > 3:
                raise _Malformed("bad Status")
            status = int(raw_status)
        paused = _flag(fields["Paused"]) if "Paused" in fields else None
        return cls(
            name=fields.get("MemberName") or fields.get("Name") or "",
            status=status,
            paused=paused,
            pause_reason=fields.get("PausedReason", "") if paused else "",
            in_call=_flag(fields["InCall"]) if "InCall" in fields else None,
            wrap_up_seconds=_seconds(event, "Wrapuptime"),
        )

    def apply(self, member: _Member) -> None:
        if self.name:
            member.name = self.name
        if self.status is not None:
            member.status = self.status
            if self.status == DEVICE_NOT_INUSE:
                member.ringing_for = ""  # the phone says it is idle: any ring we saw has ended
        if self.paused is not None:
            member.paused = self.paused
            member.pause_reason = self.pause_reason
        if self.in_call is not None:
            member.in_call = self.in_call
        if self.wrap_up_seconds is not None:
            # 0 means "the queue's wrap-up time" in app_queue.
            member.wrap_up_seconds = self.wrap_up_seconds or None
