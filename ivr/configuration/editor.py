"""Edits of ``config/``, published like flows: checked against the whole configuration and
the live flow before anything is written, versioned in the database every node shares, and
applied to new calls and logins on every node.

Each file the admin pages edit (``CONFIG_FILES``) has its published versions (who, when, why,
the text) in the database, in the same table as flows' versions (``kind = 'config'``). A
publication (a web edit, a rollback, a file edit picked up by ``watch()``) is checked whole,
recorded, written to this node's file, applied (``reload``) and announced on the event bus
(``config`` channel: file name, version id, digest); every other node reads that version,
checks it against its own configuration and flow, writes its own file and applies it for its
next call. A node that missed announcements (bus reconnect) or starts with a file that is an
older published version adopts the newest version. Whatever does not validate is refused with
every problem listed (the web edit), or logged (a file edit, a version from another node), and
nothing of it is applied: the node keeps serving what it had.

Operators' levels and skills take effect at once (queue penalties resynced); a new skill or
operator also needs its queue or SIP endpoint in Asterisk: ``ivr sandbox up`` (or ``ivr
asterisk render`` for an existing Asterisk) renders and reloads them. Calls in progress go on
as they were. ``ivr.toml`` is not shared: it holds each node's own addresses and ports.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

import structlog

from ivr import settings as settings_loader
from ivr.core.records import FlowVersion
from ivr.core.settings import Settings
from ivr.core.versions import digest_of, rollback_target, text_diff
from ivr.edges.bus import EventBus
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.files import replace_text
from ivr.edges.storage.flow_versions import FlowVersions
from ivr.errors import (
    BusError,
    ConfigError,
    ConfigRejected,
    IvrError,
    RecordNotFound,
    StorageError,
)
from ivr.flows.library import FlowLibrary, check_text, file_owner
from ivr.speech.intents_file import load_intents

log = structlog.get_logger("ivr.configuration")
BUS_CHANNEL: Final = "config"

CONFIG_FILES: Final = {
    "skills": "skills.yaml",
    "operators": "operators.yaml",
    "schedules": "schedules.yaml",
    "departments": "departments.yaml",
    "deadlines": "deadlines.yaml",
    "intents": "intents.yaml",
    "routing": "routing.toml",
    "quality": "quality.yaml",
}
"""The files the admin pages edit (and the nodes share), by the name the API uses."""

OnReload = Callable[[Settings], Awaitable[None] | None]


class ConfigEditor:
    """The live settings (``current``), the edits of the files they come from and their
    published versions.

    ``on_reload`` are called in order with every fresh ``Settings`` (awaited when they return
    an awaitable): the parts of the application that read settings.
    """

    def __init__(
        self, settings: Settings, config_dir: Path, flows: FlowLibrary,
        versions: FlowVersions, *, clock: Clock = SYSTEM_CLOCK,
        on_reload: Sequence[OnReload] = (),
    ) -> None:
        self.current = settings
        self.config_dir = config_dir
        self._flows = flows
        self._versions = versions
        self._clock = clock
        self._on_reload = list(on_reload)
        # Each file's published version this node serves, and the file as last seen.
        self._live: dict[str, FlowVersion] = {}
        self._seen: dict[str, tuple[float, int] | None] = {}
        # One publication (web edit, rollback, file edit, adoption) at a time.
        self._publishing = asyncio.Lock()
        self._bus: EventBus | None = None
        self._adopting: set[asyncio.Task[None]] = set()

    def path(self, name: str) -> Path:
        """The file behind ``name`` (one of ``CONFIG_FILES``)."""
        if name == "intents":
            return self.current.speech.intents
        return self.config_dir / CONFIG_FILES[name]

    async def read(self, name: str) -> str:
        text: str = await asyncio.to_thread(self.path(name).read_text, encoding="utf-8")
        return text

    async def read_live(self, name: str) -> tuple[str, FlowVersion | None]:
        """``name``'s file and the version this node serves, read as one (no publication or
        adoption in between: the text and the version id always belong together)."""
        async with self._publishing:
            return await self.read(name), self._live.get(name)

    # -- sharing between nodes ---------------------------------------------------------------

    def share_through(self, bus: EventBus) -> None:
        """Announce this node's publications on ``bus`` and adopt the other nodes' ones."""
        self._bus = bus
        bus.subscribe(BUS_CHANNEL, self._announced)
        bus.on_reconnect(self.sync)

    def _announced(self, payload: dict[str, object]) -> None:
        name, version_id = payload.get("name"), payload.get("version_id")
        if not isinstance(name, str) or name not in CONFIG_FILES \
                or not isinstance(version_id, int) or isinstance(version_id, bool):
            return
        live = self._live.get(name)
        if live is not None and payload.get("digest") == live.digest:
            return
        task = asyncio.ensure_future(self._adopt(name, version_id))
        self._adopting.add(task)
        task.add_done_callback(self._adopting.discard)

    async def _announce(self, name: str, version: FlowVersion) -> None:
        if self._bus is None:
            return
        try:
            await self._bus.publish(BUS_CHANNEL, {"name": name, "version_id": version.id,
                                                  "digest": version.digest})
        except BusError as exc:
            log.warning("config_not_announced", file=CONFIG_FILES[name], version_id=version.id,
                        error=str(exc), hint="the other nodes adopt it when their bus reconnects")

    async def sync(self) -> None:
        """Adopt each file's newest published version this node is not serving (after a bus
        reconnect: announcements may have been missed)."""
        for name in CONFIG_FILES:
            try:
                versions = await self._versions.of(name)
            except StorageError as exc:
                log.warning("config_sync_failed", error=str(exc))
                return
            live = self._live.get(name)
            if versions and (live is None or (versions[-1].digest != live.digest
                                              and versions[-1].id > live.id)):
                await self._adopt(name, versions[-1].id)

    async def _adopt(self, name: str, version_id: int) -> None:
        """Apply version ``version_id`` of ``name`` (published by another node) for the next
        call, if it validates here."""
        async with self._publishing:
            live = self._live.get(name)
            if live is not None and live.id >= version_id:
                return
            try:
                stored = [v for v in await self._versions.of(name) if v.id == version_id]
            except StorageError as exc:
                log.warning("config_version_not_adopted", file=CONFIG_FILES[name],
                            version_id=version_id, error=str(exc))
                return
            if not stored:
                return
            version = stored[0]
            if live is not None and live.digest == version.digest:
                self._live[name] = version
                return
            problems = await self._check({name: version.text})
            if problems:
                log.error("config_version_not_adopted", file=CONFIG_FILES[name],
                          version_id=version_id, problems=[_shown(p) for p in problems],
                          serving=live.id if live else None)
                return
            await self._apply({name: version})
            log.info("config_adopted", file=CONFIG_FILES[name], version_id=version.id,
                     by=version.published_by, note=version.note)

    # -- start-up and file edits -------------------------------------------------------------

    async def load(self) -> None:
        """At start-up: record each file as a version if it is new (a first start, an edit
        while the node was down; announced), or adopt the newest version if the file is an
        older one (the other nodes published since)."""
        async with self._publishing:
            stale: dict[str, FlowVersion] = {}
            fresh: list[tuple[str, FlowVersion]] = []
            for name in CONFIG_FILES:
                text = await self._read_if_present(name)
                if text is None:
                    continue
                versions = await self._versions.of(name)
                digest = digest_of(text)
                older = [v for v in versions[:-1] if v.digest == digest]
                if versions and versions[-1].digest == digest:
                    self._live[name] = versions[-1]
                elif older:
                    self._live[name] = older[-1]
                    stale[name] = versions[-1]
                else:
                    note = "file edit" if versions else "as installed"
                    self._live[name] = await self._record(name, text, file_owner(
                        self.path(name)), note)
                    fresh.append((name, self._live[name]))
            if stale:
                problems = await self._check({n: v.text for n, v in stale.items()})
                if problems:
                    log.error("config_versions_not_adopted", versions=[
                        v.id for v in stale.values()], problems=[_shown(p) for p in problems])
                else:
                    log.info("config_files_stale", files=[CONFIG_FILES[n] for n in stale])
                    await self._apply(stale)
        for name, version in fresh:
            await self._announce(name, version)

    async def watch(self) -> None:
        """Poll the files; publish valid edits, log invalid ones (nothing of them is applied).
        Runs until cancelled."""
        while True:
            await asyncio.sleep(self.current.flow_reload_interval)
            seen = await asyncio.to_thread(self._stat_all)
            for name in CONFIG_FILES:
                if name in self._seen and self._seen[name] == seen[name]:
                    continue
                try:
                    await self._refresh(name)
                except OSError as exc:
                    log.error("config_file_unreadable", path=str(self.path(name)),
                              error=str(exc))
                except StorageError as exc:
                    self._seen.pop(name, None)  # tried again at the next look
                    log.warning("config_edit_not_recorded", path=str(self.path(name)),
                                error=str(exc))

    def _stat_all(self) -> dict[str, tuple[float, int] | None]:
        return {name: _stat(self.path(name)) for name in CONFIG_FILES}

    async def _refresh(self, name: str) -> None:
        path = self.path(name)
        seen = await asyncio.to_thread(_stat, path)
        if name in self._seen and self._seen[name] == seen:
            return
        self._seen[name] = seen
        if seen is None:
            return
        async with self._publishing:
            text: str = await asyncio.to_thread(path.read_text, encoding="utf-8")
            live = self._live.get(name)
            if live is not None and digest_of(text) == live.digest:
                return
            problems = await self._check({name: text})
            if problems:
                log.error("config_edit_rejected", path=str(path),
                          problems=[_shown(p) for p in problems],
                          serving=live.id if live else None)
                return
            version = await self._record(name, text, file_owner(path), "file edit")
            self._live[name] = version
            await self.reload()
            log.info("config_published", file=CONFIG_FILES[name], version_id=version.id,
                     by=version.published_by, note="file edit")
        await self._announce(name, version)

    # -- publications from the admin pages ---------------------------------------------------

    async def replace(self, name: str, text: str, who: str,
                      note: str = "edited from the web") -> tuple[str, FlowVersion]:
        """Publish ``text`` as ``name``'s file if the whole configuration (and the live flow)
        stays valid with it; ``ConfigRejected`` listing every problem if not, and nothing
        changes. Returns the digest of the text before and the version now live."""
        async with self._publishing:
            problems = await self._check({name: text})
            if problems:
                raise ConfigRejected(problems)
            before = await self._recorded(name)
            version = await self._record(name, text, who, note)
            await self._apply({name: version})
            log.info("config_published", file=CONFIG_FILES[name], version_id=version.id,
                     by=who, note=note)
        await self._announce(name, version)
        return before.digest if before else "", version

    async def roll_back(self, name: str, version_id: int | None,
                        who: str) -> tuple[FlowVersion, FlowVersion]:
        """Publish an earlier version of ``name`` again: ``version_id``, else the one before
        the live one. Returns the version now live and the one it came from."""
        versions = await self._versions.of(name)
        if version_id is not None:
            targets = [v for v in versions if v.id == version_id]
            if not targets:
                raise RecordNotFound(f"No version #{version_id} of {CONFIG_FILES[name]}.")
            target = targets[0]
        else:
            live = self._live.get(name)
            target = rollback_target(versions, live.digest if live else "")
        try:
            _, version = await self.replace(name, target.text, who,
                                            f"rollback to version #{target.id}")
        except ConfigRejected as exc:
            raise ConfigRejected(
                exc.problems, f"Version #{target.id} of {CONFIG_FILES[name]} no longer "
                f"validates with the rest of the configuration; nothing changed.") from exc
        return version, target

    async def versions(self, name: str) -> list[FlowVersion]:
        """Every published version of ``name``, oldest first."""
        return await self._versions.of(name)

    def live_version(self, name: str) -> FlowVersion | None:
        """The version of ``name`` this node serves (None before it was ever published)."""
        return self._live.get(name)

    async def diff(self, name: str, text: str, label: str = "edited") -> str:
        """What publishing ``text`` as ``name`` would change ("" for nothing)."""
        file = CONFIG_FILES[name]
        return text_diff(await self.read(name), text, f"{file} (live)", f"{file} ({label})")

    # -- the pieces --------------------------------------------------------------------------

    async def _read_if_present(self, name: str) -> str | None:
        path = self.path(name)
        self._seen[name] = await asyncio.to_thread(_stat, path)
        if self._seen[name] is None:
            return None
        text: str = await asyncio.to_thread(path.read_text, encoding="utf-8")
        return text

    async def _recorded(self, name: str) -> FlowVersion | None:
        """The live version of ``name``, recording the file as it is if it never was (so a
        rollback can bring it back)."""
        if name not in self._live:
            text = await self._read_if_present(name)
            if text is None:
                return None
            self._live[name] = await self._record(name, text, file_owner(self.path(name)),
                                                  "as installed")
        return self._live[name]

    async def _record(self, name: str, text: str, who: str, note: str) -> FlowVersion:
        digest = digest_of(text)
        versions = await self._versions.of(name)
        if versions and versions[-1].digest == digest:
            return versions[-1]  # already the newest (another node's, or an unchanged save)
        return await self._versions.add(
            flow=name, version=digest, digest=digest, text=text, published_by=who,
            published_at=self._clock.now(), note=note)

    async def _flow_text(self) -> str:
        try:
            return await self._flows.live_text()
        except IvrError:  # at start-up, before the flow is loaded: the flow file
            text: str = await asyncio.to_thread(self.current.flow_path.read_text,
                                                encoding="utf-8")
            return text

    async def _check(self, texts: Mapping[str, str]) -> list[dict[str, str]]:
        flow_text = await self._flow_text()
        return await asyncio.to_thread(check_config, self.current, self.config_dir, texts,
                                       flow_text)

    async def _apply(self, versions: Mapping[str, FlowVersion]) -> None:
        """Write checked versions to their files and apply them (the caller holds the lock)."""
        for name, version in versions.items():
            path = self.path(name)
            await asyncio.to_thread(replace_text, path, version.text)
            self._seen[name] = await asyncio.to_thread(_stat, path)
            self._live[name] = version
        await self.reload()

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
                                    asterisk_queue_log=live.asterisk_queue_log,
                                    recordings=dataclasses.replace(
                                        fresh.recordings,
                                        directory=live.recordings.directory))
        self.current = fresh
        for part in self._on_reload:
            done = part(fresh)
            if inspect.isawaitable(done):
                await done
        log.info("settings_reloaded", skills=len(fresh.skills), operators=len(fresh.operators))
        return fresh


def _stat(path: Path) -> tuple[float, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime, stat.st_size


def _shown(problem: Mapping[str, str]) -> str:
    return f"{problem['file']}: {problem['key']}: {problem['message']}"


def check_config(live: Settings, directory: Path, texts: Mapping[str, str],
                 flow_text: str) -> list[dict[str, str]]:
    """Every problem the whole configuration would have with ``texts`` (file name ->
    text) as those files.

    Blocking (file copies, YAML): run in a thread. Nothing under ``directory`` changes.
    """
    problems: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="ivr-config-") as tmp:
        candidate_dir = Path(tmp) / "config"
        shutil.copytree(directory, candidate_dir)
        intents = (candidate_dir / CONFIG_FILES["intents"] if "intents" in texts
                   else live.speech.intents)
        for name, text in texts.items():
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
