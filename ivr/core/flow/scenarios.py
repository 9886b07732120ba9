"""Scenarios that guard a publish: scripted calls with the outcome each must have. Pure code.

Theory of operation
    A flow file ``dialplans/NAME.yaml`` may have ``dialplans/NAME.scenarios.yaml`` beside it:
    a list of calls (keys pressed or words said, the caller's language, history and cases, the
    variables the application sets when a call arrives, the local time, the entry) and what
    each must end in (queue and priority, transfer, hang-up, caller gone, nodes passed in
    order, variables set). ``ivr flow check``, every publish
    from the web, every file edit the watcher picks up and every rollback replay them through
    the engine's own simulation (``simulate``); one failing scenario refuses the publish and
    is reported as a ``FlowProblem`` of kind ``scenario`` naming it, at its line in the
    scenarios file. The file is read with the flow loader's line-keeping reader: unknown
    fields, wrong types and duplicate keys are problems with lines, like in a flow.

    The shell builds each scenario's ``ArrivalFacts`` (schedules and holidays come from
    configuration) and runs ``simulate``; ``parse_scenarios`` and ``mismatch`` here are pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import yaml

from ivr.core.flow.engine import CallerLeft, FlowHungUp, Outcome, Routed, Transferred
from ivr.core.flow.loader import _Fields, _line, _Reader
from ivr.core.flow.simulate import SimulationReport
from ivr.errors import FlowProblem

SCENARIO = "scenario"  # FlowProblem.kind of a scenario that failed or cannot be read
DEFAULT_AT = "2026-12-01T10:00"  # a Tuesday morning, when a scenario gives no time


@dataclass(frozen=True, slots=True)
class Expectation:
    queue: str | None = None
    priority: int | None = None
    transfer: str | None = None
    hangup: str | None = None
    caller_left: bool = False
    path: tuple[str, ...] = ()  # nodes the call must pass, in this order (others between)
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    line: int
    expect: Expectation
    digits: str = ""
    say: str | None = None
    language: str | None = None
    caller: str = ""
    caller_known: bool = False
    open_cases: int = 0
    at: str = DEFAULT_AT
    entry: str | None = None
    hangup_at: str | None = None
    cases: Mapping[str, str] = field(default_factory=dict)  # case number -> its readback
    variables: Mapping[str, str] = field(default_factory=dict)  # set when the call arrives


def scenarios_path(flow_path: str) -> str:
    """Where a flow's scenarios are: beside it, ``NAME.scenarios.yaml``."""
    stem = flow_path.removesuffix(".yaml").removesuffix(".yml")
    return f"{stem}.scenarios.yaml"


_FIELDS = {"name", "digits", "say", "language", "caller", "caller_known", "open_cases", "at",
           "entry", "hangup_at", "cases", "variables", "expect"}
_EXPECT = {"queue", "priority", "transfer", "hangup", "caller_left", "path", "variables"}


def _texts(fields: _Fields, name: str) -> dict[str, str]:
    sub = fields.mapping(name)
    if sub is None:
        return {}
    return {key: value for key in sub.values if (value := sub.text(key)) is not None}


