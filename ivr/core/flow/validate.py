"""Semantic checks on a parsed flow: everything an admin must fix before publishing.

``validate`` never stops at the first problem. Each ``FlowProblem`` names the file, the line
(of the field at fault when there is one) and the node, with a stable ``kind``:

- unknown-node: a target (or ``start``/``entries``) names no node;
- unreachable: no path from ``start`` or an entry reaches the node;
- dead-end: a node with no target where the call must go on (``next`` missing, a branch with
  neither ``else`` nor full coverage...), i.e. a path that neither routes, transfers nor hangs up;
- loop-without-exit: nodes that only lead to each other, never to a route, transfer or hang-up,
  or a cycle that never waits for the caller (the engine would spin);
- missing-prompt: a prompt (or a read-back the node needs) absent in an enabled language;
- unknown-skill / unknown-schedule: names that ``config/`` does not define;
- duplicate-key (reported by the loader): the same DTMF key or keyword twice;
- schedule-overlap / schedule-gap: time windows in one branch that overlap, or leave times of the
  week uncovered with no ``else``;
- exhausted-not-operator: a menu or collect whose ``on_exhausted`` is not a ``route`` node.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

from ivr.core.cases import READBACK_STATUSES
from ivr.core.flow.catalog import PromptCatalog, number_prompt_names
from ivr.core.flow.loader import WEEKDAYS
from ivr.core.flow.model import (
    DEAD_END,
    LOOP_WITHOUT_EXIT,
    MISSING_PROMPT,
    NOT_AN_OPERATOR,
    SCHEDULE_GAP,
    SCHEDULE_OVERLAP,
    SYNTAX,
    TERMINAL_KINDS,
    UNKNOWN_NODE,
    UNKNOWN_SCHEDULE,
    UNKNOWN_SKILL,
    UNREACHABLE,
    Branch,
    BulletinNode,
    CallFlow,
    CaseStatusNode,
    Collect,
    Condition,
    Menu,
    Node,
    Route,
    SetVariables,
    Speech,
    Transfer,
    edges,
    prompts_of,
)
from ivr.errors import FlowProblem

_Add = Callable[[int, str, str, str], None]  # (line, node, message, kind)
_DAY = 24 * 60
_WEEK = 7 * _DAY
_DAY_NAMES = {v: k for k, v in WEEKDAYS.items()}
_INSTANT = (Branch, SetVariables, BulletinNode, Transfer)

# Prompts the engine plays on its own for some node kinds.
_CASE_READBACK = (
    "ivr/case-number-is",
    "ivr/case-status-is",
    *(f"ivr/case-status-{s}" for s in READBACK_STATUSES),
)
_BULLETIN = ("ivr/bulletin-intro",)


def validate(
    flow: CallFlow,
    catalog: PromptCatalog,
    skills: Collection[str],
    schedules: Collection[str] = (),
    languages: Collection[str] = (),
) -> list[FlowProblem]:
    """Every semantic problem of ``flow``, in file order.

    ``skills`` are the skill ids of ``config/skills.yaml``; ``schedules`` the names of the
    schedules and holiday calendars of ``config/`` that branches and transfers may name;
    ``languages`` the service's enabled languages: prompts must exist in each of them as well
    as in the flow's own ``languages``.
    """
    problems: list[FlowProblem] = []

    def add(line: int, node: str, message: str, kind: str) -> None:
        problems.append(FlowProblem(flow.source, line, node, message, kind))

    _references(flow, add)
    _operators(flow, add)
    _reachability(flow, add)
    extra = tuple(x for x in languages if x not in flow.languages)
    _prompts(flow, catalog, (*flow.languages, *extra), add)
    _names(flow, skills, schedules, add)
    for node in flow.nodes.values():
        if isinstance(node, Branch):
            _windows(node, add)
    return sorted(problems, key=lambda p: (p.line, p.node, p.kind, p.message))


def _line(node: Node, label: str) -> int:
    return node.lines.get(label, node.line)


def _references(flow: CallFlow, add: _Add) -> None:
    if flow.start not in flow.nodes:
        add(flow.lines.get("start", flow.line), "", f"start names no node {flow.start!r}",
            UNKNOWN_NODE)
    for name, entry in flow.entries.items():
        if entry not in flow.nodes:
            add(flow.lines.get(f"entries.{name}", flow.line), "",
                f"entry {name!r} names no node {entry!r}", UNKNOWN_NODE)
    for node in flow.nodes.values():
        for label, target in edges(node):
            if target is None:
                if label == "on_exhausted":
                    continue  # reported by _operators with a sharper message
                add(_line(node, label), node.id,
                    f"{label} is missing: the call would stop here without routing, "
                    "transferring or hanging up", DEAD_END)
            elif target not in flow.nodes:
                add(_line(node, label), node.id, f"{label} names no node {target!r}",
                    UNKNOWN_NODE)
        if (
            isinstance(node, Branch)
            and node.otherwise is None
            and not _covers_week(node)
            and not all(_time_only(c) for c in node.conditions)
        ):
            add(node.line, node.id,
                "branch has no else: a call matching no condition has nowhere to go",
                DEAD_END)


def _operators(flow: CallFlow, add: _Add) -> None:
    for node in flow.nodes.values():
        if not isinstance(node, Menu | Collect):
            continue
        target = node.on_exhausted
        if target is None:
            add(node.line, node.id,
                "on_exhausted is missing: after the retries the caller must reach an operator",
                NOT_AN_OPERATOR)
        elif target in flow.nodes and not isinstance(flow.nodes[target], Route):
            add(_line(node, "on_exhausted"), node.id,
                f"on_exhausted goes to {target!r}, which is not a route to an operator",
                NOT_AN_OPERATOR)


def _graph(flow: CallFlow) -> dict[str, list[str]]:
    return {
        nid: [t for _, t in edges(node) if t is not None and t in flow.nodes]
        for nid, node in flow.nodes.items()
    }


def _reachability(flow: CallFlow, add: _Add) -> None:
    graph = _graph(flow)
    roots = [r for r in (flow.start, *flow.entries.values()) if r in flow.nodes]
    reached: set[str] = set()
    stack = list(roots)
    while stack:
        nid = stack.pop()
        if nid not in reached:
            reached.add(nid)
            stack.extend(graph[nid])
    for nid, node in flow.nodes.items():
        if nid not in reached:
            add(node.line, nid, "unreachable: no path from start or an entry leads here",
                UNREACHABLE)

    # Nodes from which some path ends the IVR (route, transfer, hang-up).
    reverse: dict[str, list[str]] = {nid: [] for nid in graph}
    for nid, targets in graph.items():
        for t in targets:
            reverse[t].append(nid)
    can_finish = {nid for nid, node in flow.nodes.items() if isinstance(node, TERMINAL_KINDS)}
    stack = list(can_finish)
    while stack:
        for prev in reverse[stack.pop()]:
            if prev not in can_finish:
                can_finish.add(prev)
                stack.append(prev)

    for component in _cycles(graph):
        first = min(component, key=lambda n: flow.nodes[n].line)
        names = ", ".join(sorted(component, key=lambda n: flow.nodes[n].line))
        if not component & can_finish:
            add(flow.nodes[first].line, first,
                f"loop without an exit: {names} only lead to each other, never to a route, "
                "transfer or hang-up", LOOP_WITHOUT_EXIT)
        elif all(isinstance(flow.nodes[n], _INSTANT) for n in component):
            add(flow.nodes[first].line, first,
                f"loop without an exit: {names} never wait for the caller, so a call that "
                "enters it cannot leave", LOOP_WITHOUT_EXIT)


def _cycles(graph: dict[str, list[str]]) -> list[set[str]]:
    """Strongly connected components that contain a cycle (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[set[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            nid, i = work.pop()
            if i == 0:
                index[nid] = low[nid] = counter
                counter += 1
                stack.append(nid)
                on_stack.add(nid)
            targets = graph[nid]
            if i < len(targets):
                work.append((nid, i + 1))
                t = targets[i]
                if t not in index:
                    work.append((t, 0))
                elif t in on_stack:
                    low[nid] = min(low[nid], index[t])
                continue
            if low[nid] == index[nid]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == nid:
                        break
                if len(component) > 1 or nid in graph[nid]:
                    out.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[nid])
    return out


def _prompts(
    flow: CallFlow, catalog: PromptCatalog, languages: Sequence[str], add: _Add
) -> None:
    for node in flow.nodes.values():
        needed: list[str] = list(prompts_of(node))
        if isinstance(node, CaseStatusNode):
            needed += [*_CASE_READBACK, *sorted(number_prompt_names())]
        if isinstance(node, BulletinNode):
            needed += _BULLETIN
        label = "prompts" if "prompts" in node.lines else "prompt"
        seen: set[tuple[str, str]] = set()
        for name, language in catalog.missing(needed, languages):
            if (name, language) in seen:
                continue
            seen.add((name, language))
            add(_line(node, label), node.id,
                f"prompt {name!r} is not in the catalog for language {language!r}",
                MISSING_PROMPT)


def _names(
    flow: CallFlow, skills: Collection[str], schedules: Collection[str], add: _Add
) -> None:
    for node in flow.nodes.values():
        match node:
            case Route() if node.skill not in skills:
                add(_line(node, "skill"), node.id, f"unknown skill {node.skill!r}",
                    UNKNOWN_SKILL)
            case Speech():
                for skill in node.routes:
                    if skill not in skills:
                        add(_line(node, f"routes.{skill}"), node.id,
                            f"speech routes an unknown skill {skill!r}", UNKNOWN_SKILL)
            case Transfer() if node.schedule is not None and node.schedule not in schedules:
                add(_line(node, "schedule"), node.id, f"unknown schedule {node.schedule!r}",
                    UNKNOWN_SCHEDULE)
            case Branch():
                for c in node.conditions:
                    for name in (c.holiday, c.schedule_open):
                        if name is not None and name not in schedules:
                            add(c.line, node.id, f"unknown schedule or calendar {name!r}",
                                UNKNOWN_SCHEDULE)
                    if c.language is not None and c.language not in flow.languages:
                        add(c.line, node.id, f"language {c.language!r} is not enabled",
                            SYNTAX)
            case SetVariables() if (
                node.language is not None and node.language not in flow.languages
            ):
                add(_line(node, "language"), node.id,
                    f"language {node.language!r} is not enabled", SYNTAX)
            case Menu():
                for language in node.keywords:
                    if language not in flow.languages:
                        add(_line(node, "keywords"), node.id,
                            f"keywords for language {language!r}, which is not enabled",
                            SYNTAX)


def _time_only(c: Condition) -> bool:
    """A condition that tests only the clock (time and/or weekday)."""
    return (c.time is not None or c.weekdays is not None) and (
        c.holiday is None
        and c.schedule_open is None
        and c.caller_known is None
        and c.caller_has_open_cases is None
        and c.language is None
        and c.variable is None
    )


def _week(c: Condition) -> frozenset[int]:
    """The minutes of the week (0 = Monday 00:00) a clock-only condition holds."""
    days = c.weekdays if c.weekdays is not None else frozenset(range(7))
    minutes = c.time.minutes() if c.time is not None else frozenset(range(_DAY))
    return frozenset(d * _DAY + m for d in days for m in minutes)


def _covers_week(node: Branch) -> bool:
    covered: set[int] = set()
    for c in node.conditions:
        if _time_only(c):
            covered |= _week(c)
    return len(covered) == _WEEK


def _ranges(minutes: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for m in sorted(minutes):
        if out and out[-1][1] == m:
            out[-1] = (out[-1][0], m + 1)
        else:
            out.append((m, m + 1))
    return out


def _when(start: int, end: int) -> str:
    def day(m: int) -> str:
        return _DAY_NAMES[(m % _WEEK) // _DAY]

    def clock(m: int) -> str:
        minute = m % _DAY
        return f"{minute // 60:02d}:{minute % 60:02d}"

    if (end - 1) // _DAY == start // _DAY:
        return f"{day(start)} {clock(start)}-{clock(end)}"
    return f"{day(start)} {clock(start)}-{day(end)} {clock(end)}"


def _gaps(covered: set[int]) -> str:
    """Uncovered times, said per day when every day has the same hole."""
    missing = set(range(_WEEK)) - covered
    daily = [frozenset(m % _DAY for m in missing if m // _DAY == d) for d in range(7)]
    if all(hole == daily[0] for hole in daily):
        spans = [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}"
                 for s, e in _ranges(daily[0])]
        return ", ".join(spans) + " every day"
    spans = [_when(s, e) for s, e in _ranges(missing)]
    more = f" and {len(spans) - 3} more" if len(spans) > 3 else ""
    return ", ".join(spans[:3]) + more


def _windows(node: Branch, add: _Add) -> None:
    clock = [c for c in node.conditions if _time_only(c) and c.time is not None]
    for i, a in enumerate(clock):
        for b in clock[i + 1 :]:
            both = _week(a) & _week(b)
            if both:
                first = _ranges(both)[0]
                add(b.line, node.id,
                    f"time window {b.time} overlaps {a.time} (e.g. {_when(*first)}); "
                    "the first one always wins", SCHEDULE_OVERLAP)
    if node.otherwise is not None or not clock:
        return
    if not all(_time_only(c) for c in node.conditions):
        return  # reported as a dead end: no else with non-clock conditions
    covered: set[int] = set()
    for c in node.conditions:
        covered |= _week(c)
    if len(covered) < _WEEK:
        add(node.line, node.id,
            f"no time window covers {_gaps(covered)} and the branch has no else", SCHEDULE_GAP)
