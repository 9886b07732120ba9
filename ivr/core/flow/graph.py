"""A flow as a picture: the Graphviz DOT text of a parsed flow. Pure code.

Theory of operation
    The graph is drawn from the same parse and the same ``edges`` the engine and the validator
    use, so the picture cannot disagree with what calls do. Each node is a box whose shape and
    colour say its kind (menus, speech turns, branches, the IVR's ends); each edge is labelled
    with what takes a call along it: a key and its spoken keywords, a recognised skill, a
    condition, ``no input``, ``else``. The start and each named entry (the survey after an
    operator) get an arrow from a small entry point. Nodes with problems (from ``validate`` or
    the parser) are drawn red with the problems as their tooltip; a simulated call's path is
    drawn bold and blue. Every node carries ``id="node-<id>"`` so a page can find it in the
    SVG, and the page maps it back to the node's line in the flow text.

    Labels are escaped for DOT here (quotes, backslashes, line breaks); Graphviz escapes them
    for SVG. Nothing from a flow file reaches Graphviz unescaped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

from ivr.core.flow.model import (
    Branch,
    CallFlow,
    CaseReopen,
    CaseStatusNode,
    Collect,
    Condition,
    Menu,
    Node,
    Route,
    Speech,
    Transfer,
    edges,
)
from ivr.errors import FlowProblem

# (shape, fill colour) per kind: decisions are diamonds, the IVR's ends are dark.
_LOOK: Mapping[str, tuple[str, str]] = {
    "play": ("box", "#eef3fb"), "bulletin": ("box", "#fff4d6"), "set": ("box", "#f1f1f1"),
    "menu": ("box", "#dbe8ff"), "collect": ("box", "#dbe8ff"), "speech": ("box", "#e3f5e1"),
    "branch": ("diamond", "#f7f0ff"), "case_status": ("box", "#eef3fb"),
    "case_reopen": ("box", "#fdecea"),
    "survey": ("box", "#e3f5e1"), "route": ("box", "#cfe9d6"), "transfer": ("box", "#cfe9d6"),
    "hangup": ("box", "#e6e6e6"),
}
_KINDS: Mapping[str, str] = {
    "Play": "play", "BulletinNode": "bulletin", "SetVariables": "set", "Menu": "menu",
    "Collect": "collect", "Speech": "speech", "Branch": "branch",
    "CaseStatusNode": "case_status", "CaseReopen": "case_reopen", "Survey": "survey",
    "Route": "route",
    "Transfer": "transfer", "HangUpNode": "hangup",
}
PROBLEM_COLOUR = "#c62828"
PATH_COLOUR = "#1565c0"
MAX_LABEL = 48  # characters of a keyword list shown on an edge


def kind_of(node: Node) -> str:
    """The flow file's ``kind:`` for a node (a kind added later is drawn by its class name)."""
    name = type(node).__name__
    return _KINDS.get(name, name.lower())


