"""Flow checking: every defect named with file, line and node; the shipped flow is clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.core.flow import load_flow, parse_catalog, parse_flow, validate
from ivr.errors import FlowError, FlowProblem
from ivr.flows.files import check_paths, load_catalog, load_flow_file

ROOT = Path(__file__).resolve().parents[2]
FLOWS = Path(__file__).resolve().parent / "flows"
CATALOG = ROOT / "prompts" / "catalog.yaml"
SKILLS = {
    "hotline", "report", "inquiry", "case_status", "suggestion", "environment", "traffic",
    "housing", "utilities", "labour", "market",
}
SCHEDULES = {"business_hours", "public_holidays"}


def test_shipped_flow_validates_clean() -> None:
    """dialplans/12345.yaml passes every check against the shipped catalog and skills."""
    assert check_paths([ROOT / "dialplans" / "12345.yaml"], CATALOG, SKILLS, SCHEDULES) == []


@pytest.mark.parametrize(
    ("fixture", "kind", "node", "line"),
    [
        ("syntax.yaml", "syntax", "bye", 13),
        ("syntax.yaml", "syntax", "op", 17),
        ("unknown_node.yaml", "unknown-node", "menu", 11),
        ("unreachable.yaml", "unreachable", "orphan", 13),
        ("dead_end.yaml", "dead-end", "thanks", 11),
        ("missing_prompt.yaml", "missing-prompt", "thanks", 13),
        ("unknown_skill.yaml", "unknown-skill", "stars", 13),
        ("duplicate_key.yaml", "duplicate-key", "menu", 12),
        ("schedule_overlap.yaml", "schedule-overlap", "hours", 11),
        ("schedule_gap.yaml", "schedule-gap", "hours", 6),
        ("loop_without_exit.yaml", "loop-without-exit", "ping", 11),
        ("exhausted_not_operator.yaml", "exhausted-not-operator", "menu", 10),
        ("unknown_schedule.yaml", "unknown-schedule", "water_company", 14),
    ],
)
def test_each_defect_is_named_with_file_line_and_node(
    fixture: str, kind: str, node: str, line: int
) -> None:
    """A flow with one kind of defect gets that defect reported where it is."""
    path = FLOWS / fixture
    problems = check_paths([path], CATALOG, SKILLS, SCHEDULES)
    assert any(
        p.kind == kind and p.node == node and p.line == line and p.file == str(path)
        for p in problems
    ), "\n".join(str(p) for p in problems)


@pytest.mark.parametrize("fixture", sorted(p.name for p in FLOWS.glob("*.yaml")))
def test_each_defective_flow_reports_only_its_own_defect(fixture: str) -> None:
    """Each fixture holds one kind of defect, so the checker's list has no false alarms."""
    problems = check_paths([FLOWS / fixture], CATALOG, SKILLS, SCHEDULES)
    expected = fixture.removesuffix(".yaml").replace("_", "-")
    assert problems
    assert {p.kind for p in problems} == {expected}


def test_check_paths_reports_every_file_together() -> None:
    """Several files checked at once give all their problems in one list."""
    paths = [FLOWS / "dead_end.yaml", FLOWS / "unknown_skill.yaml", FLOWS / "missing.yaml"]
    problems = check_paths(paths, CATALOG, SKILLS, SCHEDULES)
    files = {Path(p.file).name for p in problems}
    assert files == {"dead_end.yaml", "unknown_skill.yaml", "missing.yaml"}


def test_broken_yaml_is_a_syntax_problem_with_its_line() -> None:
    """Unparseable YAML raises FlowError carrying the line of the error."""
    text = "name: x\nversion: '1'\nstart: a\nnodes:\n  a: {kind: hangup\n"
    with pytest.raises(FlowError) as caught:
        load_flow(text, "broken.yaml")
    (problem,) = caught.value.problems
    assert problem.kind == "syntax"
    assert problem.file == "broken.yaml"
    assert problem.line >= 5


def test_load_flow_carries_all_problems_not_the_first() -> None:
    """Every syntax problem of a file is in one FlowError."""
    text = (
        "name: x\nversion: '1'\nstart: a\nnodes:\n"
        "  a: {kind: route, skill: hotline, priority: 99}\n"
        "  b: {kind: teleport}\n"
        "  c: {kind: collect, variable: n, min_digits: 5, max_digits: 2, next: a,"
        " on_exhausted: a}\n"
    )
    with pytest.raises(FlowError) as caught:
        load_flow(text, "many.yaml")
    assert [(p.node, p.line) for p in caught.value.problems] == [("a", 5), ("b", 6), ("c", 7)]


