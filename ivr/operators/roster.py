"""A whole roster at once: ``ivr operators import roster.csv`` and ``ivr operators generate``.

Import reads a CSV roster (one operator per line: ``id``, ``name``, ``languages``, ``skills``,
and optionally ``contact`` and ``endpoint``) and makes it ``config/operators.yaml``:

* every problem is reported at once, each with its CSV line: the CSV's own (a missing column,
  ``inquiry=5`` instead of ``inquiry:5``, a level that is not a number) and then the whole
  configuration's, checked exactly as an edit of the admin page is (``check_config``: the same
  loader as every start), so the roster's rules have one definition;
* nothing is half-written: the new file replaces the old one in one rename, only once the
  whole configuration is valid with it; otherwise the old roster stays as it was.

``generate`` makes a roster of any size for benchmarks: 1-3 skills each from
``config/skills.yaml``, levels 1-5, everyone speaking the first language and some the
others, contacts spread over a few answering SIPp phones (``sip:<id>@127.0.0.1:<port>``: one
phone answers for many operators).
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.configuration.editor import CONFIG_FILES, check_config
from ivr.core.settings import Settings
from ivr.edges.files import replace_text

REQUIRED = ("id", "name", "languages", "skills")
OPTIONAL = ("contact", "endpoint")
_LIST = re.compile(r"[;,\s]+")
_WHERE = re.compile(r"^operators\[([^\]]+)\]")

HEADER = (
    "# Operators: imported from a roster by `ivr operators import` (edit the roster and import\n"
    "# it again, or edit this file). skills: level 1 (novice) to 5 (expert); the queue\n"
    "# penalty is 5 - level (lower rings first).\n"
)


@dataclass(frozen=True, slots=True)
class RosterProblem:
    line: int  # the CSV line (1 is the header); 0 for the file as a whole
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True, slots=True)
class ImportReport:
    operators: int
    problems: tuple[RosterProblem, ...]


def parse_roster(
    text: str, contact_template: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, int], list[RosterProblem]]:
    """The CSV's operators as operators.yaml entries, each entry's CSV line (by id and by
    position), and the CSV's own problems. ``contact_template`` (``sip:{id}@host:port``)
    gives the contact of rows without one."""
    problems: list[RosterProblem] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        return [], {}, [RosterProblem(1, "missing column(s) " + ", ".join(missing)
                                      + f" (the header must name {', '.join(REQUIRED)})")]
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        problems.append(RosterProblem(1, f"unknown column(s) {', '.join(unknown)} "
                                         f"(known: {', '.join(REQUIRED + OPTIONAL)})"))
    if "contact" not in columns and contact_template is None:
        problems.append(RosterProblem(1, "no contact column: give one, or --contact "
                                         "'sip:{id}@host:port'"))
    entries: list[dict[str, Any]] = []
    lines: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        values = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else ""
                  for k, v in row.items()}
        if not any(values.values()):
            continue  # a blank line
        if None in row:
            problems.append(RosterProblem(line, "more fields than columns"))
            continue
        oid = values["id"]
        entry: dict[str, Any] = {"id": oid, "name": values["name"],
                                 "languages": [x for x in _LIST.split(values["languages"]) if x]}
        skills: dict[str, int] = {}
        for item in (x for x in _LIST.split(values["skills"]) if x):
            skill, sep, level = item.partition(":")
            if not sep or not level.strip().isdigit():
                problems.append(RosterProblem(
                    line, f"skill {item!r}: write skill:level, e.g. inquiry:4"))
                continue
            if skill in skills:
                problems.append(RosterProblem(line, f"skill {skill!r} given twice"))
            skills[skill] = int(level)
        entry["skills"] = skills
        contact = values.get("contact") or (
            contact_template.replace("{id}", oid) if contact_template else "")
        entry["contact"] = contact
        entry["endpoint"] = values.get("endpoint") or oid
        lines[oid] = line  # a duplicate id is reported on its later line
        lines[f"#{len(entries)}"] = line
        entries.append(entry)
    if not entries and not problems:
        problems.append(RosterProblem(0, "the roster has no operators"))
    return entries, lines, problems


def render_operators(entries: Sequence[dict[str, Any]]) -> str:
    """operators.yaml text for ``entries``: every value quoted (JSON strings are YAML), so
    nothing in a roster can add a key or a line."""
    out = [HEADER, "operators:\n"]
    for e in entries:
        skills = ", ".join(f"{json.dumps(s, ensure_ascii=False)}: {level}"
                           for s, level in e["skills"].items())
        languages = ", ".join(json.dumps(x, ensure_ascii=False) for x in e["languages"])
        out.append(
            f"  - id: {json.dumps(e['id'], ensure_ascii=False)}\n"
            f"    name: {json.dumps(e['name'], ensure_ascii=False)}\n"
            f"    endpoint: {json.dumps(e['endpoint'], ensure_ascii=False)}\n"
            f"    contact: {json.dumps(e['contact'], ensure_ascii=False)}\n"
            f"    languages: [{languages}]\n"
            f"    skills: {{{skills}}}\n")
    return "".join(out)


def import_roster(
    live: Settings, config_dir: Path, text: str, *, contact_template: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Check ``text`` (a CSV roster) with the whole configuration and, when there is no
    problem and not ``dry_run``, replace ``operators.yaml`` with it in one rename.
    Blocking (files, YAML): run in a thread from the event loop."""
    entries, lines, problems = parse_roster(text, contact_template)
    if problems and not entries:
        return ImportReport(0, tuple(problems))
    candidate = render_operators(entries)
    flow_text = live.flow_path.read_text(encoding="utf-8")
    for p in check_config(live, config_dir, {"operators": candidate}, flow_text):
        if p["file"] != CONFIG_FILES["operators"]:
            problems.append(RosterProblem(0, f"{p['file']}: {p['key']}: {p['message']}"))
            continue
        where = _WHERE.match(p["key"])
        key = where.group(1) if where else ""
        line = lines.get(key) or lines.get(f"#{key}", 0) if key else 0
        field = p["key"][where.end():].lstrip(".") if where else p["key"]
        problems.append(RosterProblem(line, f"{field or 'operator'}: {p['message']}"))
    problems.sort(key=lambda p: p.line)
    if problems or dry_run:
        return ImportReport(len(entries), tuple(problems))
    replace_text(config_dir / CONFIG_FILES["operators"], candidate)
    return ImportReport(len(entries), ())