def quote(text: str) -> str:
    """A DOT double-quoted string (escapes quotes, backslashes and line breaks)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r", "").replace("\n", "\\n")
    return f'"{escaped}"'


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _node_label(node: Node) -> str:
    kind = kind_of(node)
    match node:
        case Route():
            return f"{node.id}\n→ {node.skill} (priority {node.priority})"
        case Transfer():
            return f"{node.id}\n→ transfer {node.number}"
        case Collect():
            return f"{node.id}\n{kind}: {node.variable}"
        case CaseStatusNode():
            return f"{node.id}\ncase status of {node.variable}"
        case CaseReopen():
            return f"{node.id}\nreopen {node.variable}"
        case _:
            return f"{node.id}\n{kind}"


def _condition(c: Condition) -> str:
    parts: list[str] = []
    if c.time is not None:
        parts.append(str(c.time))
    if c.weekdays is not None:
        parts.append("days " + ",".join(str(d + 1) for d in sorted(c.weekdays)))
    if c.holiday is not None:
        parts.append(f"holiday {c.holiday}")
    if c.schedule_open is not None:
        parts.append(f"{c.schedule_open} open")
    if c.caller_known is not None:
        parts.append("known caller" if c.caller_known else "new caller")
    if c.caller_has_open_cases is not None:
        parts.append("open cases" if c.caller_has_open_cases else "no open cases")
    if c.language is not None:
        parts.append(f"language {c.language}")
    if c.variable is not None:
        parts.append(f"{c.variable[0]}={c.variable[1]}")
    return " and ".join(parts) or "always"


def _edge_label(node: Node, label: str) -> str:
    """What takes a call along the edge named ``label`` (a key of ``edges(node)``)."""
    match node:
        case Menu() if label.startswith("options."):
            key = label.removeprefix("options.")
            words = sorted({w for per_key in node.keywords.values()
                            for w in per_key.get(key, ())})
            return f"{key}" + (f" / {_short(', '.join(words))}" if words else "")
        case Speech() if label.startswith("routes."):
            return "said: " + label.removeprefix("routes.")
        case Branch() if label.startswith("conditions."):
            index = int(label.removeprefix("conditions."))
            return _condition(node.conditions[index])
    return {"no_input": "no input", "on_exhausted": "retries used up", "not_found": "not found",
            "closed": "closed"}.get(label, label.replace("_", " "))


def flow_dot(
    flow: CallFlow, problems: Iterable[FlowProblem] = (), path: Sequence[str] = (),
) -> str:
    """The DOT text of ``flow``; ``problems`` mark their nodes, ``path`` (node ids in the
    order a simulated call took them) is highlighted."""
    by_node: dict[str, list[str]] = {}
    for problem in problems:
        if problem.node:
            by_node.setdefault(problem.node, []).append(f"line {problem.line}: {problem.message}")
    on_path = set(path)
    steps = set(itertools.pairwise(path))
    out = [
        "digraph flow {",
        "  graph [rankdir=TB, fontname=\"Noto Sans CJK SC,Helvetica,sans-serif\", "
        "nodesep=0.35, ranksep=0.45];",
        "  node [style=\"filled,rounded\", fontname=\"Noto Sans CJK SC,Helvetica,sans-serif\","
        " fontsize=11, penwidth=1];",
        "  edge [fontname=\"Noto Sans CJK SC,Helvetica,sans-serif\", fontsize=9, "
        "color=\"#666666\"];",
    ]
    entries = [("start", flow.start), *sorted(flow.entries.items())]
    for name, first in entries:
        out.append(f"  {quote('entry:' + name)} [id={quote('entry-' + name)}, "
                   f"label={quote(name)}, shape=plaintext, style=\"\"];")
        if first in flow.nodes:
            out.append(f"  {quote('entry:' + name)} -> {quote(first)} [style=dashed];")
    for nid, node in flow.nodes.items():
        shape, fill = _LOOK.get(kind_of(node), ("box", "#ffffff"))
        attributes = [f"id={quote('node-' + nid)}", f"label={quote(_node_label(node))}",
                      f"shape={shape}", f"fillcolor={quote(fill)}"]
        classes = ["flow-node", f"kind-{kind_of(node)}"]
        if nid in by_node:
            classes.append("problem")
            attributes += [f"color={quote(PROBLEM_COLOUR)}", "penwidth=3",
                           f"tooltip={quote(chr(10).join(by_node[nid]))}"]
        else:
            attributes.append(f"tooltip={quote(f'{nid} (line {node.line})')}")
        if nid in on_path:
            classes.append("on-path")
            if nid not in by_node:
                attributes += [f"color={quote(PATH_COLOUR)}", "penwidth=3"]
        attributes.append(f"class={quote(' '.join(classes))}")
        out.append(f"  {quote(nid)} [{', '.join(attributes)}];")
    for nid, node in flow.nodes.items():
        seen: set[str] = set()
        for label, target in edges(node):
            if target is None or target not in flow.nodes:
                continue  # a hole or a dangling name: reported as a problem on the node
            text = _edge_label(node, label)
            key = f"{target}|{text}"
            if key in seen:
                continue
            seen.add(key)
            look = [f"label={quote(text)}"]
            if (nid, target) in steps:
                look += [f"color={quote(PATH_COLOUR)}", "penwidth=3", "class=\"on-path\""]
            out.append(f"  {quote(nid)} -> {quote(target)} [{', '.join(look)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def node_lines(flow: CallFlow) -> dict[str, int]:
    """Each node's first line in the flow text (for a page's "click a node, see its lines")."""
    return {nid: node.line for nid, node in flow.nodes.items()}
