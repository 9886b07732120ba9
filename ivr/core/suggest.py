"""The suggested department (智能派单): who a new case should go to, and why. Pure.

From the case's category, the caller's words (the transcript, or what the operator wrote) and
any place they named, each department and street/town of ``config/departments.yaml`` earns
points:

- it handles the case's category (``categories``): ``CATEGORY_POINTS``;
- it is the street or town the caller named (its names, or one of its ``places``: estates,
  roads, landmarks), and it handles the category: ``PLACE_POINTS`` (属地: a local problem goes
  to the street it happens in);
- each of its ``keywords`` the caller said: ``KEYWORD_POINTS`` each (as much as the
  category: a catch-all category such as "hotline" says less than the words).

The one with the most points is proposed; on a tie, the one listed first in the file. No
points at all: nothing is proposed and the operator chooses. The reasons say what earned the
points, in Chinese first and English second. The operator confirms or changes the proposal;
whether the case went where it was proposed is recorded with the case at its first dispatch
(``ivr.core.cases``) and reported as the share of suggestions kept (``SuggestionTally``).

Words are matched as substrings of the text (case-insensitive): Chinese has no spaces
between words, and a configured keyword is a word a caller says, not a pattern.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ivr.core.settings import Department, Settings

CATEGORY_POINTS = 2
PLACE_POINTS = 3
KEYWORD_POINTS = 2
MAX_TEXT = 4000  # characters of the caller's words looked at


@dataclass(frozen=True, slots=True)
class Reason:
    zh: str
    en: str

    def text(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The proposed department, why, and the street/town the caller named ("" for none)."""

    department: str
    reasons: tuple[Reason, ...]
    place: str = ""

    def reason_text(self) -> str:
        """The reasons on one line, Chinese first (how the case stores them)."""
        return "; ".join(r.text() for r in self.reasons)


def place_named(text: str, departments: Mapping[str, Department]) -> tuple[str, str]:
    """The street or town named in ``text`` and the words that named it: (id, words), or
    ("", "") when none is. The longest name found wins ("荣华中路" over "荣华")."""
    words = text[:MAX_TEXT].casefold()
    best = ("", "")
    for department in departments.values():
        if department.kind != "street":
            continue
        for name in (*department.names.values(), *department.places):
            if name and name.casefold() in words and len(name) > len(best[1]):
                best = (department.id, name)
    return best


def _said(text: str, keywords: Iterable[str]) -> list[str]:
    return [k for k in dict.fromkeys(keywords) if k and k.casefold() in text]


def suggest(
    category: str, text: str, departments: Mapping[str, Department], *, exclude: str = "",
    category_names: Mapping[str, Mapping[str, str]] | None = None,
) -> Suggestion | None:
    """The department proposed for a case (see the module docstring); ``exclude``: one it
    must not be (the one that returned the case); ``category_names``: category -> language
    -> its name, for the reasons. None when nothing earns a point."""
    names = (category_names or {}).get(category, {})
    cat_zh, cat_en = names.get("zh") or category, names.get("en") or category
    words = text[:MAX_TEXT].casefold()
    place, place_words = place_named(text, departments)
    best: tuple[int, Department, list[Reason]] | None = None
    for department in departments.values():
        if department.id == exclude:
            continue
        points, reasons = 0, []
        handles = bool(category) and category in department.categories
        zh, en = department.name("zh"), department.name("en")
        if handles:
            points += CATEGORY_POINTS
            reasons.append(Reason(f"“{cat_zh}”类工单由{zh}承办",
                                  f"{en} handles {cat_en} cases"))
        if handles and department.id == place:
            points += PLACE_POINTS
            reasons.append(Reason(f"来电提到“{place_words}”，属{zh}辖区",
                                  f"the caller named {place_words}, in {en}'s area"))
        said = _said(words, department.keywords)
        if said:
            points += KEYWORD_POINTS * len(said)
            reasons.append(Reason("来电提到" + "".join(f"“{k}”" for k in said),
                                  "the caller said " + ", ".join(said)))
        if points and (best is None or points > best[0]):
            best = (points, department, reasons)
    if best is None:
        return None
    return Suggestion(best[1].id, tuple(best[2]), place)


def for_case(
    settings: Settings, category: str, text: str, *, exclude: str = "",
) -> Suggestion | None:
    """``suggest`` over the configured departments, categories named as the skills are."""
    return suggest(category, text, settings.departments, exclude=exclude,
                   category_names={s.id: s.names for s in settings.skills.values()})


@dataclass(frozen=True, slots=True)
class SuggestionTally:
    """How often the suggestion was kept for the cases first dispatched in a period: per
    suggested department (``department``), or in all ("")."""

    department: str
    suggested: int = 0
    kept: int = 0

    @property
    def kept_rate(self) -> float | None:
        return 100.0 * self.kept / self.suggested if self.suggested else None


def total(tallies: Iterable[SuggestionTally]) -> SuggestionTally:
    rows = list(tallies)
    return SuggestionTally("", sum(t.suggested for t in rows), sum(t.kept for t in rows))
