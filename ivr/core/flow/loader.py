"""Reading a flow file (``dialplans/*.yaml``) into a ``CallFlow``, keeping YAML line numbers.

The file is composed (not loaded) with PyYAML so every mapping key keeps its mark: duplicate
keys, which ``yaml.safe_load`` silently collapses (a second ``1:`` in a menu would hide the
first option), are reported, and every problem carries its line.

Shape of a flow file::

    name: "12345"
    version: "2026-11-28.1"
    languages: [zh, en]          # every prompt must exist in each of these
    start: greeting
    entries: {survey: survey}    # named re-entry points for the dialplan
    nodes:
      greeting: {kind: play, prompts: [ivr/greeting], next: language}
      ...

Missing targets (``next`` etc.) are *not* syntax errors here: the node keeps ``None`` and the
validator reports it as a dead end, so an admin sees it in the same list as the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import yaml

from ivr.core.flow.model import (
    DUPLICATE_KEY,
    SYNTAX,
    Branch,
    BulletinNode,
    CallFlow,
    CaseReopen,
    CaseStatusNode,
    Collect,
    Condition,
    HangUpNode,
    Menu,
    Node,
    Play,
    Prompts,
    Route,
    SetVariables,
    Speech,
    Survey,
    TimeWindow,
    Transfer,
)
from ivr.errors import FlowError, FlowProblem

DTMF_KEYS = frozenset("0123456789*#")
NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
VARIABLE = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
EXTERNAL_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
TIME_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
MIN_PRIORITY, MAX_PRIORITY = 0, 10
MAX_DIGITS = 32
_T = TypeVar("_T")

_COMMON = {"kind"}
_FIELDS: dict[str, set[str]] = {
    "play": {"prompts", "prompt", "interruptible", "next"},
    "menu": {
        "prompts", "prompt", "options", "keywords", "timeout", "retries", "no_input",
        "invalid", "on_exhausted", "no_input_prompts", "invalid_prompts",
    },
    "collect": {
        "prompts", "prompt", "variable", "min_digits", "max_digits", "terminator", "validation",
        "timeout", "retries", "next", "invalid", "no_input", "on_exhausted", "invalid_prompts",
        "no_input_prompts",
    },
    "speech": {
        "prompts", "prompt", "timeout", "min_confidence", "variable", "routes", "next",
        "fallback",
    },
    "branch": {"conditions", "else"},
    "set": {"variables", "language", "next"},
    "route": {"skill", "priority"},
    "transfer": {"number", "schedule", "closed"},
    "case_status": {"variable", "found", "not_found"},
    "case_reopen": {"variable", "next", "refused"},
    "survey": {"prompts", "prompt", "timeout", "retries", "next", "thanks_prompts"},
    "bulletin": {"interruptible", "next"},
    "hangup": {"reason"},
}
_CONDITION_KEYS = {
    "time", "weekday", "holiday", "schedule_open", "caller_known", "caller_has_open_cases",
    "language", "variable", "equals", "goto",
}


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _construct(node: yaml.ScalarNode) -> object:
    """The scalar's YAML value (int, float, bool...). A fresh constructor each time: one shared
    across files would keep every node it saw, and would refuse an alias of a node that once
    failed as "recursive"."""
    return yaml.constructor.SafeConstructor().construct_object(node)


class _Fields:
    """The fields of one YAML mapping, with typed getters that record problems, never raise."""

    def __init__(self, reader: _Reader, ynode: yaml.Node, node_id: str, what: str) -> None:
        self.reader = reader
        self.node_id = node_id
        self.line = _line(ynode)
        self.values: dict[str, yaml.Node] = {}
        self.lines: dict[str, int] = {}
        if not isinstance(ynode, yaml.MappingNode):
            self.problem(self.line, f"{what} must be a mapping")
            return
        for key, value in ynode.value:
            name = str(key.value)
            if name in self.values:
                self.problem(_line(key), f"{what}: key {name!r} given twice", DUPLICATE_KEY)
                continue
            self.values[name] = value
            self.lines[name] = _line(key)

    def problem(self, line: int, message: str, kind: str = SYNTAX) -> None:
        self.reader.problems.append(
            FlowProblem(self.reader.source, line, self.node_id, message, kind)
        )

    def at(self, name: str) -> int:
        return self.lines.get(name, self.line)

    def scalar(self, name: str, convert: Callable[[Any], _T], what: str) -> _T | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, yaml.ScalarNode):
            self.problem(self.at(name), f"{name} must be {what}")
            return None
        try:
            return convert(value)
        except (ValueError, TypeError, yaml.YAMLError):  # YAMLError: an unknown !tag
            self.problem(self.at(name), f"{name} must be {what}, not {value.value!r}")
            return None

    def text(self, name: str, *, required: bool = False) -> str | None:
        # The raw scalar text: "08" stays "08", 1 stays "1" (YAML 1.1 would make them ints).
        out = self.scalar(name, lambda v: str(v.value), "text")
        if out is None and required:
            self.problem(self.line, f"missing {name}")
        return out

    def target(self, name: str) -> str | None:
        return self.text(name)

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        def convert(v: yaml.ScalarNode) -> int:
            got = _construct(v)
            if isinstance(got, bool) or not isinstance(got, int):
                raise TypeError(got)
            return got

        out = self.scalar(name, convert, "a whole number")
        if out is None:
            return default
        if not low <= out <= high:
            self.problem(self.at(name), f"{name} must be between {low} and {high}, not {out}")
            return max(low, min(high, out))
        return out

    def number(self, name: str, default: float, low: float, high: float) -> float:
        def convert(v: yaml.ScalarNode) -> float:
            got = _construct(v)
            if isinstance(got, bool) or not isinstance(got, int | float):
                raise TypeError(got)
            return float(got)

        out = self.scalar(name, convert, "a number")
        if out is None:
            return default
        if not low <= out <= high:
            self.problem(self.at(name), f"{name} must be between {low} and {high}, not {out}")
            return max(low, min(high, out))
        return out

    def flag(self, name: str) -> bool | None:
        def convert(v: yaml.ScalarNode) -> bool:
            got = _construct(v)
            if not isinstance(got, bool):
                raise TypeError(got)
            return got

        return self.scalar(name, convert, "true or false")

    def prompts(self, *names: str, default: Prompts = ()) -> Prompts:
        """A prompt list under any of ``names`` (``prompt: x`` or ``prompts: [x, y]``)."""
        for name in names:
            value = self.values.get(name)
            if value is None:
                continue
            if isinstance(value, yaml.ScalarNode):
                return (str(value.value),)
            if isinstance(value, yaml.SequenceNode) and all(
                isinstance(item, yaml.ScalarNode) for item in value.value
            ):
                return tuple(str(item.value) for item in value.value)
            self.problem(self.at(name), f"{name} must be a prompt name or a list of them")
            return default
        return default

    def mapping(self, name: str) -> _Fields | None:
        value = self.values.get(name)
        if value is None:
            return None
        return _Fields(self.reader, value, self.node_id, f"{self.node_id}.{name}")

    def unknown(self, allowed: set[str]) -> None:
        for name in self.values:
            if name not in allowed:
                self.problem(self.at(name), f"unknown field {name!r}")


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[FlowProblem] = []

    def flow(self, text: str) -> CallFlow | None:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = int(mark.line) + 1 if mark is not None else 1
            if isinstance(exc, yaml.reader.ReaderError):  # a control character: no mark
                line = text.count("\n", 0, exc.position) + 1
            self.problems.append(FlowProblem(self.source, line, "", f"YAML syntax: {exc}"))
            return None
        except RecursionError:  # PyYAML's composer recurses once per nesting level
            self.problems.append(
                FlowProblem(self.source, 1, "", "YAML syntax: lists or mappings nested too deeply")
            )
            return None
        if root is None:
            self.problems.append(FlowProblem(self.source, 1, "", "the file is empty"))
            return None
        top = _Fields(self, root, "", "flow")
        top.unknown({"name", "version", "start", "nodes", "languages", "entries", "description"})
        name = top.text("name", required=True) or ""
        version = top.text("version", required=True) or ""
        start = top.text("start", required=True) or ""
        languages = top.prompts("languages", default=("zh", "en"))
        entries: dict[str, str] = {}
        entry_lines: dict[str, int] = {}
        if (raw_entries := top.mapping("entries")) is not None:
            for key in raw_entries.values:
                target = raw_entries.text(key)
                if target is not None:
                    entries[key] = target
                    entry_lines[f"entries.{key}"] = raw_entries.at(key)
        nodes: dict[str, Node] = {}
        raw_nodes = top.mapping("nodes")
        if raw_nodes is None:
            top.problem(top.line, "missing nodes")
        else:
            for node_id, ynode in raw_nodes.values.items():
                if not NODE_ID.match(node_id):
                    raw_nodes.problem(raw_nodes.at(node_id), f"bad node id {node_id!r}")
                parsed = self.node(node_id, ynode, raw_nodes.at(node_id))
                if parsed is not None:
                    nodes[node_id] = parsed
        lines = {"start": top.at("start"), **entry_lines}
        return CallFlow(
            name, version, start, nodes, languages, entries, self.source, top.line, lines
        )

    def node(self, node_id: str, ynode: yaml.Node, line: int) -> Node | None:
        f = _Fields(self, ynode, node_id, f"node {node_id}")
        f.line = line
        kind = f.text("kind")
        if kind is None or kind not in _FIELDS:
            f.problem(f.at("kind"), f"kind must be one of {', '.join(sorted(_FIELDS))}")
            return None
        f.unknown(_FIELDS[kind] | _COMMON)
        builder = getattr(self, f"_{kind}")
        built: Node = builder(node_id, line, f)
        return built

    def _play(self, nid: str, line: int, f: _Fields) -> Play:
        prompts = f.prompts("prompts", "prompt")
        if not prompts:
            f.problem(line, "a play node needs prompts")
        interruptible = f.flag("interruptible")
        return Play(
            nid, line, prompts, bool(interruptible) if interruptible is not None else True,
            f.target("next"), f.lines,
        )

    def _menu(self, nid: str, line: int, f: _Fields) -> Menu:
        lines = dict(f.lines)
        options: dict[str, str] = {}
        if (raw := f.mapping("options")) is None:
            f.problem(line, "a menu needs options")
        else:
            for key in raw.values:
                if key not in DTMF_KEYS:
                    raw.problem(raw.at(key), f"option {key!r} is not one DTMF key (0-9 * #)")
                target = raw.text(key)
                if target is not None:
                    options[key] = target
                    lines[f"options.{key}"] = raw.at(key)
        keywords: dict[str, dict[str, tuple[str, ...]]] = {}
        if (raw_kw := f.mapping("keywords")) is not None:
            for lang in raw_kw.values:
                per = raw_kw.mapping(lang)
                if per is None:
                    continue
                seen: dict[str, str] = {}
                words_by_key: dict[str, tuple[str, ...]] = {}
                for key in per.values:
                    words = per.prompts(key)
                    if key not in options:
                        per.problem(per.at(key), f"keywords.{lang}.{key}: no option {key!r}")
                    for word in words:
                        folded = word.casefold()
                        if folded in seen and seen[folded] != key:
                            per.problem(
                                per.at(key),
                                f"keyword {word!r} ({lang}) means both {seen[folded]!r} "
                                f"and {key!r}",
                                DUPLICATE_KEY,
                            )
                        seen[folded] = key
                    words_by_key[key] = words
                keywords[lang] = words_by_key
        return Menu(
            nid, line, f.prompts("prompts", "prompt"), options, keywords,
            f.number("timeout", 5.0, 1.0, 60.0), f.integer("retries", 2, 0, 9),
            f.target("no_input"), f.target("invalid"), f.target("on_exhausted"),
            f.prompts("no_input_prompts", default=("ivr/no-input",)),
            f.prompts("invalid_prompts", default=("ivr/invalid-option",)),
            lines,
        )

    def _collect(self, nid: str, line: int, f: _Fields) -> Collect:
        variable = f.text("variable", required=True) or "digits"
        if not VARIABLE.match(variable):
            f.problem(f.at("variable"), f"bad variable name {variable!r}")
        min_digits = f.integer("min_digits", 1, 1, MAX_DIGITS)
        max_digits = f.integer("max_digits", MAX_DIGITS, 1, MAX_DIGITS)
        if min_digits > max_digits:
            f.problem(f.at("min_digits"), "min_digits is greater than max_digits")
        terminator = f.text("terminator")
        if terminator is not None and terminator not in ("#", "*"):
            f.problem(f.at("terminator"), "terminator must be '#' or '*'")
            terminator = "#"
        validation = f.text("validation") or "none"
        if validation not in ("none", "case_number"):
            f.problem(f.at("validation"), "validation must be none or case_number")
            validation = "none"
        return Collect(
            nid, line, f.prompts("prompts", "prompt"), variable, min_digits, max_digits,
            terminator, "case_number" if validation == "case_number" else "none",
            f.number("timeout", 8.0, 1.0, 60.0), f.integer("retries", 2, 0, 9),
            f.target("next"), f.target("invalid"), f.target("no_input"),
            f.target("on_exhausted"),
            f.prompts("invalid_prompts", default=("ivr/invalid-number",)),
            f.prompts("no_input_prompts", default=("ivr/no-input",)),
            f.lines,
        )

    def _speech(self, nid: str, line: int, f: _Fields) -> Speech:
        lines = dict(f.lines)
        routes: dict[str, str] = {}
        if (raw := f.mapping("routes")) is not None:
            for skill in raw.values:
                target = raw.text(skill)
                if target is not None:
                    routes[skill] = target
                    lines[f"routes.{skill}"] = raw.at(skill)
        return Speech(
            nid, line, f.prompts("prompts", "prompt"), f.number("timeout", 10.0, 1.0, 60.0),
            f.number("min_confidence", 0.5, 0.0, 1.0), f.text("variable") or "description",
            routes, f.target("next"), f.target("fallback"), lines,
        )

    def _branch(self, nid: str, line: int, f: _Fields) -> Branch:
        lines = dict(f.lines)
        conditions: list[Condition] = []
        raw = f.values.get("conditions")
        if not isinstance(raw, yaml.SequenceNode):
            f.problem(f.at("conditions"), "a branch needs a list of conditions")
        else:
            for index, item in enumerate(raw.value):
                cond = self._condition(nid, item)
                if cond is not None:
                    conditions.append(cond)
                    lines[f"conditions.{index}"] = cond.line
        return Branch(nid, line, tuple(conditions), f.target("else"), lines)

    def _condition(self, nid: str, item: yaml.Node) -> Condition | None:
        c = _Fields(self, item, nid, "condition")
        c.unknown(_CONDITION_KEYS)
        goto = c.text("goto")
        if goto is None:
            c.problem(c.line, "condition without goto")
            return None
        window = None
        if (raw_time := c.text("time")) is not None:
            window = parse_window(raw_time)
            if window is None:
                c.problem(c.at("time"), f"time must be HH:MM-HH:MM, not {raw_time!r}")
        weekdays = None
        if "weekday" in c.values:
            names = c.prompts("weekday")
            bad = [n for n in names if n.lower()[:3] not in WEEKDAYS]
            if bad or not names:
                c.problem(c.at("weekday"), f"weekday must be mon..sun, not {bad or names}")
            weekdays = frozenset(WEEKDAYS[n.lower()[:3]] for n in names if n not in bad)
        variable = None
        if (name := c.text("variable")) is not None:
            equals = c.text("equals")
            if equals is None:
                c.problem(c.at("variable"), "variable condition needs equals")
            else:
                variable = (name, equals)
        cond = Condition(
            goto, c.line, window, weekdays, c.text("holiday"), c.text("schedule_open"),
            c.flag("caller_known"), c.flag("caller_has_open_cases"), c.text("language"),
            variable,
        )
        if cond == Condition(goto, c.line):
            c.problem(c.line, "condition tests nothing (use else)")
        return cond

    def _set(self, nid: str, line: int, f: _Fields) -> SetVariables:
        variables: dict[str, str] = {}
        if (raw := f.mapping("variables")) is not None:
            for name in raw.values:
                if not VARIABLE.match(name):
                    raw.problem(raw.at(name), f"bad variable name {name!r}")
                value = raw.text(name)
                if value is not None:
                    variables[name] = value
        language = f.text("language")
        if not variables and language is None:
            f.problem(line, "a set node needs variables or language")
        return SetVariables(nid, line, variables, language, f.target("next"), f.lines)

    def _route(self, nid: str, line: int, f: _Fields) -> Route:
        skill = f.text("skill", required=True) or ""
        priority = f.integer("priority", 5, MIN_PRIORITY, MAX_PRIORITY)
        return Route(nid, line, skill, priority, f.lines)

    def _transfer(self, nid: str, line: int, f: _Fields) -> Transfer:
        number = f.text("number", required=True) or ""
        if number and not EXTERNAL_NUMBER.match(number):
            f.problem(f.at("number"), f"number must be digits (optionally +), not {number!r}")
        return Transfer(nid, line, number, f.text("schedule"), f.target("closed"), f.lines)

    def _case_status(self, nid: str, line: int, f: _Fields) -> CaseStatusNode:
        return CaseStatusNode(
            nid, line, f.text("variable") or "case_number", f.target("found"),
            f.target("not_found"), f.lines,
        )

    def _case_reopen(self, nid: str, line: int, f: _Fields) -> CaseReopen:
        return CaseReopen(nid, line, f.text("variable") or "case_number", f.target("next"),
                          f.target("refused"), f.lines)

    def _survey(self, nid: str, line: int, f: _Fields) -> Survey:
        return Survey(
            nid, line, f.prompts("prompts", "prompt"), f.number("timeout", 6.0, 1.0, 60.0),
            f.integer("retries", 1, 0, 9), f.target("next"),
            f.prompts("thanks_prompts", default=("ivr/survey-thanks",)), f.lines,
        )

    def _bulletin(self, nid: str, line: int, f: _Fields) -> BulletinNode:
        interruptible = f.flag("interruptible")
        return BulletinNode(nid, line, bool(interruptible), f.target("next"), f.lines)

    def _hangup(self, nid: str, line: int, f: _Fields) -> HangUpNode:
        return HangUpNode(nid, line, f.text("reason") or "flow_end", f.lines)


def parse_window(text: str) -> TimeWindow | None:
    """``"08:00-18:00"`` -> TimeWindow; ``"22:00-06:00"`` wraps midnight; None when malformed."""
    m = TIME_WINDOW.match(text.strip())
    if m is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        return None
    start, end = h1 * 60 + m1, (h2 * 60 + m2) % (24 * 60)
    if start == end and not (h1 == 0 and m1 == 0 and h2 == 24):
        return None
    return TimeWindow(start, end)


def parse_flow(text: str, source: str) -> tuple[CallFlow | None, list[FlowProblem]]:
    """Parse leniently: the flow as far as it could be read, and every problem found doing so.

    ``check_paths`` uses this so that syntax problems and validation problems are listed
    together; ``load_flow`` is the strict form.
    """
    reader = _Reader(source)
    flow = reader.flow(text)
    return flow, reader.problems


def load_flow(text: str, source: str) -> CallFlow:
    """Parse a flow file's text; raise FlowError carrying every syntax problem, with lines."""
    flow, problems = parse_flow(text, source)
    if problems or flow is None:
        raise FlowError(problems)
    return flow
