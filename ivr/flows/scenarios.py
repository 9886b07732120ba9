"""Replaying a flow's scenarios (``NAME.scenarios.yaml`` beside it) through the engine's own
simulation, as every check and publish does. Blocking (reads the file): from the event loop,
through ``asyncio.to_thread`` (``check_text`` already runs there)."""

from __future__ import annotations

from pathlib import Path

from ivr.core.flow import CallFlow, simulate
from ivr.core.flow.scenarios import SCENARIO, Scenario, mismatch, parse_scenarios, scenarios_path
from ivr.core.flow.simulate import Classifier
from ivr.core.settings import Settings
from ivr.errors import FlowProblem
from ivr.flows.simulation import arrival_facts, intent_classifier, local_time


def scenario_problems(settings: Settings, flow: CallFlow, flow_source: str) -> list[FlowProblem]:
    """Every scenario of the flow at ``flow_source`` that fails or cannot be read, as problems
    (none when the flow has no scenarios file)."""
    path = Path(scenarios_path(flow_source))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        return [FlowProblem(str(path), 1, "", f"cannot read scenarios: {exc}", SCENARIO)]
    scenarios, problems = parse_scenarios(text, str(path))
    classify = intent_classifier(settings)
    for scenario in scenarios:
        problem = _replay(settings, flow, scenario, str(path), classify)
        if problem is not None:
            problems.append(problem)
    return problems


def _replay(settings: Settings, flow: CallFlow, scenario: Scenario, source: str,
            classify: Classifier) -> FlowProblem | None:
    def problem(message: str, node: str = "") -> FlowProblem:
        return FlowProblem(source, scenario.line, node,
                           f"scenario {scenario.name!r}: {message}", SCENARIO)

    language = scenario.language or settings.default_language
    if language not in settings.languages:
        return problem(f"language {language!r} is not enabled")
    if scenario.entry is not None and scenario.entry not in flow.entries:
        return problem(f"the flow has no entry {scenario.entry!r}")
    try:
        now = local_time(settings, scenario.at)
    except ValueError:
        return problem(f"at: not an ISO local date and time: {scenario.at!r}")
    facts = arrival_facts(
        settings, caller=scenario.caller, language=language, now=now,
        speech_available=scenario.say is not None, caller_known=scenario.caller_known,
        open_cases=scenario.open_cases, variables=scenario.variables,
    )
    report = simulate(flow, facts, scenario.digits, scenario.say, scenario.cases,
                      entry=scenario.entry, hangup_at=scenario.hangup_at,
                      classify=classify)
    wrong = mismatch(scenario.expect, report)
    if wrong is None:
        return None
    return problem(wrong, report.path[-1] if report.path else "")
