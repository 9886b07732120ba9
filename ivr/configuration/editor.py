"""Edits of ``config/`` from the admin pages: checked against the whole configuration and the
live flow before anything is written, then applied to new calls and logins.

Operators' levels and skills take effect at once (queue penalties resynced); a new skill or
operator also needs its queue or SIP endpoint in Asterisk: ``ivr sandbox up`` (or ``ivr
asterisk render`` for an existing Asterisk) renders and reloads them. Calls in progress go on
as they were.

``routing`` is not a file of its own but the ``[routing]`` table of ``ivr.toml`` (the routing
policy): read and edited alone, put back in its place in the file with the rest unchanged,
checked with the whole configuration like any edit. New calls are planned with it at once;
Asterisk's part of it (``queuerules.conf``'s widening, ``queues.conf``'s place updates) is
rendered by ``ivr sandbox up`` / ``ivr asterisk render``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final

import structlog

from ivr import settings as settings_loader
from ivr.core.settings import Settings
from ivr.edges.files import replace_text
from ivr.errors import ConfigError, ConfigRejected
from ivr.flows.library import FlowLibrary, check_text, digest_of
from ivr.speech.intents_file import load_intents

log = structlog.get_logger("ivr.configuration")

CONFIG_FILES: Final = {
    "skills": "skills.yaml",
    "operators": "operators.yaml",
    "schedules": "schedules.yaml",
    "departments": "departments.yaml",
    "deadlines": "deadlines.yaml",
    "intents": "intents.yaml",
    "routing": "ivr.toml",
}
"""The files the admin pages edit, by the name the API uses."""

TABLES: Final = {"routing": "routing"}
"""Names that edit one TOML table of their file (``CONFIG_FILES``), not the whole file."""

_TABLE_HEADER = re.compile(r"^\[{1,2}\s*([A-Za-z0-9_.-]+)\s*\]{1,2}\s*(#.*)?$")


def table_span(text: str, table: str) -> tuple[int, int] | None:
    """The lines ``[start, end)`` of ``[table]`` in TOML ``text``, header included, up to the
    next table header (None: no such table)."""
    lines = text.splitlines(keepends=True)
    start = None
    for i, line in enumerate(lines):
        header = _TABLE_HEADER.match(line.strip())
        if header is None:
            continue
        if start is not None:
            return start, i
        if header.group(1) == table and line.lstrip().startswith("[") \
                and not line.lstrip().startswith("[["):
            start = i
    return None if start is None else (start, len(lines))


def table_text(text: str, table: str) -> str:
    span = table_span(text, table)
    if span is None:
        return f"[{table}]\n"
    lines = text.splitlines(keepends=True)
    return "".join(lines[span[0]:span[1]]).rstrip("\n") + "\n"


def with_table(text: str, table: str, section: str) -> str:
    """``text`` with its ``[table]`` replaced by ``section`` (appended if it had none)."""
    lines = text.splitlines(keepends=True)
    span = table_span(text, table)
    body = section.rstrip("\n") + "\n\n"
    if span is None:
        return text.rstrip("\n") + "\n\n" + body
    return "".join(lines[:span[0]]) + body + "".join(lines[span[1]:])


def table_problems(table: str, section: str) -> list[dict[str, str]]:
    """An edit of one table must be that table alone: its header first, no other table."""
    headers = [m.group(1) for line in section.splitlines()
               if (m := _TABLE_HEADER.match(line.strip()))]
    if headers != [table]:
        return [{"file": "ivr.toml", "key": table,
                 "message": f"the text must be the [{table}] table alone, starting with "
                            f"[{table}] (found tables: {', '.join(headers) or 'none'})"}]
    return []

OnReload = Callable[[Settings], Awaitable[None] | None]


class ConfigEditor:
    """The live settings (``current``) and the edits of the files they come from.

    ``on_reload`` are called in order with every fresh ``Settings`` (awaited when they return
    an awaitable): the parts of the application that read settings.
    """

    def __init__(
        self, settings: Settings, config_dir: Path, flows: FlowLibrary,
        on_reload: Sequence[OnReload] = (),
    ) -> None:
        self.current = settings
        self.config_dir = config_dir
        self._flows = flows
        self._on_reload = list(on_reload)

    def path(self, name: str) -> Path:
        """The file behind ``name`` (one of ``CONFIG_FILES``)."""
        if name == "intents":
            return self.current.speech.intents
        return self.config_dir / CONFIG_FILES[name]

    async def read(self, name: str) -> str:
        text: str = await asyncio.to_thread(self.path(name).read_text, encoding="utf-8")
        return table_text(text, TABLES[name]) if name in TABLES else text

    async def replace(self, name: str, text: str) -> tuple[str, str]:
        """Write ``text`` as ``name``'s file if the whole configuration (and the live flow)
        stays valid with it; ``ConfigRejected`` listing every problem if not, and nothing
        changes. Returns the digests of the file before and after."""
        flow_text = await self._flows.live_text()
        path = self.path(name)
        before = await asyncio.to_thread(path.read_text, encoding="utf-8")
        whole = text
        if name in TABLES:
            if problems := table_problems(TABLES[name], text):
                raise ConfigRejected(problems)
            whole = with_table(before, TABLES[name], text)
        problems = await asyncio.to_thread(check_config, self.current, self.config_dir, name,
                                           whole, flow_text)
        if problems:
            raise ConfigRejected(problems)
        await asyncio.to_thread(replace_text, path, whole)
        if name in TABLES:
            return (digest_of(table_text(before, TABLES[name])),
                    digest_of(table_text(whole, TABLES[name])))
        return digest_of(before), digest_of(whole)

    async def reload(self) -> Settings:
        """Apply the files as they are now to new calls and logins (calls in progress go on)."""
        fresh = await asyncio.to_thread(settings_loader.load, self.config_dir,
                                        project_dir=self.current.project_dir)
        # Paths that were overridden for this process (tests, several nodes) stay as they are.
        live = self.current
        fresh = dataclasses.replace(fresh, database_url=live.database_url,
                                    state_dir=live.state_dir, prompts_dir=live.prompts_dir,
                                    flow_path=live.flow_path,
                                    asterisk_sounds=live.asterisk_sounds)
        self.current = fresh
        for part in self._on_reload:
            done = part(fresh)
            if inspect.isawaitable(done):
                await done
        log.info("settings_reloaded", skills=len(fresh.skills), operators=len(fresh.operators))
        return fresh


def check_config(live: Settings, directory: Path, name: str, text: str,
                 flow_text: str) -> list[dict[str, str]]:
    """Every problem the whole configuration would have with ``text`` as ``name``'s file.

    Blocking (file copies, YAML): run in a thread. Nothing under ``directory`` changes.
    """
    problems: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="ivr-config-") as tmp:
        candidate_dir = Path(tmp) / "config"
        shutil.copytree(directory, candidate_dir)
        intents = (candidate_dir / CONFIG_FILES["intents"] if name == "intents"
                   else live.speech.intents)
        target = intents if name == "intents" else candidate_dir / CONFIG_FILES[name]
        target.write_text(text, encoding="utf-8")

        def add(file: str, key: str, message: str) -> None:
            # Problems name the file as the admin knows it, not the temporary copy.
            shown = Path(file).name if file.startswith(tmp) else file
            problems.append({"file": shown, "key": key, "message": message})

        try:
            candidate = settings_loader.load(candidate_dir, project_dir=live.project_dir)
        except ConfigError as exc:
            for p in exc.problems:
                add(p.file, p.key, p.reason)
            return problems
        try:
            load_intents(intents, candidate.skills)
        except ConfigError as exc:
            for p in exc.problems:
                add(p.file, p.key, p.reason)
        # The live flow must still validate against the new skills and schedules.
        _, flow_problems = check_text(candidate, flow_text, str(live.flow_path))
        problems.extend(
            {"file": live.flow_path.name, "key": f"line {fp.line}",
             "message": f"{fp.node + ': ' if fp.node else ''}{fp.message}"}
            for fp in flow_problems)
    return problems
