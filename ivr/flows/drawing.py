"""The flow as a picture (``ivr flow draw``, ``/admin/flows``): parsed, checked and drawn the
way the engine reads it, problems on their nodes, a simulated path highlighted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ivr.core.flow.graph import flow_dot, node_lines
from ivr.core.settings import Settings
from ivr.edges import graphviz
from ivr.errors import FlowError, FlowProblem
from ivr.flows.library import parse_and_check


@dataclass(frozen=True, slots=True)
class Drawing:
    svg: str
    lines: dict[str, int]  # node id -> its first line in the text
    problems: list[FlowProblem]


def draw_text(settings: Settings, text: str, source: str,
              path: Sequence[str] = ()) -> Drawing:
    """Draw a flow text (blocking: ``asyncio.to_thread`` from the loop). ``FlowError`` when
    the text cannot be read far enough to have nodes; validation problems are drawn."""
    flow, problems = parse_and_check(settings, text, source)
    if flow is None or not flow.nodes:
        raise FlowError(problems)
    return Drawing(graphviz.svg(flow_dot(flow, problems, path)), node_lines(flow), problems)
