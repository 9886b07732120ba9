"""Quality review's core: a review's marks scored against the checklist (every problem
refused at once), and the figures per operator over a period."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr import settings
from ivr.core.quality import (
    Checklist,
    ChecklistItem,
    ReviewedCall,
    per_operator,
    score,
)
from ivr.errors import ConfigError, MarksRefused

REPO = Path(__file__).resolve().parents[2]

CHECKLIST = Checklist((
    ChecklistItem("greeting", {"zh": "问候", "en": "Greeting"}, 10),
    ChecklistItem("listening", {"zh": "倾听", "en": "Listening"}, 20),
    ChecklistItem("accurate", {"zh": "准确", "en": "Accurate"}, 20),
    ChecklistItem("closing", {"zh": "结束语", "en": "Closing"}, 10),
), pass_percent=80)
FULL = {"greeting": 10, "listening": 20, "accurate": 20, "closing": 10}


@pytest.mark.parametrize(("marks", "percent", "passed", "missed"), [
    (FULL, 100.0, True, ()),
    ({**FULL, "closing": 0}, 83.3, True, ("closing",)),
    ({**FULL, "listening": 10, "closing": 5}, 75.0, False, ("listening", "closing")),
    ({"greeting": 0, "listening": 0, "accurate": 0, "closing": 0}, 0.0, False,
     ("greeting", "listening", "accurate", "closing")),
    ({**FULL, "accurate": 8}, 80.0, True, ("accurate",)),  # the pass mark itself passes
])
def test_a_review_scores_its_marks_as_a_share_of_the_points(
    marks: dict[str, int], percent: float, passed: bool, missed: tuple[str, ...]
) -> None:
    """The sum of the marks over the checklist's points, as a percentage; an item below its
    full points is missed."""
    result = score(CHECKLIST, marks)
    assert (result.percent, result.passed, result.missed) == (percent, passed, missed)
    assert result.max_points == 60
    assert result.points == sum(marks.values())


@pytest.mark.parametrize(("marks", "expected"), [
    ({**FULL, "smile": 5}, [("smile", "unknown")]),
    ({**FULL, "greeting": 11}, [("greeting", "out_of_range")]),
    ({**FULL, "greeting": -1}, [("greeting", "out_of_range")]),
    ({**FULL, "greeting": 2.5}, [("greeting", "out_of_range")]),
    ({**FULL, "greeting": "10"}, [("greeting", "out_of_range")]),
    ({**FULL, "greeting": True}, [("greeting", "out_of_range")]),
    ({"greeting": 10, "listening": 20}, [("accurate", "missing"), ("closing", "missing")]),
    ({"listening": 99, "extra": 1, "accurate": 20, "closing": 10},
     [("extra", "unknown"), ("greeting", "missing"), ("listening", "out_of_range")]),
])
def test_marks_that_do_not_fit_are_refused_all_at_once(
    marks: dict[str, object], expected: list[tuple[str, str]]
) -> None:
    with pytest.raises(MarksRefused) as info:
        score(CHECKLIST, marks)
    assert [(p["item"], p["problem"]) for p in info.value.problems] == expected


def test_no_checklist_refuses_every_review() -> None:
    with pytest.raises(MarksRefused) as info:
        score(Checklist(), {})
    assert info.value.problems[0]["problem"] == "no_checklist"


def test_an_item_is_worth_at_least_one_point() -> None:
    with pytest.raises(ValueError, match="points"):
        ChecklistItem("x", {"zh": "x"}, 0)


def test_figures_per_operator_count_average_and_miss_rates() -> None:
    """Every operator who answered or was reviewed; the average of their scores; each item's
    share of their reviews that missed it; an operator without reviews has no average."""
    reviews = [
        ReviewedCall("op1001", 100.0, True, ()),
        ReviewedCall("op1001", 75.0, False, ("listening", "closing")),
        ReviewedCall("op1001", 80.0, True, ("closing",)),
        ReviewedCall("op1002", 50.0, False, ("greeting",)),
    ]
    rows = per_operator({"op1001": 12, "op1002": 3, "op1003": 7}, reviews,
                        [i.id for i in CHECKLIST.items])
    by = {r.operator: r for r in rows}
    assert [r.operator for r in rows] == ["op1001", "op1002", "op1003"]
    assert (by["op1001"].answered, by["op1001"].reviewed, by["op1001"].passed) == (12, 3, 2)
    assert by["op1001"].average_percent == 85.0
    assert by["op1001"].miss_rates == {"greeting": 0.0, "listening": 0.333,
                                       "accurate": 0.0, "closing": 0.667}
    assert by["op1002"].miss_rates["greeting"] == 1.0
    assert (by["op1003"].reviewed, by["op1003"].average_percent, by["op1003"].miss_rates) \
        == (0, None, {})


def test_the_checklist_file_loads_and_every_problem_is_reported_at_once(
    tmp_path: Path,
) -> None:
    """config/quality.yaml as shipped loads; a broken one names every problem together."""
    shipped = settings.load(REPO / "config")
    assert shipped.quality.points == 100
    assert shipped.quality.items[0].names["zh"]
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    (config / "quality.yaml").write_text(
        "pass_percent: 120\n"
        "items:\n"
        "  - {id: greeting, names: {zh: 问候, en: Greeting}, points: 0}\n"
        "  - {id: greeting, names: {zh: 问候}, points: 5}\n"
        "  - {id: Bad-Id, names: {zh: x, en: x}}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        settings.load(config)
    found = sorted(p.key for p in info.value.problems if p.file.endswith("quality.yaml"))
    assert found == ["items[2].id", "items[greeting].id", "items[greeting].names.en",
                     "items[greeting].points", "pass_percent"], info.value
