"""The ``ivr`` command: one entry point, subcommands per job."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Awaitable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import structlog

from ivr import logs, settings
from ivr.core.cases import CaseStatus
from ivr.core.records import Role
from ivr.core.settings import Settings
from ivr.errors import ConfigError, IvrError

if TYPE_CHECKING:
    from ivr.workers import Command

log = structlog.get_logger("ivr.cli")
T = TypeVar("T")
# Longest a command waits on the database (a stalled server, a lock) before it gives up.
DATABASE_DEADLINE = 60.0
PASSWORDS_FILE = "initial-passwords.txt"  # in the state directory, mode 0600


@contextlib.contextmanager
def _stage(what: str) -> Iterator[None]:
    """Print what a long set-up step is doing, then how long it took."""
    print(f"==> {what}", flush=True)
    started = time.monotonic()
    yield
    print(f"    done in {time.monotonic() - started:.0f} s", flush=True)


def _bring_up_sandbox(cfg: Settings) -> bool:
    """Prompts built, test bed built and Asterisk running; True if this call started it."""
    from ivr.testbed.sandbox import Sandbox

    box = Sandbox(cfg)
    with _stage("prompts: synthesising new or changed prompts (espeak-ng)"):
        _build_prompts(cfg)
    if not box.built:
        with _stage(f"Asterisk test bed: building it once (about a minute; Debian "
                    f"{cfg.sandbox.suite} from {box.mirror}, log in "
                    f"{cfg.sandbox.cache_dir / 'debootstrap.log'})"):
            box.build()
    was_running = box.running()
    with _stage("Asterisk test bed: " + ("reloading its configuration" if was_running
                                         else "starting Asterisk")):
        box.up()
    return not was_running


def _sandbox(args: argparse.Namespace, cfg: Settings) -> int:
    from ivr.testbed.sandbox import Sandbox

    box = Sandbox(cfg)
    if args.action == "up":
        _bring_up_sandbox(cfg)
        print(f"sandbox up: Asterisk running in {box.root}")
    elif args.action == "down":
        box.down()
        print("sandbox down")
    else:
        st = box.status()
        print(f"root: {st.root}\nbuilt: {st.built}\nrunning: {st.running}\n{st.detail}")
        return 0 if st.running else 3
    return 0


def _build_prompts(cfg: Settings) -> None:
    from ivr.tools.prompts import build

    report = build(cfg.prompts_dir, cfg.languages)
    log.info("prompts_built", built=len(report.built), unchanged=report.unchanged)
    print(f"    {len(report.built)} prompts built, {report.unchanged} unchanged", flush=True)


def _bounded(work: Awaitable[T], what: str, deadline: float = DATABASE_DEADLINE) -> T:
    """Run ``work`` to its end or until ``deadline``: a command never waits forever on the
    database. Past the deadline the command says so and exits 1 at once (a query stuck in a
    driver thread cannot be cancelled, and would otherwise hold the process at exit)."""
    async def bounded() -> T:
        return await asyncio.wait_for(work, deadline)

    try:
        return asyncio.run(bounded())
    except TimeoutError:
        print(f"ivr: {what} did not finish within {deadline:g} s: is the database "
              f"reachable and answering? (see [database] url)", file=sys.stderr, flush=True)
        os._exit(1)


def _prompts(_args: argparse.Namespace, cfg: Settings) -> int:
    from ivr.tools.prompts import build

    report = build(cfg.prompts_dir, cfg.languages)
    for name in report.built:
        print(f"built {name}")
    print(f"{len(report.built)} prompts built, {report.unchanged} unchanged")
    return 0


async def _first_accounts(cfg: Settings, *, operators: bool) -> list[tuple[str, str]]:
    """The web accounts a fresh set-up needs, with generated passwords (shown once): the
    first admin, and with ``operators`` one account per configured operator (the demo)."""
    from ivr.accounts.service import create_account, ensure_first_admin
    from ivr.edges.storage.store import opened_store

    async with opened_store(cfg.database_url, cfg.state_dir) as store:
        created = []
        password = await ensure_first_admin(store.users)
        if password is not None:
            created.append(("admin", password))
        if operators:
            for op_id in cfg.operators:
                if await store.users.get(op_id) is None:
                    _, password = await create_account(store.users, op_id, "operator",
                                                       operator_id=op_id)
                    created.append((op_id, password))
        return created


def _hand_over_accounts(
    created: list[tuple[str, str]], cfg: Settings, *, show: bool = False
) -> None:
    """New accounts' passwords go to a file only the service user can read (never to a log
    or a journal); ``show`` also prints them (``ivr run``, the demo on a terminal)."""
    if not created:
        return
    path = cfg.state_dir / PASSWORDS_FILE
    cfg.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(f"# {datetime.now(UTC).isoformat(timespec='seconds')}: log in at "
                  f"http://{cfg.web_host}:{cfg.web_port}/login\n")
        out.writelines(f"{name} {password}\n" for name, password in created)
    names = ", ".join(name for name, _ in created)
    print(f"Web accounts created ({names}); their passwords are in {path} (readable only by "
          f"this user: delete it once read; `ivr users passwd NAME` makes a new one).")
    if show:
        print(f"  log in at http://{cfg.web_host}:{cfg.web_port}/login :")
        for name, password in created:
            print(f"  {name:10} {password}")


def _first_start(cfg: Settings, *, operators: bool, show: bool = False) -> None:
    """What `ivr serve` and `ivr run` do to the state directory before serving: the database
    (made and tightened by the store), the first web accounts and their passwords' file (the
    secrets file was made by ``settings.load``), and the pending writes' spill files handed
    to a process that replays them."""
    from ivr.workers import adopt_spill_files

    what = "creating the web accounts" if operators else "creating the first web account"
    _hand_over_accounts(_bounded(_first_accounts(cfg, operators=operators), what), cfg,
                        show=show)
    # Pending writes no process of this configuration would replay go to one that will.
    adopt_spill_files(cfg.state_dir, cfg.agi.workers)


def _with_sounds(cfg: Settings) -> Settings:
    """Bulletin audio goes to the configured sounds directory, else to the test bed's; the
    queue_log read is the configured one, else the test bed's."""
    if (cfg.asterisk_sounds is not None and cfg.asterisk_queue_log is not None
            and cfg.recordings.directory is not None):
        return cfg
    from ivr.testbed.sandbox import Sandbox

    box = Sandbox(cfg)
    return dataclasses.replace(
        cfg, asterisk_sounds=cfg.asterisk_sounds or box.sounds_dir(),
        asterisk_queue_log=cfg.asterisk_queue_log or box.queue_log,
        recordings=dataclasses.replace(
            cfg.recordings, directory=cfg.recordings.directory or box.recordings_dir))