@pytest.mark.parametrize(
    ("node_yaml", "kind"),
    [
        ("{kind: speech, prompt: ivr/describe-problem, routes: {astrology: end}, next: end,"
         " fallback: end}", "unknown-skill"),
        ("{kind: transfer, number: '12315', schedule: business_hours}", "dead-end"),
        ("{kind: branch, conditions: [{caller_known: true, goto: end}]}", "dead-end"),
        ("{kind: branch, conditions: [{holiday: lunar_new_year, goto: end}], else: end}",
         "unknown-schedule"),
        ("{kind: set, variables: {x: '1'}, next: start_again}", "loop-without-exit"),
        ("{kind: menu, prompt: ivr/main-menu, options: {'1': end}}", "exhausted-not-operator"),
        ("{kind: menu, prompt: ivr/main-menu, options: {'1': end}, on_exhausted: end,"
         " keywords: {zh: {'1': [好], '2': [好]}}}", "duplicate-key"),
        ("{kind: case_status, found: end, not_found: end}", None),
    ],
)
def test_more_defects_in_single_nodes(node_yaml: str, kind: str | None) -> None:
    """Skills in speech routes, holes, closed schedules, instant loops, keywords are checked."""
    text = (
        "name: x\nversion: '1'\nstart: start_again\nnodes:\n"
        f"  start_again: {node_yaml}\n"
        "  end: {kind: route, skill: hotline, priority: 5}\n"
    )
    problems = check_paths_text(text)
    kinds = {p.kind for p in problems}
    if kind is None:
        assert problems == []
    else:
        assert kind in kinds, problems


def check_paths_text(text: str) -> list[FlowProblem]:
    flow, problems = parse_flow(text, "inline.yaml")
    assert flow is not None
    return [*problems, *validate(flow, load_catalog(CATALOG), SKILLS, SCHEDULES)]


def test_catalog_problems_are_reported_not_raised() -> None:
    """A broken catalog file is a problem in the list, with its line."""
    with pytest.raises(FlowError) as caught:
        parse_catalog("prompts:\n  ivr/a: {zh: x}\n  ivr/a: {zh: y}\n  Bad Name: {zh: z}\n", "c")
    assert [(p.line, p.kind) for p in caught.value.problems] == [
        (3, "duplicate-key"), (4, "syntax")
    ]


def test_a_prompt_missing_in_one_language_only_is_named_with_that_language() -> None:
    """A prompt that has Mandarin text but no English is a missing prompt for 'en'."""
    catalog = parse_catalog("prompts:\n  ivr/only-zh: {zh: 你好}\n", "c.yaml")
    flow = load_flow(
        "name: x\nversion: '1'\nstart: a\nnodes:\n"
        "  a: {kind: play, prompt: ivr/only-zh, next: b}\n  b: {kind: hangup}\n",
        "x.yaml",
    )
    problems = validate(flow, catalog, SKILLS)
    assert [(p.node, p.line, p.kind) for p in problems] == [("a", 5, "missing-prompt")]
    assert "'en'" in problems[0].message


def test_enabled_languages_beyond_the_flows_are_checked_too() -> None:
    """A service language the catalog lacks is a missing prompt even if the flow omits it."""
    flow = load_flow_file(ROOT / "dialplans" / "12345.yaml")
    problems = validate(flow, load_catalog(CATALOG), SKILLS, SCHEDULES, languages=["zh", "ko"])
    assert problems
    assert {p.kind for p in problems} == {"missing-prompt"}
    assert all("'ko'" in p.message for p in problems)


def test_speech_turn_without_next_is_not_a_dead_end() -> None:
    """A speech turn may omit next: unrecognised speech then takes the fallback."""
    text = (
        "name: x\nversion: '1'\nstart: a\nnodes:\n"
        "  a: {kind: speech, prompt: ivr/describe-problem, fallback: b}\n"
        "  b: {kind: route, skill: report, priority: 5}\n"
    )
    assert check_paths_text(text) == []


def test_unreadable_flow_file_is_a_flow_error() -> None:
    """load_flow_file turns a missing file into FlowError naming the file."""
    with pytest.raises(FlowError, match="cannot read flow"):
        load_flow_file(FLOWS / "nope.yaml")


def test_unknown_start_and_entry_are_named_with_their_lines() -> None:
    """start and entries must name nodes; each miss is reported on its own line."""
    text = (
        "name: x\nversion: '1'\nstart: begin\nentries: {survey: rate}\nnodes:\n"
        "  a: {kind: route, skill: hotline, priority: 5}\n"
    )
    problems = [p for p in check_paths_text(text) if p.kind == "unknown-node"]
    assert [(p.line, p.message) for p in problems] == [
        (3, "start names no node 'begin'"),
        (4, "entry 'survey' names no node 'rate'"),
    ]
