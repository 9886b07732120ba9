"""The live IVR flow: checked before it is published, swapped atomically, versioned.

New calls take ``FlowLibrary.current()`` when they arrive and keep that immutable ``CallFlow``
until they end, so an edit never changes a call in progress. An edit of the flow file is
picked up by ``watch()``: it is validated with the same checks as ``ivr flow check``; if it is
valid it becomes current for the next call and is stored as a new version (who and when);
if it is not, the problems are logged and the running version keeps serving.
``rollback`` writes the previous version back to the file and records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import pwd
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from ivr.core.flow import CallFlow, FlowProblem, load_catalog, parse_flow, validate
from ivr.core.flow.model import FlowError
from ivr.core.settings import Settings
from ivr.edges.store import CallStore, FlowVersion
from ivr.errors import IvrError

log = structlog.get_logger("ivr.flows.library")


class FlowRejected(IvrError):
    """A flow edit failed validation; ``problems`` says why. The running flow is unchanged."""

    def __init__(self, problems: Sequence[FlowProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(f"{p.file}:{p.line}: {p.node}: {p.message}"
                                   for p in self.problems))


@dataclass(frozen=True, slots=True)
class PublishedFlow:
    flow: CallFlow
    version_id: int
    digest: str


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def check_text(settings: Settings, text: str, source: str) -> tuple[CallFlow | None,
                                                                       list[FlowProblem]]:
    """Parse and validate a flow against this installation's prompts, skills and schedules."""
    flow, problems = parse_flow(text, source)
    try:
        catalog = load_catalog(settings.prompts_dir / "catalog.yaml")
    except FlowError as exc:
        return None, [*problems, *exc.problems]
    if flow is not None:
        problems += validate(
            flow, catalog, set(settings.skills), settings.schedules.names, settings.languages
        )
    return (flow if not problems else None), problems


def file_owner(path: Path) -> str:
    try:
        return pwd.getpwuid(path.stat().st_uid).pw_name
    except (KeyError, OSError):
        return "unknown"


class FlowLibrary:
    def __init__(self, settings: Settings, store: CallStore) -> None:
        self._settings = settings
        self._store = store
        self._path = settings.flow_path
        self._current: PublishedFlow | None = None
        self._seen: tuple[float, int] | None = None
        # Every version published since start-up, for calls that come back to the flow
        # (the survey) on the version they started with.
        self._by_id: dict[int, PublishedFlow] = {}
        # One web publication (publish, rollback) at a time.
        self._publishing = asyncio.Lock()

    def reconfigure(self, settings: Settings) -> None:
        """New skills, schedules and languages: later edits are validated against them."""
        self._settings = settings

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
            stored = [v for v in await self._store.flow_versions(flow_name) if v.id == version_id]
            flow, _ = (await asyncio.to_thread(parse_flow, stored[0].text, str(self._path))
                       if stored else (None, []))
            if flow is None:
                log.warning("flow_version_unavailable", version_id=version_id)
                return self.current()
            self._by_id[version_id] = PublishedFlow(flow, version_id, stored[0].digest)
        return self._by_id[version_id]

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
            await asyncio.to_thread(_atomic_write, self._path, text)
            stat = await asyncio.to_thread(self._path.stat)
            # The watcher must not publish our own write a second time as a "file edit".
            self._seen = (stat.st_mtime, stat.st_size)
            previous = self._current
            self._current = PublishedFlow(flow, version.id, digest)
            self._by_id[version.id] = self._current
            log.info("flow_published", flow=flow.name, version=flow.version,
                     version_id=version.id, by=who, note=note,
                     replaced=previous.flow.version if previous else None)
            return self._current

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
        version = await self._record(flow, text, digest, file_owner(self._path), "file edit")
        previous = self._current
        self._current = PublishedFlow(flow, version.id, digest)
        self._by_id[version.id] = self._current
        log.info("flow_published", flow=flow.name, version=flow.version, version_id=version.id,
                 by=version.published_by,
                 replaced=previous.flow.version if previous else None)
        return self._current

    async def _record(
        self, flow: CallFlow, text: str, digest: str, who: str, note: str
    ) -> FlowVersion:
        versions = await self._store.flow_versions(flow.name)
        if versions and versions[-1].digest == digest:
            return versions[-1]  # already recorded (e.g. by `ivr flow rollback`)
        return await self._store.add_flow_version(
            flow=flow.name, version=flow.version, digest=digest, text=text,
            published_by=who, published_at=datetime.now(UTC), note=note,
        )


async def rollback(settings: Settings, store: CallStore, who: str) -> FlowVersion:
    """Write the version before the live one back to the flow file and record it."""
    path = settings.flow_path
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    flow, problems = parse_flow(text, str(path))
    name = flow.name if flow is not None else None
    versions = await store.flow_versions(name) if name else []
    live_digest = digest_of(text)
    live = [i for i, v in enumerate(versions) if v.digest == live_digest]
    if not live or live[-1] == 0:
        raise IvrError("no earlier published version to roll back to")
    target = versions[live[-1] - 1]
    checked, problems = check_text(settings, target.text, str(path))
    if checked is None:
        raise FlowRejected(problems)
    version = await store.add_flow_version(
        flow=target.flow, version=target.version, digest=target.digest, text=target.text,
        published_by=who, published_at=datetime.now(UTC),
        note=f"rollback to version #{target.id}",
    )
    await asyncio.to_thread(_atomic_write, path, target.text)
    return version


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    with contextlib.suppress(OSError):
        os.chown(tmp, path.stat().st_uid, path.stat().st_gid)
    tmp.replace(path)
