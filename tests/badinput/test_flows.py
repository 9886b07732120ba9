"""Flows: broken flow files -> every problem reported with its line; no exception escapes.

Each broken flow goes through ``check_paths`` (read, parse, validate, as ``ivr flow check``
does) and through ``load_flow`` (the strict form, which must raise ``FlowError`` only).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ivr.core.flow import load_flow, parse_flow, validate
from ivr.errors import FlowError, FlowProblem
from ivr.flows.files import check_paths, load_catalog
from tests.badinput.corpus import CALLER_TEXT

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "prompts" / "catalog.yaml"
SKILLS = {"hotline", "report", "inquiry"}
SCHEDULES = {"business_hours"}

HEAD = "name: broken\nversion: '1'\nstart: menu\nnodes:\n"
MENU = (
    "  menu:\n"
    "    kind: menu\n"
    "    prompts: [ivr/main-menu]\n"
    "    options: {'1': op}\n"
    "    on_exhausted: op\n"
)
OP = "  op: {kind: route, skill: hotline, priority: 5}\n"


def flow(*nodes: str) -> str:
    return HEAD + MENU + "".join(nodes) + OP


# (flow text, marker on the line the problem must point at, problem kind)
BROKEN = [
    pytest.param(flow("  x: {kind: teleport}\n"), "teleport", "syntax", id="unknown_node_type"),
    pytest.param(flow("  x: {kind: play, prompts: [ivr/greeting]}\n"), "  x:", "dead-end",
                 id="missing_target"),
    pytest.param(flow("  x: {kind: play, prompts: [ivr/greeting], next: nowhere}\n"),
                 "nowhere", "unknown-node", id="target_names_no_node"),
    pytest.param(
        HEAD.replace("start: menu", "start: a")
        + "  a: {kind: set, variables: {n: '1'}, next: b}\n"
        + "  b:\n    kind: branch\n    conditions: [{variable: n, equals: '2', goto: op}]\n"
        + "    else: a\n" + OP,
        "  a:", "loop-without-exit", id="cycle_without_input"),
    pytest.param(
        HEAD + MENU.replace("'1': op", "'1': ping")
        + "  ping: {kind: play, prompts: [ivr/greeting], next: pong}\n"
        + "  pong: {kind: play, prompts: [ivr/goodbye], next: ping}\n" + OP,
        "  ping:", "loop-without-exit", id="cycle_without_exit"),
    pytest.param(flow().replace("on_exhausted: op", "on_exhausted: op\n    retries: many"),
                 "retries", "syntax", id="retries_not_a_number"),
    pytest.param(flow().replace("on_exhausted: op", "on_exhausted: op\n    retries: 1e999"),
                 "retries", "syntax", id="retries_infinite"),
    pytest.param(flow().replace("on_exhausted: op", "on_exhausted: op\n    timeout: .nan"),
                 "timeout", "syntax", id="timeout_nan"),
    pytest.param(flow().replace("on_exhausted: op", "on_exhausted: op\n    retries: " + "9" * 5000),
                 "retries", "syntax", id="retries_5000_digits"),
    pytest.param(flow().replace("on_exhausted: op", "on_exhausted: op\n    retries: !evil 3"),
                 "retries", "syntax", id="unknown_yaml_tag"),
    pytest.param(flow().replace("on_exhausted: op", "on_exhausted: op\n    timeout: !!binary eA=="),
                 "timeout", "syntax", id="binary_tag"),
    pytest.param(
        flow().replace("on_exhausted: op", "on_exhausted: op\n    retries: &r !!int abc\n"
                       "    timeout: *r"),
        "timeout", "syntax", id="alias_of_a_bad_value"),
    pytest.param(flow().replace("prompts: [ivr/main-menu]", "prompts: {a: b}"),
                 "prompts: {a: b}", "syntax", id="prompts_mapping"),
    pytest.param(flow().replace("options: {'1': op}", "options: [op, op]"),
                 "options", "syntax", id="options_list"),
    pytest.param(flow("  menu: {kind: hangup}\n"), "  menu: {kind: hangup}", "duplicate-key",
                 id="duplicated_node_id"),
    pytest.param(flow().replace("options: {'1': op}", "options: {'1': op, '1': menu}"),
                 "options", "duplicate-key", id="duplicated_option"),
    pytest.param(flow().replace("    kind: menu", "\tkind: menu"), "\tkind", "syntax",
                 id="tab_indent"),
    pytest.param(flow("  'x; rm -rf /': {kind: hangup}\n"), "rm -rf", "syntax",
                 id="hostile_node_id"),
    pytest.param(flow("  x: 5\n"), "  x: 5", "syntax", id="node_not_a_mapping"),
    pytest.param(flow("  x: {kind: [play]}\n"), "  x:", "syntax", id="kind_is_a_list"),
    pytest.param(flow("  ? [a, b]\n  : {kind: hangup}\n"), "[a, b]", "syntax",
                 id="non_scalar_node_id"),
    pytest.param(flow("  x: {kind: branch, conditions: [{time: '25:00-26:00', goto: op}],"
                      " else: op}\n"), "25:00", "syntax", id="impossible_time"),
    pytest.param(flow("  x: {kind: branch, conditions: [{weekday: {a: 1}, goto: op}],"
                      " else: op}\n"), "weekday", "syntax", id="weekday_mapping"),
    pytest.param("- a\n- b\n", "- a", "syntax", id="top_level_list"),
    pytest.param(HEAD + "  - menu\n", "  - menu", "syntax", id="nodes_list"),
    pytest.param(flow() + "---\nname: second\n", "---", "syntax", id="two_documents"),
    pytest.param("", "", "syntax", id="empty_file"),
    pytest.param(HEAD + "  x: " + "[" * 1000 + "]" * 1000 + "\n", "", "syntax",
                 id="nested_too_deep"),
    pytest.param(flow() + "  z: {kind: play, prompts: ['\x07bell'], next: op}\n", "bell",
                 "syntax", id="control_character"),
]


def lines_of(text: str) -> int:
    return max(1, text.count("\n") + 1)


def line_of(text: str, marker: str) -> int:
    """1-based line of the first line containing ``marker`` (1 for an empty marker)."""
    if not marker:
        return 1
    for number, line in enumerate(text.split("\n"), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in the flow")


def checked(tmp_path: Path, content: str | bytes) -> tuple[Path, list[FlowProblem]]:
    path = tmp_path / "broken.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path, check_paths([path], CATALOG, SKILLS, SCHEDULES)


@pytest.mark.parametrize(("text", "marker", "kind"), BROKEN)
def test_broken_flow_problem_is_reported_at_its_line(
    tmp_path: Path, text: str, marker: str, kind: str
) -> None:
    """The defect is named with its kind and the line an admin must fix; nothing raises."""
    path, problems = checked(tmp_path, text)
    assert problems
    assert all(p.file == str(path) for p in problems)
    assert all(1 <= p.line <= lines_of(text) for p in problems), problems
    expected = line_of(text, marker)
    assert any(p.kind == kind and p.line == expected for p in problems), (
        expected, "\n".join(str(p) for p in problems))


@pytest.mark.parametrize(("text", "marker", "kind"), BROKEN)
def test_strict_loading_raises_flow_error_only(text: str, marker: str, kind: str) -> None:
    """``load_flow`` on a broken flow raises FlowError (or loads, when only checks fail)."""
    _, found = parse_flow(text, "broken.yaml")
    if not found:
        assert kind not in {"syntax", "duplicate-key"}  # only semantic defects parse cleanly
        load_flow(text, "broken.yaml")
        return
    with pytest.raises(FlowError) as info:
        load_flow(text, "broken.yaml")
    assert info.value.problems == found
    assert all(p.line >= 1 for p in found)


def test_several_defects_are_all_reported(tmp_path: Path) -> None:
    """Five defects in one file: five problems, each at its own line."""
    text = flow(
        "  a: {kind: teleport}\n",
        "  b: {kind: play, prompts: [ivr/greeting], next: nowhere}\n",
        "  c: {kind: route, skill: astrology, priority: 5}\n",
        "  d: {kind: collect, variable: n, min_digits: 9, max_digits: 2, next: op,"
        " on_exhausted: op, retries: lots}\n",
    )
    _, problems = checked(tmp_path, text)
    found = {(p.kind, p.line) for p in problems}
    assert ("syntax", line_of(text, "teleport")) in found
    assert ("unknown-node", line_of(text, "nowhere")) in found
    assert ("unknown-skill", line_of(text, "astrology")) in found
    assert ("syntax", line_of(text, "min_digits")) in found
    assert len({p.line for p in problems if p.node == "d"}) == 1
    assert len([p for p in problems if p.node == "d"]) >= 2  # min > max and retries


@pytest.mark.parametrize(
    "junk",
    [
        pytest.param(b"\xff\xfe\x00\x01" * 1000, id="not_utf8"),
        pytest.param(bytes(range(256)) * 10, id="every_byte"),
        pytest.param(b"\x00" * 100, id="nuls"),
        pytest.param(b"\x1b[31mname: x\n", id="terminal_escape"),
    ],
)
def test_binary_junk_is_a_problem_not_a_traceback(tmp_path: Path, junk: bytes) -> None:
    """A binary file in dialplans/ is one problem at line 1 (or the offending line)."""
    _, problems = checked(tmp_path, junk)
    assert problems
    assert all(p.line >= 1 for p in problems)


def test_huge_flow_is_checked_and_its_last_defect_found(tmp_path: Path) -> None:
    """A thousand-node flow with one defect at the end: found at its line, in reasonable time."""
    nodes = "".join(
        f"  n{i}: {{kind: play, prompts: [ivr/greeting], next: n{i + 1}}}\n" for i in range(1000)
    )
    text = HEAD.replace("start: menu", "start: n0") + nodes + "  n1000: {kind: hangp}\n"
    start = time.perf_counter()
    _, problems = checked(tmp_path, text)
    assert time.perf_counter() - start < 10
    assert any(p.node == "n1000" and p.line == 1005 for p in problems), problems


def test_alias_bomb_is_not_expanded(tmp_path: Path) -> None:
    """Billion-laughs style anchors are read without being multiplied out."""
    bomb = "".join(
        f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10)
    )
    text = (
        "name: bomb\nversion: '1'\nstart: op\nanchors:\n  l0: &l0 [x, x, x, x, x, x, x, x, x]\n"
        + bomb + "nodes:\n" + OP.replace("priority: 5", "priority: 5, prompts: *l9")
    )
    start = time.perf_counter()
    _, problems = checked(tmp_path, text)
    assert time.perf_counter() - start < 5
    assert any("anchors" in p.message for p in problems)


@pytest.mark.parametrize("value", CALLER_TEXT)
def test_hostile_text_as_names_and_targets(value: str) -> None:
    """Hostile text as a prompt, a target, a skill or a node id: problems, never exceptions."""
    # A YAML double-quoted scalar (JSON's escapes); undecodable bytes as U+FFFD, as read.
    q = json.dumps(value.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    text = flow(
        f"  x: {{kind: play, prompts: [{q}], next: {q}}}\n",
        f"  y: {{kind: route, skill: {q}, priority: 5}}\n",
        f"  {q}: {{kind: hangup}}\n",
    )
    flow_, problems = parse_flow(text, "hostile.yaml")
    assert all(p.line >= 1 for p in problems)
    if flow_ is None:  # YAML allows keys of at most 1024 characters: the node id line
        assert [(p.kind, p.line) for p in problems] == [("syntax", line_of(text, "hangup"))]
        return
    problems += validate(flow_, load_catalog(CATALOG), SKILLS, SCHEDULES)
    assert all(1 <= p.line <= lines_of(text) for p in problems)
    assert any(p.kind == "unknown-skill" and p.node == "y" for p in problems), problems


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"\xff\xfeprompts: {}\n", id="not_utf8"),
        pytest.param(b"prompts:\n  a: " + b"[" * 1000 + b"]" * 1000 + b"\n", id="nested_too_deep"),
    ],
)
def test_broken_catalog_is_a_problem_of_check_paths(tmp_path: Path, content: bytes) -> None:
    """``ivr flow check`` with an unreadable catalog lists it as a problem, never a traceback."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_bytes(content)
    flow_path = tmp_path / "flow.yaml"
    flow_path.write_text(flow(), encoding="utf-8")
    problems = check_paths([flow_path], catalog, SKILLS, SCHEDULES)
    assert [(p.file, p.line) for p in problems] == [(str(catalog), 1)]
    assert "cannot read catalog" in problems[0].message
