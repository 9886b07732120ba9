"""The three rates a department (or street/town) is ranked by every month (接诉即办 考核). Pure.

For the cases dispatched to a department in a period (a returned case counts for the one that
finally took it, never for the one that returned it as not its own):

- **response rate** = cases responded to within their response deadline / cases dispatched;
- **resolution rate** = cases the citizen said were resolved at the return visit / return
  visits answered;
- **satisfaction rate** = (satisfied + basically satisfied) / return visits answered.

Citizens who could not be reached are counted apart (``unreachable``) and are in neither
denominator: an unreachable citizen is never counted as resolved or satisfied. A rate with
an empty denominator is None (shown as "-"), not 0 or 100 %. Departments are ranked by the
mean of the rates they have (those with none rank last), then by cases dispatched, then by id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DepartmentCounts:
    """What a department did with the cases dispatched to it in a period."""

    department: str
    dispatched: int = 0
    responded: int = 0
    responded_on_time: int = 0
    resolved: int = 0  # marked resolved by the department
    overdue: int = 0  # past a deadline not met (still open, or met late)
    visited: int = 0  # return visits the citizen answered
    unreachable: int = 0
    citizen_resolved: int = 0
    satisfied: int = 0
    basically_satisfied: int = 0
    dissatisfied: int = 0

    @property
    def response_rate(self) -> float | None:
        return _share(self.responded_on_time, self.dispatched)

    @property
    def resolution_rate(self) -> float | None:
        return _share(self.citizen_resolved, self.visited)

    @property
    def satisfaction_rate(self) -> float | None:
        return _share(self.satisfied + self.basically_satisfied, self.visited)

    @property
    def score(self) -> float | None:
        """The mean of the rates it has (None when it has none)."""
        rates = [r for r in (self.response_rate, self.resolution_rate, self.satisfaction_rate)
                 if r is not None]
        return sum(rates) / len(rates) if rates else None


@dataclass(frozen=True, slots=True)
class RankedDepartment:
    rank: int
    counts: DepartmentCounts


def _share(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def ranking(rows: Iterable[DepartmentCounts]) -> list[RankedDepartment]:
    """Best first (see the module docstring); equal scores share a rank."""
    ordered = sorted(rows, key=lambda c: (c.score is None, -(c.score or 0.0), -c.dispatched,
                                          c.department))
    ranked: list[RankedDepartment] = []
    for position, counts in enumerate(ordered, start=1):
        previous = ranked[-1] if ranked else None
        same = (previous is not None and previous.counts.score == counts.score
                and counts.score is not None)
        ranked.append(RankedDepartment(previous.rank if same and previous else position,
                                       counts))
    return ranked
