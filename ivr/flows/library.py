"""The live IVR flow: checked before it is published, swapped atomically, versioned.

New calls take ``FlowLibrary.current()`` when they arrive and keep that immutable ``CallFlow``
until they end, so an edit never changes a call in progress. An edit of the flow file is
picked up by ``watch()``: it is validated with the same checks as ``ivr flow check``; if it is
valid it becomes current for the next call and is stored as a new version (who and when);
if it is not, the problems are logged and the running version keeps serving.
``rollback_target`` says which version a rollback brings back: the live library publishes it
(the admin pages), or ``rollback`` writes it to the file for the watcher (``ivr flow rollback``).

One published flow on every node: versions live in the database every node shares. Each
publication (web publish, rollback, a file edit on one node) is announced on the event bus
(``flows`` channel: flow, version id, digest); every other node reads that version from the
database, checks it against its own configuration and switches to it for its next call,
writing it to its own flow file (so a restart serves it too). A node that missed
announcements (bus reconnect) or starts with a stale file (its text is an older published
version) adopts the newest version from the database. A version that does not validate on a
node is logged and that node keeps serving what it had.
"""

from __future__ import annotations

import asyncio
import pwd
from dataclasses import dataclass
from pathlib import Path

import structlog

from ivr.core.flow import CallFlow, parse_flow, validate
from ivr.core.records import FlowVersion
from ivr.core.settings import Settings
from ivr.core.versions import digest_of, rollback_target
from ivr.edges.bus import EventBus
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.files import replace_text
from ivr.edges.storage.flow_versions import FlowVersions
from ivr.errors import (
    BusError,
    FlowError,
    FlowProblem,
    FlowRejected,
    IvrError,
    RecordNotFound,
    StorageError,
)
from ivr.flows.files import load_catalog
from ivr.flows.scenarios import scenario_problems

log = structlog.get_logger("ivr.flows.library")
BUS_CHANNEL = "flows"


@dataclass(frozen=True, slots=True)
class PublishedFlow:
    flow: CallFlow
    version_id: int
    digest: str


def check_text(settings: Settings, text: str, source: str) -> tuple[CallFlow | None,
                                                                       list[FlowProblem]]:
    """Parse and validate a flow against this installation's prompts, skills and schedules,
    then replay its scenarios (``NAME.scenarios.yaml`` beside ``source``); the flow only when
    it has no problem."""
    flow, problems = parse_and_check(settings, text, source)
    if flow is not None and not problems:
        problems = scenario_problems(settings, flow, source)
    return (flow if not problems else None), problems


def parse_and_check(settings: Settings, text: str, source: str) -> tuple[CallFlow | None,
                                                                           list[FlowProblem]]:
    """Like ``check_text``, but the flow as far as it could be read even with problems (to
    draw them on it)."""
    flow, problems = parse_flow(text, source)
    try:
        catalog = load_catalog(settings.prompts_dir / "catalog.yaml")
    except FlowError as exc:
        return flow, [*problems, *exc.problems]
    if flow is not None:
        problems += validate(
            flow, catalog, set(settings.skills), settings.schedules.names, settings.languages
        )
    return flow, problems


def file_owner(path: Path) -> str:
    try:
        return pwd.getpwuid(path.stat().st_uid).pw_name
    except (KeyError, OSError):
        return "unknown"


