"""Edits of ``config/`` from the admin pages: checked against the whole configuration and the
live flow before anything is written, then applied to new calls and logins.

Operators' levels and skills take effect at once (queue penalties resynced); a new skill or
operator also needs its queue or SIP endpoint in Asterisk: ``ivr sandbox up`` (or ``ivr
asterisk render`` for an existing Asterisk) renders and reloads them. Calls in progress go on
as they were.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
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
}
"""The files the admin pages edit, by the name the API uses."""

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
        return text

    async def replace(self, name: str, text: str) -> tuple[str, str]:
        """Write ``text`` as ``name``'s file if the whole configuration (and the live flow)
        stays valid with it; ``ConfigRejected`` listing every problem if not, and nothing
        changes. Returns the digests of the file before and after."""
        flow_text = await self._flows.live_text()
        problems = await asyncio.to_thread(check_config, self.current, self.config_dir, name,
                                           text, flow_text)
        if problems:
            raise ConfigRejected(problems)
        path = self.path(name)
        before = await asyncio.to_thread(path.read_text, encoding="utf-8")
        await asyncio.to_thread(replace_text, path, text)
        return digest_of(before), digest_of(text)

    async def reload(self) -> Settings:
        """Apply the files as they are now to new calls and logins (calls in progress go on)."""
        fresh = await asyncio.to_thread(settings_loader.load, self.config_dir,
                                        project_dir=self.current.project_dir)
        # Paths that were overridden for this process (tests, several nodes) stay as they are.
        live = self.current
        fresh = dataclasses.replace(fresh, database_url=live.database_url,
                                    state_dir=live.state_dir, prompts_dir=live.prompts_dir,
                                    flow_path=live.flow_path,
                                    asterisk_sounds=live.asterisk_sounds,
                                    asterisk_queue_log=live.asterisk_queue_log)
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