def _serve(args: argparse.Namespace, cfg: Settings) -> int:
    from ivr.app import serve, supervise
    from ivr.workers import for_worker, serve_command, worker_index

    cfg = _with_sounds(cfg)
    index = worker_index(cfg.agi.workers)
    if index is not None:  # one of the worker processes started below
        asyncio.run(serve(for_worker(cfg, index), worker=index))
        return 0
    _first_start(cfg, operators=False)
    if cfg.agi.workers > 1:
        asyncio.run(supervise(cfg, serve_command(args.config, args.log_level)))
    else:
        asyncio.run(serve(cfg))
    return 0


def _call(args: argparse.Namespace, cfg: Settings) -> int:
    from ivr.testbed.testcall import place_call

    report = asyncio.run(
        place_call(cfg, args.digits, caller=args.caller, hang_up_after=args.hang_up_after,
                   survey=args.survey or None, answer_timeout=args.timeout)
    )
    print(report.describe())
    return 0 if report.operator or args.hang_up_after is not None else 1


async def _simulate_operators(
    cfg: Settings, talk: float, stop: asyncio.Event | None = None
) -> None:
    from ivr.app import stop_on_signals
    from ivr.testbed.sandbox import Sandbox
    from ivr.testbed.sipp import Phones
    from ivr.testbed.testcall import operator_phones

    phones = operator_phones(cfg, Phones(Sandbox(cfg).root), talk)
    for phone in phones:
        await phone.start()
        print(f"operator {phone.operator} answering on 127.0.0.1:{phone.port}")
    # The simulated operators log in with their skills, as real ones would at their desk,
    # and start available: Asterisk keeps members and their pauses (persistentmembers), so
    # a pause left by an earlier session of the test bed would otherwise hold their calls.
    await _operator_action(cfg, "login", [], "")
    await _operator_action(cfg, "unpause", list(cfg.operators), "")
    try:
        await (stop or stop_on_signals()).wait()
    finally:
        for phone in phones:
            await phone.stop()