class FlowLibrary:
    def __init__(
        self, settings: Settings, versions: FlowVersions, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._settings = settings
        self._versions = versions
        self._clock = clock
        self._path = settings.flow_path
        self._current: PublishedFlow | None = None
        self._seen: tuple[float, int] | None = None
        # Every version published since start-up, for calls that come back to the flow
        # (the survey) on the version they started with.
        self._by_id: dict[int, PublishedFlow] = {}
        # One publication (web publish, rollback, a version adopted from another node) at
        # a time.
        self._publishing = asyncio.Lock()
        self._bus: EventBus | None = None
        self._adopting: set[asyncio.Task[None]] = set()

    def share_through(self, bus: EventBus) -> None:
        """Announce this node's publications on ``bus`` and adopt the other nodes' ones."""
        self._bus = bus
        bus.subscribe(BUS_CHANNEL, self._announced)
        bus.on_reconnect(self.sync)

    def _announced(self, payload: dict[str, object]) -> None:
        version_id = payload.get("version_id")
        if isinstance(version_id, int) and self._current is not None \
                and payload.get("digest") != self._current.digest:
            task = asyncio.ensure_future(self._adopt(version_id))
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)

    async def sync(self) -> None:
        """Adopt the newest published version if this node is not serving it (after a bus
        reconnect: announcements may have been missed)."""
        if self._current is None:
            return
        try:
            versions = await self._versions.of(self._current.flow.name)
        except StorageError as exc:
            log.warning("flow_sync_failed", error=str(exc))
            return
        if versions and versions[-1].digest != self._current.digest \
                and versions[-1].id > self._current.version_id:
            await self._adopt(versions[-1].id)

    async def _adopt(self, version_id: int) -> None:
        """Serve version ``version_id`` (published by another node) for the next call."""
        async with self._publishing:
            if self._current is None or self._current.version_id >= version_id:
                return
            try:
                stored = [v for v in await self._versions.of(self._current.flow.name)
                          if v.id == version_id]
            except StorageError as exc:
                log.warning("flow_version_not_adopted", version_id=version_id, error=str(exc))
                return
            if not stored:
                return
            version = stored[0]
            flow, problems = await asyncio.to_thread(check_text, self._settings, version.text,
                                                     str(self._path))
            if flow is None:
                log.error("flow_version_not_adopted", version_id=version_id,
                          problems=[str(p) for p in problems],
                          serving=self._current.flow.version)
                return
            await self._write_file(version.text)
            previous = self._current
            self._current = PublishedFlow(flow, version.id, version.digest)
            self._by_id[version.id] = self._current
            log.info("flow_adopted", flow=flow.name, version=flow.version, version_id=version.id,
                     by=version.published_by, replaced=previous.flow.version)

    async def _write_file(self, text: str) -> None:
        """Write the flow file; the watcher must not take our own write for a file edit."""
        await asyncio.to_thread(replace_text, self._path, text)
        stat = await asyncio.to_thread(self._path.stat)
        self._seen = (stat.st_mtime, stat.st_size)

    async def _announce(self, published: PublishedFlow) -> None:
        if self._bus is None:
            return
        try:
            await self._bus.publish(BUS_CHANNEL, {
                "flow": published.flow.name, "version_id": published.version_id,
                "digest": published.digest})
        except BusError as exc:
            log.warning("flow_not_announced", version_id=published.version_id, error=str(exc),
                        hint="the other nodes adopt it when their bus reconnects")

    def reconfigure(self, settings: Settings) -> None:
        """New skills, schedules and languages: later edits are validated against them."""
        self._settings = settings

    def flow_file(self) -> Path:
        """This node's flow file."""
        return self._path

    def current(self) -> PublishedFlow:
        if self._current is None:
            raise IvrError("no flow loaded yet")
        return self._current

    async def version(self, version_id: int | None) -> PublishedFlow:
        """The flow a call started on (by its version id), else the current one."""
        if version_id is None:
            return self.current()
        if version_id not in self._by_id:
            flow_name = self.current().flow.name
            stored = [v for v in await self._versions.of(flow_name) if v.id == version_id]
            flow, _ = (await asyncio.to_thread(parse_flow, stored[0].text, str(self._path))
                       if stored else (None, []))
            if flow is None:
                log.warning("flow_version_unavailable", version_id=version_id)
                return self.current()
            self._by_id[version_id] = PublishedFlow(flow, version_id, stored[0].digest)
        return self._by_id[version_id]

    async def live_text(self) -> str:
        """The text of the flow serving new calls (as published, else the flow file's)."""
        published = self.current()
        for version in await self._versions.of(published.flow.name):
            if version.id == published.version_id:
                return version.text
        text: str = await asyncio.to_thread(self._path.read_text, encoding="utf-8")
        return text

    async def versions(self) -> list[FlowVersion]:
        """Every published version of the live flow, oldest first."""
        return await self._versions.of(self.current().flow.name)

    async def load(self) -> PublishedFlow:
        """Publish the flow file at start-up; refuse to start on an invalid one."""
        published = await self._refresh(force=True)
        if published is None:
            raise IvrError(f"{self._path}: no valid flow to serve")
        return published

    async def watch(self) -> None:
        """Poll the flow file; publish valid edits, reject invalid ones. Runs until cancelled."""
        while True:
            await asyncio.sleep(self._settings.flow_reload_interval)
            try:
                await self._refresh(force=False)
            except FlowRejected as exc:
                log.error("flow_edit_rejected", path=str(self._path),
                          problems=[str(p) for p in exc.problems],
                          serving=self.current().flow.version)
            except OSError as exc:
                log.error("flow_file_unreadable", path=str(self._path), error=str(exc))

    async def publish_text(self, text: str, who: str, note: str) -> PublishedFlow:
        """Validate ``text``; if valid, record it as a version by ``who``, write it to the
        flow file atomically and make it current for new calls. ``FlowRejected`` if not:
        then nothing changes (file, versions and the live flow stay as they were)."""
        async with self._publishing:
            flow, problems = await asyncio.to_thread(check_text, self._settings, text,
                                                     str(self._path))
            if flow is None:
                raise FlowRejected(problems)
            digest = digest_of(text)
            version = await self._record(flow, text, digest, who, note)
            await self._write_file(text)
            previous = self._current
            self._current = PublishedFlow(flow, version.id, digest)
            self._by_id[version.id] = self._current
            log.info("flow_published", flow=flow.name, version=flow.version,
                     version_id=version.id, by=who, note=note,
                     replaced=previous.flow.version if previous else None)
            published = self._current
        await self._announce(published)
        return published

    async def roll_back(
        self, version_id: int | None, who: str
    ) -> tuple[PublishedFlow, FlowVersion]:
        """Publish an earlier version again: ``version_id``, else the one before the live one.
        Returns what is live now and the version it came from."""
        versions = await self.versions()
        if version_id is not None:
            targets = [v for v in versions if v.id == version_id]
            if not targets:
                raise RecordNotFound(f"No flow version #{version_id}.")
            target = targets[0]
        else:
            target = rollback_target(versions, self.current().digest)
        try:
            live = await self.publish_text(target.text, who, f"rollback to version #{target.id}")
        except FlowRejected as exc:
            raise FlowRejected(
                exc.problems, f"Version #{target.id} no longer validates; nothing changed."
            ) from exc
        return live, target

    async def _refresh(self, *, force: bool) -> PublishedFlow | None:
        stat = await asyncio.to_thread(self._path.stat)
        seen = (stat.st_mtime, stat.st_size)
        if not force and seen == self._seen:
            return self._current
        self._seen = seen
        text = await asyncio.to_thread(self._path.read_text, encoding="utf-8")
        digest = digest_of(text)
        if self._current is not None and digest == self._current.digest:
            return self._current
        flow, problems = await asyncio.to_thread(check_text, self._settings, text,
                                                 str(self._path))
        if flow is None:
            raise FlowRejected(problems)
        versions = await self._versions.of(flow.name)
        stale = [v for v in versions[:-1] if v.digest == digest]
        if stale and self._current is None:
            # Starting with the text of an older version: the other nodes published since.
            self._current = PublishedFlow(flow, stale[-1].id, digest)
            self._by_id[stale[-1].id] = self._current
            log.info("flow_file_stale", path=str(self._path), version_id=stale[-1].id,
                     newest=versions[-1].id)
            await self._adopt(versions[-1].id)
            return self._current
        version = await self._record(flow, text, digest, file_owner(self._path), "file edit")
        previous = self._current
        self._current = PublishedFlow(flow, version.id, digest)
        self._by_id[version.id] = self._current
        log.info("flow_published", flow=flow.name, version=flow.version, version_id=version.id,
                 by=version.published_by,
                 replaced=previous.flow.version if previous else None)
        if not force or not versions or versions[-1].id != version.id:
            # An edit, or a new version at start-up: the other nodes switch too (an edit may
            # be an already recorded version: `ivr flow rollback` records before writing).
            await self._announce(self._current)
        return self._current

    async def _record(
        self, flow: CallFlow, text: str, digest: str, who: str, note: str
    ) -> FlowVersion:
        versions = await self._versions.of(flow.name)
        if versions and versions[-1].digest == digest:
            return versions[-1]  # already recorded (e.g. by `ivr flow rollback`)
        return await self._versions.add(
            flow=flow.name, version=flow.version, digest=digest, text=text,
            published_by=who, published_at=self._clock.now(), note=note,
        )


async def rollback(
    settings: Settings, versions: FlowVersions, who: str, clock: Clock = SYSTEM_CLOCK
) -> FlowVersion:
    """Write the version before the live one back to the flow file and record it."""
    path = settings.flow_path
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    flow, problems = parse_flow(text, str(path))
    published = await versions.of(flow.name) if flow is not None else []
    target = rollback_target(published, digest_of(text))
    checked, problems = check_text(settings, target.text, str(path))
    if checked is None:
        raise FlowRejected(problems)
    version = await versions.add(
        flow=target.flow, version=target.version, digest=target.digest, text=target.text,
        published_by=who, published_at=clock.now(),
        note=f"rollback to version #{target.id}",
    )
    await asyncio.to_thread(replace_text, path, target.text)
    return version
