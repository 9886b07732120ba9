"""An index of operators' states that answers "best available operator" in microseconds.

Theory of operation
-------------------
Every acceptable operator for a call is ranked by the same key, whether found by this index
or by a full scan (``rank``)::

    (tier, not in the open case's department, member penalty, since, operator id)

where the member penalty is the app_queue penalty (``5 - level`` for the call's skill and
language, 5 for a speaker of the language without the skill, 6 for anyone else) and the tier
is 0, 1 or 2 for those three groups. So: skill holders speaking the language first, the open
case's department first within a group, the highest level, then the longest idle.

Only AVAILABLE operators are filed, in *buckets*: insertion-ordered dicts from operator id
to ``since``. Operators become available in time order, so appending keeps every bucket
sorted by idle time and the longest idle is the bucket's first entry; an out-of-order
``since`` (a resync after an AMI reconnect) re-sorts that one bucket. An operator is filed
under each of::

    ("skill", skill, level, language)            ("lang", language)            ("all",)
    ("skill", skill, level, language, dept)      ("lang", language, dept)      ("all", dept)

A query walks at most ``5 + 5 + 2 + 2`` buckets in rank order and takes the first entry
of the first non-empty one. Each bucket below the first has a proof that it holds no
better-ranked operator (see ``best_available``). A state change touches only the changed
operator's buckets: ``O(skills x languages)``, independent of the number of operators.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, replace

from ivr.core.routing._model import (
    MAX_LEVEL,
    MIN_LEVEL,
    OperatorState,
    OperatorStateChanged,
    OperatorStatus,
)
from ivr.core.routing._policy import (
    GENERAL_POOL_PENALTY,
    LANGUAGE_PENALTY,
    WideningStep,
    penalty_for,
)

_STAFFED = frozenset({OperatorState.AVAILABLE, OperatorState.ON_CALL, OperatorState.WRAP_UP})


@dataclass(frozen=True, slots=True)
class Candidate:
    """An acceptable available operator and why they rank where they do."""

    status: OperatorStatus
    penalty: int  # app_queue member penalty for this call: 0..4 skill, 5 language, 6 pool
    department_match: bool

    @property
    def level(self) -> int | None:
        """The skill level behind the penalty, or None for a language or pool match."""
        return MAX_LEVEL - self.penalty if self.penalty < LANGUAGE_PENALTY else None


def member_penalty(status: OperatorStatus, skill: str, language: str) -> int:
    """The operator's penalty for a call of ``skill`` in ``language`` (see the module doc)."""
    if language not in status.languages:
        return GENERAL_POOL_PENALTY
    level = status.skills.get(skill)
    return LANGUAGE_PENALTY if level is None else penalty_for(level)


def acceptable(status: OperatorStatus, skill: str, language: str, step: WideningStep) -> bool:
    """Whether an operator may take such a call at this step (regardless of their state)."""
    return member_penalty(status, skill, language) <= step.max_penalty


def rank(candidate: Candidate) -> tuple[int, bool, int, float, str]:
    """The sort key of acceptable operators: lower is better (see the module doc)."""
    tier = max(0, candidate.penalty - MAX_LEVEL + 1)
    return (
        tier,
        not candidate.department_match,
        candidate.penalty,
        candidate.status.since,
        candidate.status.operator_id,
    )


def _widened(step: WideningStep) -> bool:
    # Once any speaker of the language is acceptable, so is every skill holder at any level.
    return step.any_skill_with_language or step.general_pool


_Bucket = dict[str, float]


