"""The flow as a picture: drawn from the engine's own parse; problems and a path marked;
labels escaped for DOT."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr import cli, settings
from ivr.core.flow import load_flow, parse_flow
from ivr.core.flow.graph import flow_dot, quote
from ivr.errors import FlowProblem

CFG = settings.load()
FLOW = load_flow(CFG.flow_path.read_text(encoding="utf-8"), str(CFG.flow_path))


def node_line(dot: str, node: str) -> str:
    [line] = [x for x in dot.splitlines() if x.startswith(f"  {quote(node)} [")]
    return line


def test_every_node_and_every_edge_of_the_flow_is_drawn() -> None:
    dot = flow_dot(FLOW)
    for nid in FLOW.nodes:
        assert f'id="node-{nid}"' in node_line(dot, nid)
    # main_menu's keys, labelled with the key and its spoken keywords.
    assert re.search(r'"main_menu" -> "route_inquiry" \[label="2 / [^"]*inquiry', dot)
    assert '"entry:survey" -> "survey"' in dot
    assert '"entry:start" -> "greeting"' in dot


def test_problems_mark_their_node_and_a_path_is_highlighted() -> None:
    problem = FlowProblem("f.yaml", 7, "main_menu", "options.2: no node 'x'", "reference")
    dot = flow_dot(FLOW, [problem], path=["greeting", "choose_language", "lang_zh"])
    menu = node_line(dot, "main_menu")
    assert "problem" in menu
    assert "line 7: options.2: no node" in menu
    assert "on-path" in node_line(dot, "greeting")
    assert "on-path" not in node_line(dot, "main_menu")
    [step] = [x for x in dot.splitlines() if x.startswith('  "greeting" -> "choose_language"')]
    assert "on-path" in step


def test_labels_from_the_file_cannot_break_out_of_dot() -> None:
    text = CFG.flow_path.read_text(encoding="utf-8").replace(
        "[投诉, 反映, 举报]", '[投诉, "a\\" ] -> evil [x=\\"", 举报]', 1)
    flow, problems = parse_flow(text, "edited.yaml")
    assert flow is not None, problems
    dot = flow_dot(flow)
    [edge] = [x for x in dot.splitlines() if x.startswith('  "main_menu" -> "report_describe"')]
    # The quote inside the keyword is escaped: the label stays one DOT string.
    assert re.fullmatch(r'  "main_menu" -> "report_describe" \[label="(?:[^"\\]|\\.)*"\];', edge)


def test_cli_draws_the_live_flow_with_a_simulated_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    out = tmp_path / "flow.svg"
    assert cli.main(["flow", "draw", "-o", str(out), "--digits", "12"]) == 0
    printed = capsys.readouterr().out
    assert "path greeting > choose_language > lang_zh" in printed
    assert "route_inquiry" in printed
    svg = out.read_text(encoding="utf-8")
    assert svg.count("flow&#45;node") == len(FLOW.nodes)
    assert ('id="node&#45;route_inquiry" class="node flow&#45;node kind&#45;route on&#45;path"'
            in svg)