_SYLLABLES = ("An", "Bo", "Chen", "Da", "Fang", "Gang", "Hui", "Jia", "Jing", "Kai", "Lan",
              "Lei", "Li", "Lin", "Ming", "Na", "Ning", "Ping", "Qiang", "Rui", "Shan", "Tao",
              "Wei", "Xin", "Yan", "Yi", "Ying", "Yu", "Zhen", "Zhi")
_FAMILY = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu",
           "Sun", "Hu", "Zhu", "Gao", "Lin", "He", "Guo", "Ma", "Luo")


def generate_roster(
    cfg: Settings, count: int, *, phones: int = 20, first_port: int = 6000, seed: int = 12345,
    first_id: int = 2001,
) -> str:
    """A CSV roster of ``count`` operators (1-3 skills each, levels 1-5) whose contacts are
    spread over ``phones`` answering phones at ``first_port``...; the same ``seed`` gives the
    same roster."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if not 1 <= phones <= 1000:
        raise ValueError("phones must be 1-1000")
    rng = random.Random(seed)  # noqa: S311 - a reproducible benchmark roster, no secret
    skills = sorted(cfg.skills)
    first, *others = cfg.languages
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*REQUIRED, "contact"])
    for i in range(count):
        oid = f"op{first_id + i}"
        name = f"{rng.choice(_FAMILY)} {rng.choice(_SYLLABLES)}{rng.choice(_SYLLABLES).lower()}"
        languages = [first, *(x for x in others if rng.random() < 0.3)]
        held = rng.sample(skills, rng.randint(1, min(3, len(skills))))
        levels = ";".join(f"{s}:{rng.randint(1, 5)}" for s in held)
        port = first_port + i % phones
        writer.writerow([oid, name, ";".join(languages), levels, f"sip:{oid}@127.0.0.1:{port}"])
    return out.getvalue()