async def _operator_action(cfg: Settings, action: str, ids: list[str],
                           reason: str) -> int:
    from ivr.app import operator_desk

    async with operator_desk(cfg) as desk:
        targets = ids or (list(cfg.operators) if action in ("login", "logout") else [])
        if action != "list" and not targets:
            print("name at least one operator", file=sys.stderr)
            return 2
        for op_id in targets:
            if action == "login":
                skills = await desk.login(op_id)
                print(f"{op_id} logged in: {', '.join(skills)}")
            elif action == "logout":
                await desk.logout(op_id)
                print(f"{op_id} logged out")
            elif action == "pause":
                await desk.pause(op_id, reason)
                print(f"{op_id} paused: {reason}")
            elif action == "unpause":
                await desk.unpause(op_id)
                print(f"{op_id} available")
        if action == "list":
            for presence in (await desk.presence()).values():
                op = presence.operator
                levels = ", ".join(f"{s}:{lvl}" for s, lvl in op.skills.items())
                print(f"{op.id}\t{op.name}\t{presence.state}\t{'/'.join(op.languages)}\t"
                      f"{levels}")
    return 0


def _roster(args: argparse.Namespace, cfg: Settings) -> int:
    from ivr.operators.roster import generate_roster, import_roster

    if args.action == "generate":
        try:
            sys.stdout.write(generate_roster(cfg, args.count, phones=args.phones,
                                             first_port=args.first_port, seed=args.seed))
        except ValueError as exc:
            print(f"ivr operators generate: {exc}", file=sys.stderr)
            return 2
        return 0
    if len(args.ids) != 1:
        print("ivr operators import: name one roster file (CSV)", file=sys.stderr)
        return 2
    path = Path(args.ids[0])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"ivr operators import: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    config_dir = Path(args.config or os.environ.get("IVR_CONFIG_DIR")
                      or cfg.project_dir / "config")
    report = import_roster(cfg, config_dir, text, contact_template=args.contact,
                           dry_run=args.dry_run)
    if report.problems:
        for problem in report.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        print(f"{len(report.problems)} problem(s); operators.yaml not changed",
              file=sys.stderr)
        return 1
    target = config_dir / "operators.yaml"
    if args.dry_run:
        print(f"{report.operators} operators: the roster is valid ({target} not changed)")
    else:
        from ivr.tools.admin import record_operators_import

        try:
            _bounded(record_operators_import(cfg, target, report.operators),
                     "ivr operators import (audit log)")
        except IvrError as exc:
            print(f"{report.operators} operators imported into {target}, but the audit log "
                  f"could not record it: {exc}", file=sys.stderr)
            return 1
        print(f"{report.operators} operators imported into {target}; `ivr sandbox up` (or "
              "`ivr asterisk render`) gives them their SIP endpoints and queues, a running "
              "`ivr serve` takes them at its next start or configuration save")
    return 0


def _operators(args: argparse.Namespace, cfg: Settings) -> int:
    if args.action in ("import", "generate"):
        return _roster(args, cfg)
    if args.action == "simulate":
        asyncio.run(_simulate_operators(cfg, args.talk))
        return 0
    count = len(args.ids) or len(cfg.operators)
    return _bounded(_operator_action(cfg, args.action, args.ids, args.reason),
                    f"ivr operators {args.action}", DATABASE_DEADLINE + 5.0 * count)


