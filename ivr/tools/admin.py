"""What admins do from the command line: check, simulate, version and roll back flows; cases.

Each function returns what to print and an exit code; the CLI only parses arguments.
"""

from __future__ import annotations

import getpass
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.calls.agi_driver import CASE_STATUS_READBACK
from ivr.core.flow import ArrivalFacts, format_report, simulate
from ivr.core.settings import Settings
from ivr.edges.storage.store import Store, open_store
from ivr.errors import FlowError, FlowRejected
from ivr.flows.files import check_paths, load_flow_file
from ivr.flows.library import rollback

_CASE_NUMBER = re.compile(r"\d{10}")


def flow_check(settings: Settings, paths: list[str]) -> tuple[str, int]:
    problems = check_paths(
        paths or [str(settings.flow_path)], settings.prompts_dir / "catalog.yaml",
        set(settings.skills), settings.schedules.names, settings.languages,
    )
    if not problems:
        return f"{len(paths) or 1} flow(s) ok", 0
    lines = [f"{p.file}:{p.line}: node {p.node or '-'}: {p.message} [{p.kind}]"
             for p in problems]
    return "\n".join([*lines, f"{len(problems)} problem(s)"]), 1


def _store(settings: Settings) -> Store:
    return open_store(settings.database_url, settings.state_dir)


async def flow_simulate(
    settings: Settings, path: str | None, *, digits: str, say: str | None, lang: str | None,
    at: str | None, caller: str,
) -> tuple[str, int]:
    try:
        flow = load_flow_file(path or settings.flow_path)
    except FlowError as exc:
        return "\n".join(f"{p.file}:{p.line}: {p.message}" for p in exc.problems), 1
    zone = ZoneInfo(settings.timezone)
    try:
        now = datetime.fromisoformat(at).replace(tzinfo=zone) if at else datetime.now(zone)
    except ValueError:
        return f"--at: not an ISO date and time: {at!r}", 2
    store = _store(settings)
    open_cases, known, lookup = 0, False, {}
    # A simulation never creates an SQLite file; PostgreSQL is always there to ask.
    if store.path is None or store.path.exists():
        await store.open()
        try:
            cases = await store.cases.of_caller(caller) if caller else []
            known = bool(cases) or bool(caller and await store.calls.by_caller(caller))
            open_cases = sum(1 for c in cases if c.status in ("new", "dispatched", "in_progress"))
            for number in _CASE_NUMBER.findall(digits):
                case = await store.cases.get(number)
                if case is not None:
                    lookup[number] = CASE_STATUS_READBACK.get(case.status, "unknown")
        finally:
            await store.close()
    facts = ArrivalFacts(
        caller=caller, language=lang or settings.default_language, now=now,
        caller_known=known, open_cases=open_cases,
        open_schedules=settings.schedules.open_at(now),
        holidays_today=settings.schedules.holidays_on(now.date()),
        # Live calls have speech only where a recogniser runs; --say simulates one.
        speech_available=say is not None,
    )
    report = simulate(flow, facts, digits, say, lookup)
    return format_report(report), 0


async def flow_versions(settings: Settings) -> tuple[str, int]:
    flow = load_flow_file(settings.flow_path)
    store = _store(settings)
    await store.open()
    try:
        versions = await store.flow_versions.of(flow.name)
    finally:
        await store.close()
    if not versions:
        return "no published versions yet (the application publishes at start-up)", 0
    return "\n".join(
        f"#{v.id}\t{v.version}\t{v.published_at}\t{v.published_by}\t{v.note}" for v in versions
    ), 0


async def flow_rollback(settings: Settings) -> tuple[str, int]:
    store = _store(settings)
    await store.open()
    try:
        version = await rollback(settings, store, getpass.getuser())
    except FlowRejected as exc:
        return f"the previous version no longer validates:\n{exc}", 1
    finally:
        await store.close()
    return (f"rolled back: {settings.flow_path} is version {version.version} again "
            f"(recorded as #{version.id}); new calls use it within "
            f"{settings.flow_reload_interval:g} s"), 0


async def case_add(
    settings: Settings, *, caller: str, category: str, description: str, status: str
) -> tuple[str, int]:
    store = _store(settings)
    await store.open()
    try:
        now = datetime.now(ZoneInfo(settings.timezone))
        department = settings.skills[category].department if category in settings.skills else ""
        who = getpass.getuser()
        case = await store.cases.create(
            caller=caller, category=category, department=department,
            description=description, now=now, actor=who,
        )
        if status != "new":
            await store.cases.set_status(case.number, status, now, actor=who)
    finally:
        await store.close()
    return f"case {case.number} ({category}, {status}) for {caller}", 0


async def case_show(settings: Settings, number: str) -> tuple[str, int]:
    store = _store(settings)
    await store.open()
    try:
        case = await store.cases.get(number)
    finally:
        await store.close()
    if case is None:
        return f"no case {number}", 1
    return (f"{case.number}\t{case.status}\t{case.category}\t{case.department}\t"
            f"caller {case.caller}\tsatisfaction {case.satisfaction}"), 0
