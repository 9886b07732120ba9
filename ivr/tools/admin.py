"""What admins do from the command line: check, simulate, version and roll back flows; cases.

Each function returns what to print and an exit code; the CLI only parses arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

from ivr.core.flow import CallFlow, SimulationReport, format_report, simulate
from ivr.core.flow.scenarios import parse_scenarios, scenarios_path
from ivr.core.settings import Settings
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.storage.store import Store, open_store, opened_store
from ivr.errors import FlowError, FlowRejected
from ivr.flows.drawing import draw_text
from ivr.flows.files import check_paths, load_flow_file
from ivr.flows.library import rollback
from ivr.flows.scenarios import scenario_problems
from ivr.flows.simulation import (
    CallerHistory,
    arrival_facts,
    call_time,
    caller_history,
    intent_classifier,
)


def flow_check(settings: Settings, paths: list[str]) -> tuple[str, int]:
    """Every problem of every flow file, then, for each valid one, its scenarios replayed."""
    paths = paths or [str(settings.flow_path)]
    problems = check_paths(
        paths, settings.prompts_dir / "catalog.yaml",
        set(settings.skills), settings.schedules.names, settings.languages,
    )
    replayed = 0
    for path in paths:
        if any(p.file == path for p in problems):
            continue
        scenarios = Path(scenarios_path(path))
        if scenarios.exists():
            replayed += len(parse_scenarios(scenarios.read_text(encoding="utf-8"),
                                            str(scenarios))[0])
        problems += scenario_problems(settings, load_flow_file(path), path)
    if not problems:
        return f"{len(paths)} flow(s) ok, {replayed} scenario(s) passed", 0
    lines = [f"{p.file}:{p.line}: node {p.node or '-'}: {p.message} [{p.kind}]"
             for p in problems]
    return "\n".join([*lines, f"{len(problems)} problem(s)"]), 1


async def flow_simulate(
    settings: Settings, path: str | None, *, digits: str, say: str | None, lang: str | None,
    at: str | None, caller: str, clock: Clock = SYSTEM_CLOCK,
) -> tuple[str, int]:
    try:
        flow = load_flow_file(path or settings.flow_path)
    except FlowError as exc:
        return "\n".join(f"{p.file}:{p.line}: {p.message}" for p in exc.problems), 1
    report = await _simulated(settings, flow, digits=digits, say=say, lang=lang, at=at,
                              caller=caller, clock=clock)
    if isinstance(report, str):
        return report, 2
    return format_report(report), 0


async def _simulated(
    settings: Settings, flow: CallFlow, *, digits: str, say: str | None, lang: str | None,
    at: str | None, caller: str, clock: Clock,
) -> SimulationReport | str:
    """A call simulated as a live one would run: the caller's history and the cases keyed
    looked up in the database; a problem with the arguments as a message."""
    try:
        now = call_time(settings, at, clock)
    except ValueError:
        return f"--at: not an ISO date and time: {at!r}"
    store = open_store(settings.database_url, settings.state_dir)
    history = CallerHistory()
    # A simulation never creates an SQLite file; PostgreSQL is always there to ask.
    if store.path is None or store.path.exists():
        await store.open()
        try:
            history = await caller_history(store, caller, digits)
        finally:
            await store.close()
    facts = arrival_facts(
        settings, caller=caller, language=lang or settings.default_language, now=now,
        caller_known=history.known, open_cases=history.open_cases,
        # Live calls have speech only where a recogniser runs; --say simulates one.
        speech_available=say is not None,
    )
    return simulate(flow, facts, digits, say, history.cases,
                    classify=intent_classifier(settings))


async def flow_draw(
    settings: Settings, path: str | None, output: str, *, digits: str | None, say: str | None,
    lang: str | None, at: str | None, caller: str, clock: Clock = SYSTEM_CLOCK,
) -> tuple[str, int]:
    """Draw a flow as SVG into ``output``; with ``digits`` (or ``say``), the path of that
    simulated call highlighted. Problems are drawn on their nodes and listed."""
    source = Path(path or settings.flow_path)
    try:
        text = await asyncio.to_thread(source.read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {source}: {exc}", 1
    steps: tuple[str, ...] = ()
    if digits is not None or say is not None:
        flow = None
        with contextlib.suppress(FlowError):
            flow = load_flow_file(source)
        if flow is not None:
            report = await _simulated(settings, flow, digits=digits or "", say=say, lang=lang,
                                      at=at, caller=caller, clock=clock)
            if isinstance(report, str):
                return report, 2
            steps = report.path
    try:
        drawing = await asyncio.to_thread(draw_text, settings, text, str(source), steps)
    except FlowError as exc:
        return "\n".join(f"{p.file}:{p.line}: {p.message}" for p in exc.problems), 1
    await asyncio.to_thread(Path(output).write_text, drawing.svg, encoding="utf-8")
    lines = [f"{p.file}:{p.line}: node {p.node or '-'}: {p.message}" for p in drawing.problems]
    summary = (f"{output}: {len(drawing.lines)} nodes"
               + (f", path {' > '.join(steps)}" if steps else "")
               + (f", {len(drawing.problems)} problem(s) marked" if drawing.problems else ""))
    return "\n".join([*lines, summary]), 0


def cli_actor() -> str:
    """Who a command-line action is recorded as in the audit log: ``cli:<unix user>``."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        name = f"uid{os.getuid()}"
    return f"cli:{name}"