async def _demo(cfg: Settings, talk: float, command: Command) -> None:
    from ivr.app import serve, stop_on_signals, supervise

    stop = stop_on_signals()
    operators = asyncio.create_task(_simulate_operators(cfg, talk, stop))

    def report(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            print(f"the simulated operators stopped: {task.exception()}", file=sys.stderr,
                  flush=True)

    operators.add_done_callback(report)
    try:
        if cfg.agi.workers > 1:
            await supervise(cfg, command, stop)
        else:
            await serve(cfg, stop)
    finally:
        stop.set()
        await asyncio.gather(operators, return_exceptions=True)


def _run(args: argparse.Namespace, cfg: Settings) -> int:
    from ivr.testbed.sandbox import Sandbox
    from ivr.workers import serve_command

    cfg = _with_sounds(cfg)
    started_sandbox = _bring_up_sandbox(cfg)
    try:
        _first_start(cfg, operators=True, show=True)
        web = f"http://{cfg.web_host}:{cfg.web_port}"
        print(
            f"12345 hotline running: call it with `ivr call --digits 12` (SIP {cfg.sip.host}:"
            f"{cfg.sip.port}, number {cfg.sip.service_number}); operator console "
            f"{web}/console, wallboard {web}/wallboard, admin {web}/admin/flows; health and "
            f"figures at {web}/healthz and /metrics; Ctrl-C stops it.", flush=True,
        )
        asyncio.run(_demo(cfg, args.talk, serve_command(args.config, args.log_level)))
    finally:
        # Ctrl-C stops what this command started; a test bed that was already running is
        # left as it was, and the user is told.
        if started_sandbox:
            print("stopping the Asterisk test bed it started", flush=True)
            Sandbox(cfg).down()
        else:
            print("the Asterisk test bed was running before and is left running: "
                  "`ivr sandbox down` stops it", flush=True)
    return 0


def _flow(args: argparse.Namespace, cfg: Settings) -> int:
    from ivr.tools import admin

    if args.action == "check":
        text, code = admin.flow_check(cfg, args.paths)
    elif args.action == "simulate":
        text, code = _bounded(admin.flow_simulate(
            cfg, args.paths[0] if args.paths else None, digits=args.digits, say=args.say,
            lang=args.lang, at=args.at, caller=args.caller,
        ), "ivr flow simulate")
    elif args.action == "draw":
        text, code = _bounded(admin.flow_draw(
            cfg, args.paths[0] if args.paths else None, args.output, digits=args.digits or None,
            say=args.say, lang=args.lang, at=args.at, caller=args.caller,
        ), "ivr flow draw")
    elif args.action == "versions":
        text, code = _bounded(admin.flow_versions(cfg), "ivr flow versions")
    else:
        text, code = _bounded(admin.flow_rollback(cfg), "ivr flow rollback")
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


def _cases(args: argparse.Namespace, cfg: Settings) -> int:
    from ivr.tools import admin

    if args.action == "add":
        text, code = _bounded(admin.case_add(
            cfg, caller=args.caller, category=args.category, description=args.description,
            status=args.status,
        ), "ivr cases add")
    else:
        text, code = _bounded(admin.case_show(cfg, args.number), "ivr cases show")
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


def _models(args: argparse.Namespace, cfg: Settings) -> int:
    from ivr.app import speech_models

    problems = speech_models(cfg, enabled_only=False).check()
    missing = 0
    for lang, value in cfg.speech.models.items():
        enabled = "enabled" if lang in cfg.languages else "not enabled"
        problem = problems.get(lang)
        state = "ok" if problem is None else f"MISSING: {problem}"
        print(f"{lang}\t{enabled}\t{value}\t{state}")
        missing += problem is not None and lang in cfg.languages
    for lang in cfg.languages:
        if lang not in cfg.speech.models:
            print(f"{lang}\tenabled\t-\tno model configured: callers use keys")
    if args.action == "check" and missing:
        print(f"{missing} enabled language(s) without a model: their callers use keys",
              file=sys.stderr)
        return 1
    return 0


def _bench(args: argparse.Namespace, cfg: Settings) -> int:
    """Benchmarks live in benchmarks/ (plain scripts, figures printed side by side)."""
    import runpy

    script = cfg.project_dir / "benchmarks" / f"bench_{args.what}.py"
    if not script.exists():
        print(f"no benchmark {script}", file=sys.stderr)
        return 2
    sys.argv = [str(script), *(["--json"] if args.json else []), *args.extra]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0


def _asterisk(args: argparse.Namespace, cfg: Settings) -> int:
    from ivr.core.asterisk_render import INCLUDED_IN, SECRET_FILES, include_line, include_name
    from ivr.edges.files import write_private
    from ivr.tools.asterisk_files import asterisk_files, asterisk_includes

    target = Path(args.directory)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = (asterisk_includes if args.include else asterisk_files)(cfg, cfg.ami.secret)
    secret = SECRET_FILES | {include_name(name) for name in SECRET_FILES}
    for name, text in files.items():
        # The files holding a secret are 0600 from the moment they exist, whatever the umask.
        mode = 0o600 if name in secret else 0o644
        write_private(target / name, text, mode=mode)
        print(f"wrote {target / name}" + (" (mode 0600: it holds a secret)" if mode == 0o600
                                           else ""))
    if args.include:
        print("Add one line at the end of each of your own files (nothing else of yours is "
              "changed; reload Asterisk after):")
        for name in INCLUDED_IN:
            print(f"  {name}: {include_line(name)}")
    return 0


def _users(args: argparse.Namespace, cfg: Settings) -> int:
    text, code = _bounded(_users_action(args, cfg), f"ivr users {args.action}")
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


async def _users_action(args: argparse.Namespace, cfg: Settings) -> tuple[str, int]:
    from ivr.accounts import service as accounts
    from ivr.edges.storage.store import opened_store
    from ivr.tools.admin import audit_cli

    async with opened_store(cfg.database_url, cfg.state_dir) as store:
        if args.action == "list":
            users = await store.users.all()
            return "\n".join(
                f"{u.username}\t{u.role}\t{u.operator_id or u.department or '-'}\t"
                f"{'disabled' if u.disabled else 'enabled'}\t{u.created_at}" for u in users
            ) or "no users yet", 0
        if not args.name:
            return f"ivr users {args.action}: name the user", 2
        if args.action == "add":
            if args.operator and args.operator not in cfg.operators:
                return f"no operator {args.operator!r} in operators.yaml", 2
            if args.department and args.department not in cfg.departments:
                return f"no department {args.department!r} in departments.yaml", 2
            user, password = await accounts.create_account(
                store.users, args.name, args.role, operator_id=args.operator,
                department=args.department)
            linked = (f", {user.operator_id}" if user.operator_id else
                      f", {user.department}" if user.department else "")
            who = f"{user.username} ({user.role}{linked})"
            await audit_cli(store, "user.create", user.username, {
                "role": user.role, "operator_id": user.operator_id,
                "department": user.department})
        else:
            password = await accounts.reset_password(store.users, args.name)
            who = args.name
            await audit_cli(store, "user.update", args.name, {"password_reset": True})
    # Shown once: only its hash is stored.
    return f"{who}: password {password}", 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr", description="12345 citizen hotline")
    parser.add_argument("--config", help="config directory (default: config/ or $IVR_CONFIG_DIR)")
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the application (FastAGI, AMI) in the foreground")
    p.set_defaults(run=_serve)

    p = sub.add_parser("run", help="sandbox + application + simulated operators, all in one")
    p.add_argument("--talk", type=float, default=3.0, help="seconds each simulated operator talks")
    p.set_defaults(run=_run)

    p = sub.add_parser("sandbox", help="the Asterisk test bed")
    p.add_argument("action", choices=["up", "down", "status"])
    p.set_defaults(run=_sandbox)

    p = sub.add_parser("call", help="place a test call into the sandbox and say where it went")
    p.add_argument("--digits", default="",
                   help="keys, one per menu: e.g. 12 = Mandarin, then inquiry")
    p.add_argument("--caller", help="caller number (digits; random by default)")
    p.add_argument("--hang-up-after", type=float, help="hang up this many seconds after pressing")
    p.add_argument("--survey", default="5", help="score (1-5) to give after the call; '' none")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for an operator once the call is in a queue (60)")
    p.set_defaults(run=_call)

    p = sub.add_parser(
        "operators", help="operators: list (with states), login, logout, pause, unpause, "
        "simulate their phones, import a roster (CSV), generate one")
    p.add_argument("action",
                   choices=["list", "login", "logout", "pause", "unpause", "simulate",
                            "import", "generate"])
    p.add_argument("ids", nargs="*", help="operator ids (login/logout: all when none given); "
                   "import: the roster file")
    p.add_argument("--contact", help="import: contact of rows without one, e.g. "
                   "'sip:{id}@10.0.0.5:5060'")
    p.add_argument("--dry-run", action="store_true", help="import: check only, write nothing")
    p.add_argument("--count", type=int, default=1700, help="generate: operators (1700)")
    p.add_argument("--phones", type=int, default=20,
                   help="generate: answering SIPp phones the contacts are spread over (20)")
    p.add_argument("--first-port", type=int, default=6000, help="generate: first phone's port")
    p.add_argument("--seed", type=int, default=12345, help="generate: the same seed, the same "
                   "roster")
    p.add_argument("--reason", default="break", help="pause reason (break, training, ...)")
    p.add_argument("--talk", type=float, default=3.0)
    p.set_defaults(run=_operators)

    p = sub.add_parser("prompts", help="build prompt audio from prompts/catalog.yaml")
    p.add_argument("action", choices=["build"])
    p.set_defaults(run=_prompts)

    p = sub.add_parser("flow", help="IVR flows: check, simulate, draw, versions, rollback")
    p.add_argument("action", choices=["check", "simulate", "draw", "versions", "rollback"])
    p.add_argument("-o", "--output", default="flow.svg", help="draw: the SVG file (flow.svg)")
    p.add_argument("paths", nargs="*", help="flow files (default: the live flow)")
    p.add_argument("--digits", default="", help="keys pressed, e.g. 12 or '1,3,4101234562#'")
    p.add_argument("--say", help="what the caller says at the first speech turn")
    p.add_argument("--lang", help="the call's language at arrival (default: languages.default)")
    p.add_argument("--at", help="local date and time of the call, e.g. 2026-12-18T23:00")
    p.add_argument("--caller", default="", help="caller number (looks up known callers, cases)")
    p.set_defaults(run=_flow)

    p = sub.add_parser("cases", help="cases: add one, or show one by number")
    p.add_argument("action", choices=["add", "show"])
    p.add_argument("number", nargs="?", default="")
    p.add_argument("--caller", default="")
    p.add_argument("--category", default="report")
    p.add_argument("--description", default="")
    p.add_argument("--status", default="new",
                   choices=[status.value for status in CaseStatus])
    p.set_defaults(run=_cases)

    p = sub.add_parser("models", help="speech models per language: list, or check they load")
    p.add_argument("action", choices=["list", "check"])
    p.set_defaults(run=_models)

    p = sub.add_parser("bench", help="benchmarks: routing, figures, speech, intents, agi, "
                       "parsing, load, cases, records, config, scale, history (figures "
                       "printed); the script's own options go after --, e.g. "
                       "ivr bench load --json -- --rates 2,10 --seconds 15")
    p.add_argument("what", choices=["routing", "figures", "speech", "intents", "agi", "parsing",
                                    "load", "cases", "records", "config", "scale", "history"])
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(run=_bench, extra=[])

    p = sub.add_parser("asterisk", help="render Asterisk configuration for an existing Asterisk")
    p.add_argument("action", choices=["render"])
    p.add_argument("directory")
    p.add_argument("--include", action="store_true",
                   help="only the hotline's own sections, as ivr-<file>.conf files to #include "
                        "from your own configuration (never modules.conf or your [general])")
    p.set_defaults(run=_asterisk)

    p = sub.add_parser("users", help="web accounts: add (prints a generated password once), "
                       "list, passwd (new generated password)")
    p.add_argument("action", choices=["add", "list", "passwd"])
    p.add_argument("name", nargs="?", default="")
    p.add_argument("--role", choices=[role.value for role in Role], default=Role.OPERATOR.value)
    p.add_argument("--operator", help="operator id (operators.yaml) this account answers as")
    p.add_argument("--department",
                   help="department id (departments.yaml) a department account works for")
    p.set_defaults(run=_users)

    p = sub.add_parser("init", help="write an editable copy of the configuration, flows and "
                       "prompt texts into a directory (then set IVR_HOME to it)")
    p.add_argument("directory")
    p.set_defaults(run=None)

    p = sub.add_parser("speech", help="speech: triage WAV recordings through the live decision "
                       "(transcript, evidence, skill, band, action)")
    p.add_argument("action", choices=["triage"])
    p.add_argument("files", nargs="+", metavar="FILE.wav",
                   help="8 kHz mono WAV, 16-bit or mu-law (other rates are converted)")
    p.add_argument("--lang", default="ko", help="the caller's language (default ko, the "
                   "language with a model here)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(run=_speech)

    p = sub.add_parser("config", help="check the configuration and report every problem; "
                       "`config schema DIR` writes the files' JSON Schemas for editors")
    p.add_argument("action", choices=["check", "schema"])
    p.add_argument("directory", nargs="?", default="config/schema",
                   help="where `schema` writes <file>.schema.json (default config/schema)")
    p.set_defaults(run=lambda _a, cfg: _config_ok(cfg))
    return parser


def _init(directory: str) -> int:
    """Copy the hotline's home (config, flows, prompt texts) into ``directory`` to edit."""
    import shutil

    target = Path(directory).resolve()
    there = [part for part in settings.HOME_PARTS if (target / part).exists()]
    if there:
        print(f"ivr init: {target} already has {', '.join(there)}; nothing written",
              file=sys.stderr)
        return 1
    source = settings.find_project_dir()
    for part in settings.HOME_PARTS:
        shutil.copytree(source / part, target / part,
                        ignore=shutil.ignore_patterns("audio", "__pycache__"))
    print(f"hotline home written to {target} (from {source}): edit config/ and dialplans/, "
          f"then run with IVR_HOME={target} (e.g. `IVR_HOME={target} ivr config check`)")
    return 0


def _speech(args: argparse.Namespace, cfg: Settings) -> int:
    """``ivr speech triage``: recordings through the live speech decision."""
    import json

    from ivr.speech.offline import Unreadable, describe, triage_files

    async def run() -> int:
        failed = 0
        async for result in triage_files(cfg, [Path(f) for f in args.files], args.lang):
            if isinstance(result, Unreadable):
                failed += 1
                if args.json:
                    print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)
                print(f"ivr speech triage: {result.file}: {result.error}", file=sys.stderr)
                continue
            line = (json.dumps(result.to_dict(), ensure_ascii=False) if args.json
                    else describe(result))
            print(line, flush=True)
        return 1 if failed else 0

    return asyncio.run(run())


def _config_schema(directory: Path) -> int:
    """Write each configuration file's JSON Schema (``ivr.configuration.shapes``)."""
    from ivr.configuration import shapes

    for path in shapes.write_schemas(directory):
        print(f"wrote {path}")
    return 0


def _config_ok(cfg: Settings) -> int:
    print(f"config ok: {len(cfg.skills)} skills, {len(cfg.operators)} operators")
    r = cfg.routing
    print(f"routing: priority from the flow's route node; emergency {r.emergency_priority}, "
          f"elderly +{r.elderly_bonus}, repeat caller +{r.repeat_caller_bonus} "
          f"(below {r.emergency_priority}); previous operator alone "
          f"{r.previous_operator_seconds} s; callback offered every "
          f"{cfg.callbacks.offer_every} s; place in line "
          + (f"told every {r.position_every} s" if r.position_every else "told once"))
    print(f"routing: widening {r.describe(cfg.default_language)}")
    return 0


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line; everything after ``--`` belongs to a benchmark script, whatever the
    order of the options before it (``ivr bench load --json -- --rates 2,10``)."""
    argv = list(argv)
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    parser = build_parser()
    args = parser.parse_args(argv)
    if extra and args.command != "bench":
        parser.error(f"options after -- are only for `ivr bench`: {' '.join(extra)}")
    args.extra = extra
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logs.configure(args.log_level)
    if args.command == "init":  # before any configuration exists
        return _init(args.directory)
    if args.command == "config" and args.action == "schema":  # the shapes, not a config
        return _config_schema(Path(args.directory))
    try:
        cfg = settings.load(Path(args.config) if args.config else None)
    except ConfigError as exc:
        print(f"invalid configuration ({len(exc.problems)} problems):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    try:
        code: int = args.run(args, cfg)
    except IvrError as exc:
        print(f"ivr {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
