"""Likely duplicates: the same problem reported by several callers. Pure.

A case is a likely duplicate of another when both are open and not merged, of the same
category, filed within ``window`` of each other, in the same place (the street or town the
callers named, ``Case.place``; two cases with no place named are not told apart by it), and
their words are alike: the share of character pairs (bigrams, which work for Chinese without
word breaks) the two descriptions have in common (Dice's coefficient) reaches
``min_similarity``. A place named in one and not the other, or two different places, rules
the pair out. The centre sees the candidates best first and merges (``ivr.core.cases.merge``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ivr.core.cases import Case, CaseStatus

DEFAULT_WINDOW = timedelta(hours=48)
DEFAULT_MIN_SIMILARITY = 0.3
_MERGEABLE = frozenset({CaseStatus.NEW, CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS,
                        CaseStatus.RETURNED})


@dataclass(frozen=True, slots=True)
class Duplicate:
    case: Case
    similarity: float  # 0..1


def bigrams(text: str) -> frozenset[str]:
    """The text's pairs of neighbouring characters (letters and digits; case folded)."""
    kept = "".join(ch for ch in text.casefold() if ch.isalnum())
    return frozenset(kept[i:i + 2] for i in range(len(kept) - 1)) or frozenset(kept)


def similarity(a: str, b: str) -> float:
    """Dice's coefficient over character bigrams: 1 for the same words, 0 for none shared."""
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


def likely_duplicates(
    case: Case, candidates: Iterable[Case], *, window: timedelta = DEFAULT_WINDOW,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
) -> list[Duplicate]:
    """The candidates that are likely the same problem as ``case``, most alike first."""
    filed = datetime.fromisoformat(case.created_at)
    found = []
    for other in candidates:
        if (other.number == case.number or other.category != case.category
                or other.place != case.place or other.status not in _MERGEABLE
                or other.merged_into):
            continue
        if abs(datetime.fromisoformat(other.created_at) - filed) > window:
            continue
        alike = similarity(case.description, other.description)
        if alike >= min_similarity:
            found.append(Duplicate(other, round(alike, 3)))
    found.sort(key=lambda d: (-d.similarity, d.case.created_at, d.case.number))
    return found