def parse_scenarios(text: str, source: str) -> tuple[list[Scenario], list[FlowProblem]]:
    """Every scenario that could be read, and every problem reading them (with lines)."""
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = int(mark.line) + 1 if mark is not None else 1
        return [], [FlowProblem(source, line, "", f"YAML syntax: {exc}", SCENARIO)]
    except RecursionError:
        return [], [FlowProblem(source, 1, "", "YAML syntax: nested too deeply", SCENARIO)]
    if root is None:
        return [], []
    top = _Fields(reader, root, "", "scenarios file")
    top.unknown({"scenarios"})
    listed = top.values.get("scenarios")
    out: list[Scenario] = []
    if listed is not None and not isinstance(listed, yaml.SequenceNode):
        top.problem(top.at("scenarios"), "scenarios must be a list")
        listed = None
    names: set[str] = set()
    for item in listed.value if listed is not None else []:
        fields = _Fields(reader, item, "", "a scenario")
        fields.unknown(_FIELDS)
        name = fields.text("name", required=True) or f"line {_line(item)}"
        if name in names:
            fields.problem(fields.line, f"scenario {name!r} given twice")
        names.add(name)
        expect_fields = fields.mapping("expect")
        if expect_fields is None:
            fields.problem(fields.line, f"scenario {name!r}: missing expect")
            continue
        expect_fields.unknown(_EXPECT)
        path_node = expect_fields.values.get("path")
        path: tuple[str, ...] = ()
        if path_node is not None:
            path = expect_fields.prompts("path")
        priority = (expect_fields.integer("priority", 0, 0, 10)
                    if "priority" in expect_fields.values else None)
        expectation = Expectation(
            queue=expect_fields.text("queue"), priority=priority,
            transfer=expect_fields.text("transfer"), hangup=expect_fields.text("hangup"),
            caller_left=bool(expect_fields.flag("caller_left")), path=path,
            variables=_texts(expect_fields, "variables"),
        )
        out.append(Scenario(
            name=name, line=fields.line, expect=expectation,
            digits=fields.text("digits") or "", say=fields.text("say"),
            language=fields.text("language"), caller=fields.text("caller") or "",
            caller_known=bool(fields.flag("caller_known")),
            open_cases=fields.integer("open_cases", 0, 0, 1000),
            at=fields.text("at") or DEFAULT_AT, entry=fields.text("entry"),
            hangup_at=fields.text("hangup_at"), cases=_texts(fields, "cases"),
            variables=_texts(fields, "variables"),
        ))
    problems = [FlowProblem(p.file, p.line, p.node, p.message, SCENARIO)
                for p in reader.problems]
    return out, problems


def _outcome(outcome: Outcome | None) -> str:
    match outcome:
        case Routed():
            return f"queue {outcome.skill} at priority {outcome.priority}"
        case Transferred():
            return f"transfer to {outcome.number}"
        case FlowHungUp():
            return f"hang-up ({outcome.reason})"
        case CallerLeft():
            return f"the caller hung up at {outcome.node}"
        case None:
            return "no end (the call was still waiting)"


def _in_order(wanted: Iterable[str], path: tuple[str, ...]) -> str | None:
    """The first wanted node not found after the previous one, or None."""
    at = 0
    for node in wanted:
        try:
            at = path.index(node, at) + 1
        except ValueError:
            return node
    return None


def mismatch(expect: Expectation, report: SimulationReport) -> str | None:
    """How the simulated call differs from what was expected, or None when it matches."""
    outcome = report.outcome
    wrong: list[str] = []
    if expect.queue is not None and not (
            isinstance(outcome, Routed) and outcome.skill == expect.queue):
        wrong.append(f"expected queue {expect.queue}")
    if expect.priority is not None and not (
            isinstance(outcome, Routed) and outcome.priority == expect.priority):
        wrong.append(f"expected priority {expect.priority}")
    if expect.transfer is not None and not (
            isinstance(outcome, Transferred) and outcome.number == expect.transfer):
        wrong.append(f"expected a transfer to {expect.transfer}")
    if expect.hangup is not None and not (
            isinstance(outcome, FlowHungUp) and outcome.reason == expect.hangup):
        wrong.append(f"expected a hang-up ({expect.hangup})")
    if expect.caller_left and not isinstance(outcome, CallerLeft):
        wrong.append("expected the caller to hang up")
    missing = _in_order(expect.path, report.path)
    if missing is not None:
        wrong.append(f"expected to pass {missing}")
    for name, value in expect.variables.items():
        got = report.variables.get(name)
        if got != value:
            wrong.append(f"expected {name}={value!r}, got {got!r}")
    if not wrong:
        return None
    return (f"{'; '.join(wrong)}; got {_outcome(outcome)} "
            f"(path {' > '.join(report.path) or '-'})")