class OperatorIndex:
    """Operators' current states, filed for fast routing; updated by ``apply`` only.

    Not thread-safe: owned by the one task that consumes AMI events.
    """

    __slots__ = ("_buckets", "_counts", "_statuses")

    def __init__(self, statuses: Iterable[OperatorStatus] = ()) -> None:
        self._statuses: dict[str, OperatorStatus] = {}
        self._buckets: dict[Hashable, _Bucket] = {}
        self._counts: dict[tuple[str, OperatorState], int] = {}
        for status in sorted(statuses, key=lambda s: s.since):
            self.apply(status)

    def __len__(self) -> int:
        return len(self._statuses)

    def __iter__(self) -> Iterator[OperatorStatus]:
        return iter(self._statuses.values())

    def get(self, operator_id: str) -> OperatorStatus | None:
        """The operator's current status, or None if never seen."""
        return self._statuses.get(operator_id)

    def count(self, skill: str, *states: OperatorState) -> int:
        """How many operators holding ``skill`` are in any of ``states``.

        With no states: those staffing the skill (available, on a call or wrapping up),
        the figure an expected-wait estimate divides by.
        """
        return sum(self._counts.get((skill, state), 0) for state in states or _STAFFED)

    def apply(self, change: OperatorStatus | OperatorStateChanged) -> OperatorStatus:
        """Record a change and return the operator's new status.

        An ``OperatorStatus`` replaces whatever was known (login, skills edited, resync).
        An ``OperatorStateChanged`` moves a known operator to a new state; leaving ON_CALL
        counts a handled call. Raises KeyError for a state change of an unknown operator:
        the shell must resync from Asterisk instead of guessing their skills.
        """
        old = self._statuses.get(change.operator_id)
        if isinstance(change, OperatorStatus):
            new = change
        else:
            if old is None:
                raise KeyError(f"state change for unknown operator {change.operator_id!r}")
            finished_call = (
                old.state is OperatorState.ON_CALL and change.state is not OperatorState.ON_CALL
            )
            new = replace(
                old,
                state=change.state,
                since=change.at,
                pause_reason=change.pause_reason,
                calls_handled=old.calls_handled + finished_call,
            )
        if old is not None:
            self._forget(old)
        self._statuses[new.operator_id] = new
        self._file(new)
        return new

    def best_available(
        self, skill: str, language: str, step: WideningStep, department: str | None = None
    ) -> Candidate | None:
        """The best-ranked available operator acceptable at ``step``, or None.

        Why the walk is exact: groups are tried in tier order and, inside a tier, the
        department's buckets before the others and levels from 5 down, so the first entry
        found ranks best in its bucket, and every earlier bucket was empty. The "lang"
        bucket also files skill holders, but it is reached only after every skill bucket
        from level 1 was empty for this language, so its first entry lacks the skill; the
        same argument holds for "all" after "lang".
        """
        widened = _widened(step)
        lowest = MIN_LEVEL if widened else step.min_level
        levels = range(MAX_LEVEL, lowest - 1, -1)
        buckets = self._buckets
        for dept in (department, None) if department else (None,):
            for level in levels:
                key: Hashable = (
                    ("skill", skill, level, language, dept)
                    if dept
                    else ("skill", skill, level, language)
                )
                found = self._first(buckets.get(key), penalty_for(level), bool(dept))
                if found is not None:
                    return found
        groups: list[tuple[str, ...]] = []
        if widened:
            groups.append(("lang", language))
        if step.general_pool:
            groups.append(("all",))
        for penalty, group in enumerate(groups, start=LANGUAGE_PENALTY):
            for dept in (department, None) if department else (None,):
                key = (*group, dept) if dept else group
                found = self._first(buckets.get(key), penalty, bool(dept))
                if found is not None:
                    return found
        return None

    def _first(
        self, bucket: _Bucket | None, penalty: int, department_match: bool
    ) -> Candidate | None:
        if not bucket:
            return None
        operator_id = next(iter(bucket))
        return Candidate(self._statuses[operator_id], penalty, department_match)

    def _keys(self, status: OperatorStatus) -> Iterator[Hashable]:
        dept = status.department
        for language in status.languages:
            for skill, level in status.skills.items():
                yield ("skill", skill, level, language)
                if dept:
                    yield ("skill", skill, level, language, dept)
            yield ("lang", language)
            if dept:
                yield ("lang", language, dept)
        yield ("all",)
        if dept:
            yield ("all", dept)

    def _file(self, status: OperatorStatus) -> None:
        for skill in status.skills:
            counted = (skill, status.state)
            self._counts[counted] = self._counts.get(counted, 0) + 1
        if status.state is not OperatorState.AVAILABLE:
            return
        for key in self._keys(status):
            bucket = self._buckets.setdefault(key, {})
            # Ties on ``since`` are broken by operator id, as in ``rank``.
            if bucket:
                last_id, last_since = next(reversed(bucket.items()))
                out_of_order = (last_since, last_id) > (status.since, status.operator_id)
            else:
                out_of_order = False
            bucket[status.operator_id] = status.since
            if out_of_order:
                ordered = sorted(bucket.items(), key=lambda item: (item[1], item[0]))
                bucket.clear()
                bucket.update(ordered)

    def _forget(self, status: OperatorStatus) -> None:
        for skill in status.skills:
            self._counts[(skill, status.state)] -= 1
        if status.state is not OperatorState.AVAILABLE:
            return
        for key in self._keys(status):
            bucket = self._buckets[key]
            del bucket[status.operator_id]
            if not bucket:
                del self._buckets[key]
