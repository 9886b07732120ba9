"""Scenarios guard a publish: the shipped ones pass on the shipped flow, a wrong route fails
them by name, and a bad scenarios file is reported with its lines."""

from __future__ import annotations

import shutil
from pathlib import Path

from ivr import settings
from ivr.core.flow import load_flow
from ivr.core.flow.scenarios import SCENARIO, parse_scenarios, scenarios_path
from ivr.flows.library import check_text
from ivr.flows.scenarios import scenario_problems

CFG = settings.load()
TEXT = CFG.flow_path.read_text(encoding="utf-8")


def test_the_shipped_flow_passes_its_shipped_scenarios() -> None:
    scenarios, problems = parse_scenarios(
        Path(scenarios_path(str(CFG.flow_path))).read_text(encoding="utf-8"), "s.yaml")
    assert problems == []
    assert len(scenarios) >= 20
    assert {s.entry for s in scenarios} >= {None, "survey"}
    assert scenario_problems(CFG, load_flow(TEXT, "f"), str(CFG.flow_path)) == []


def test_a_valid_flow_that_routes_wrong_is_refused_naming_the_scenarios(tmp_path: Path) -> None:
    flow = tmp_path / "12345.yaml"
    shutil.copy(scenarios_path(str(CFG.flow_path)), scenarios_path(str(flow)))
    wrong = TEXT.replace("skill: suggestion\n    priority: 3", "skill: report\n    priority: 3")
    checked, problems = check_text(CFG, wrong, str(flow))
    assert checked is None
    assert [p.kind for p in problems] == [SCENARIO]
    [problem] = problems
    assert "'suggestion or praise, lower priority'" in problem.message
    assert "expected queue suggestion" in problem.message
    assert problem.node == "route_suggestion"
    # Without a scenarios file beside it, the same flow is only validated.
    checked, problems = check_text(CFG, wrong, str(tmp_path / "other.yaml"))
    assert checked is not None
    assert problems == []


def test_a_bad_scenarios_file_is_reported_with_lines() -> None:
    text = (
        "scenarios:\n"
        "  - name: one\n"
        "    digits: 12\n"
        "    expect: {queue: inquiry, priorty: 5}\n"
        "  - name: one\n"
        "    expect: {priority: high}\n"
        "  - digits: '1'\n"
    )
    scenarios, problems = parse_scenarios(text, "s.yaml")
    found = {(p.line, p.message) for p in problems}
    assert (4, "unknown field 'priorty'") in found
    assert any(line == 5 and "given twice" in m for line, m in found)
    assert any(line == 6 and "priority must be a whole number" in m for line, m in found)
    assert any(line == 7 and m == "missing name" for line, m in found)
    assert any(line == 7 and "missing expect" in m for line, m in found)
    assert all(p.kind == SCENARIO for p in problems)
    assert [s.name for s in scenarios] == ["one", "one"]
    assert scenarios[0].digits == "12"


def test_an_unknown_language_or_entry_or_time_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    flow = tmp_path / "12345.yaml"
    Path(scenarios_path(str(flow))).write_text(
        "scenarios:\n"
        "  - {name: a, language: fr, expect: {queue: inquiry}}\n"
        "  - {name: b, entry: nowhere, expect: {queue: inquiry}}\n"
        "  - {name: c, at: tomorrow, expect: {queue: inquiry}}\n", encoding="utf-8")
    problems = scenario_problems(CFG, load_flow(TEXT, "f"), str(flow))
    assert [p.line for p in problems] == [2, 3, 4]
    assert "language 'fr' is not enabled" in problems[0].message
    assert "no entry 'nowhere'" in problems[1].message
    assert "not an ISO local date and time" in problems[2].message