async def audit_cli(
    store: Store, action: str, target: str, detail: Mapping[str, object],
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """An admin-level command that changed something, in the audit log like the web's."""
    await store.audit.record(cli_actor(), action, target, detail, clock.now())


async def record_operators_import(settings: Settings, target: Path, count: int) -> None:
    """``ivr operators import`` wrote operators.yaml: the audit entry (the file is written
    first: the roster is the admin's, the audit its trace)."""
    async with opened_store(settings.database_url, settings.state_dir) as store:
        await audit_cli(store, "operators.import", target.name, {"operators": count,
                                                                 "path": str(target)})


async def flow_versions(settings: Settings) -> tuple[str, int]:
    flow = load_flow_file(settings.flow_path)
    async with opened_store(settings.database_url, settings.state_dir) as store:
        versions = await store.flow_versions.of(flow.name)
    if not versions:
        return "no published versions yet (the application publishes at start-up)", 0
    return "\n".join(
        f"#{v.id}\t{v.version}\t{v.published_at}\t{v.published_by}\t{v.note}" for v in versions
    ), 0


async def flow_rollback(settings: Settings) -> tuple[str, int]:
    async with opened_store(settings.database_url, settings.state_dir) as store:
        try:
            version = await rollback(settings, store.flow_versions, cli_actor())
        except FlowRejected as exc:
            return f"the previous version no longer validates:\n{exc}", 1
        await audit_cli(store, "flow.rollback", version.flow, {
            "to_version_id": version.id, "version": version.version, "note": version.note})
    return (f"rolled back: {settings.flow_path} is version {version.version} again "
            f"(recorded as #{version.id}); new calls use it within "
            f"{settings.flow_reload_interval:g} s"), 0


async def case_add(
    settings: Settings, *, caller: str, category: str, description: str, status: str,
    clock: Clock = SYSTEM_CLOCK,
) -> tuple[str, int]:
    async with opened_store(settings.database_url, settings.state_dir) as store:
        now = clock.now(ZoneInfo(settings.timezone))
        proposed = settings.department_for(category)
        department = proposed.id if proposed is not None and status != "new" else ""
        who = getpass.getuser()
        case = await store.cases.create(
            caller=caller, category=category, department=department,
            description=description, now=now, actor=who,
        )
        if status != "new":
            await store.cases.set_status(case.number, status, now, actor=who)
    return f"case {case.number} ({category}, {status}) for {caller}", 0


async def case_show(settings: Settings, number: str) -> tuple[str, int]:
    async with opened_store(settings.database_url, settings.state_dir) as store:
        case = await store.cases.get(number)
    if case is None:
        return f"no case {number}", 1
    return (f"{case.number}\t{case.status}\t{case.category}\t{case.department}\t"
            f"caller {case.caller}\tsatisfaction {case.satisfaction}"), 0
