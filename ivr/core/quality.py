"""Quality review: scoring a call against the checklist, and the scores per operator. Pure.

The checklist (``config/quality.yaml``) is a list of items, each worth some points; a
reviewer gives every item a whole mark from 0 to its points. A review's score is the marks'
sum as a percentage of the points (a checklist of 4 items worth 10 each, marked 10, 10, 5, 0:
62.5 %); it passes at ``pass_percent`` or more. An item is *missed* in a review when it got
less than its full points: an item's miss rate over a period is the share of the operator's
reviewed calls in which it was missed.

A call has one review (the latest saved wins; the audit log keeps every save). Per operator
and period, a call counts in the period it arrived in, as in the reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ivr.errors import MarksRefused

MAX_ITEMS = 50
MAX_POINTS = 100
MAX_COMMENT = 2000


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """One thing a reviewer checks: its id, names per language (``zh``, ``en``), points."""

    id: str
    names: Mapping[str, str]
    points: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.points <= MAX_POINTS:
            raise ValueError(f"points must be 1-{MAX_POINTS}, got {self.points!r}")


@dataclass(frozen=True, slots=True)
class Checklist:
    """The items in the order reviewers see them, and the score a call passes at."""

    items: tuple[ChecklistItem, ...] = ()
    pass_percent: float = 80.0

    @property
    def points(self) -> int:
        return sum(item.points for item in self.items)

    def item(self, item_id: str) -> ChecklistItem | None:
        return next((i for i in self.items if i.id == item_id), None)


@dataclass(frozen=True, slots=True)
class Score:
    """A review's marks checked against the checklist."""

    marks: Mapping[str, int]
    points: int
    max_points: int
    percent: float
    passed: bool
    missed: tuple[str, ...]
    """The items marked below their full points, in the checklist's order."""


def score(checklist: Checklist, marks: Mapping[str, object]) -> Score:
    """The score of ``marks`` (item id -> mark). ``MarksRefused`` lists every problem: no
    checklist, an item not on it, an item left unmarked, a mark that is not a whole number
    from 0 to the item's points. Problems are ``{"item", "problem", "most"}`` with
    ``problem`` one of ``no_checklist``, ``unknown``, ``missing``, ``out_of_range``."""
    if not checklist.items:
        raise MarksRefused([{"item": "-", "problem": "no_checklist", "most": "0"}])
    problems: list[dict[str, str]] = []
    known = {item.id for item in checklist.items}
    problems += [{"item": str(name), "problem": "unknown", "most": "0"}
                 for name in marks if name not in known]
    kept: dict[str, int] = {}
    for item in checklist.items:
        if item.id not in marks:
            problems.append({"item": item.id, "problem": "missing", "most": str(item.points)})
            continue
        mark = marks[item.id]
        if isinstance(mark, bool) or not isinstance(mark, int) or not 0 <= mark <= item.points:
            problems.append({"item": item.id, "problem": "out_of_range",
                             "most": str(item.points)})
            continue
        kept[item.id] = mark
    if problems:
        raise MarksRefused(problems)
    got, most = sum(kept.values()), checklist.points
    percent = round(100.0 * got / most, 1)
    return Score(kept, got, most, percent, percent >= checklist.pass_percent,
                 tuple(i.id for i in checklist.items if kept[i.id] < i.points))


@dataclass(frozen=True, slots=True)
class ReviewedCall:
    """What the per-operator figures need of one review: whose call, its score, its misses."""

    operator: str
    percent: float
    passed: bool
    missed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OperatorQuality:
    """One operator's quality over a period."""

    operator: str
    answered: int
    reviewed: int
    average_percent: float | None
    passed: int
    miss_rates: Mapping[str, float] = field(default_factory=dict)
    """Item id -> the share (0-1) of the reviewed calls in which it was missed."""


def per_operator(answered: Mapping[str, int], reviews: Iterable[ReviewedCall],
                 item_ids: Iterable[str]) -> list[OperatorQuality]:
    """Each operator's figures, by operator id: ``answered`` their answered calls of the
    period (for context), ``reviews`` the reviews of those calls; every operator of either.
    Miss rates are given for ``item_ids`` (the checklist's items now)."""
    ids = tuple(item_ids)
    by_operator: dict[str, list[ReviewedCall]] = {}
    for review in reviews:
        by_operator.setdefault(review.operator, []).append(review)
    out = []
    for operator in sorted(set(answered) | set(by_operator)):
        mine = by_operator.get(operator, [])
        count = len(mine)
        average = round(sum(r.percent for r in mine) / count, 1) if count else None
        rates = {i: round(sum(i in r.missed for r in mine) / count, 3) for i in ids} \
            if count else {}
        out.append(OperatorQuality(operator, answered.get(operator, 0), count, average,
                                   sum(r.passed for r in mine), rates))
    return out


@dataclass(frozen=True, slots=True)
class CallReview:
    """A supervisor's review of one call, as stored: who reviewed it when, the marks and the
    score they made, the operator whose call it was and when the call arrived."""

    call_id: str
    arrived_at: str
    reviewer: str
    operator: str
    marks: Mapping[str, int]
    points: int
    max_points: int
    percent: float
    passed: bool
    missed: tuple[str, ...]
    comment: str
    reviewed_at: str

    @classmethod
    def of(cls, call: tuple[str, str, str], reviewer: str, result: Score, comment: str,
           reviewed_at: str) -> CallReview:
        """The review of ``call`` (its id, operator, arrival) by ``reviewer``."""
        call_id, operator, arrived_at = call
        return cls(call_id, arrived_at, reviewer, operator, dict(result.marks), result.points,
                   result.max_points, result.percent, result.passed, result.missed,
                   comment, reviewed_at)

    @property
    def reviewed(self) -> ReviewedCall:
        return ReviewedCall(self.operator, self.percent, self.passed, self.missed)


@dataclass(frozen=True, slots=True)
class CallSearch:
    """What the quality page looks for: answered calls that arrived in [start, end) (UTC
    text), optionally of one operator or skill, with a survey score or talk time in a range,
    reviewed or not (None: either)."""

    start: str
    end: str
    operator: str = ""
    skill: str = ""
    survey_min: int | None = None
    survey_max: int | None = None
    talk_min: float | None = None
    talk_max: float | None = None
    reviewed: bool | None = None
