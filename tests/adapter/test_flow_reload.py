"""Publishing flow edits: valid edits swap in for new calls, invalid ones are rejected, versions
are kept and `ivr flow rollback` restores the previous one. Real files, real SQLite."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr import settings
from ivr.core.settings import Settings
from ivr.edges.storage.store import Store, open_store
from ivr.errors import FlowRejected
from ivr.flows.library import FlowLibrary, rollback

BASE = settings.load()


@pytest.fixture
def cfg(tmp_path: Path) -> Settings:
    flow = tmp_path / "12345.yaml"
    flow.write_text(BASE.flow_path.read_text(encoding="utf-8"), encoding="utf-8")
    return dataclasses.replace(
        BASE, flow_path=flow, flow_reload_interval=0.05, state_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )


@pytest_asyncio.fixture
async def store(cfg: Settings) -> AsyncIterator[Store]:
    s = open_store(cfg.state_dir / "db.sqlite3")
    await s.open()
    yield s
    await s.close()


def edit(cfg: Settings, *changes: tuple[str, str]) -> None:
    """Apply the changes in one write, as an editor saving the file would."""
    text = cfg.flow_path.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    cfg.flow_path.write_text(text, encoding="utf-8")


NEW_VERSION = ('version: "2026-11-28.1"', 'version: "2026-11-28.2"')
# The inquiry route gets a higher priority.
INQUIRY_FIRST = ("skill: inquiry\n    priority: 5", "skill: inquiry\n    priority: 8")


async def test_valid_edit_swaps_in_and_is_versioned(
    cfg: Settings, store: Store
) -> None:
    """An edit is validated, published for new calls and recorded; the old flow object stays
    intact for calls already running on it."""
    library = FlowLibrary(cfg, store.flow_versions)
    first = await library.load()
    watcher = asyncio.create_task(library.watch())
    try:
        edit(cfg, INQUIRY_FIRST, NEW_VERSION)
        for _ in range(100):
            if library.current().version_id != first.version_id:
                break
            await asyncio.sleep(0.02)
        assert library.current().flow.version == "2026-11-28.2"
        assert first.flow.nodes["route_inquiry"].priority == 5  # type: ignore[union-attr]
        assert library.current().flow.nodes["route_inquiry"].priority == 8  # type: ignore[union-attr]
        versions = await store.flow_versions.of("12345")
        assert [v.version for v in versions] == ["2026-11-28.1", "2026-11-28.2"]
    finally:
        watcher.cancel()


async def test_invalid_edit_is_rejected_and_the_old_flow_keeps_serving(
    cfg: Settings, store: Store
) -> None:
    """An edit pointing at a node that does not exist is refused with its problems."""
    library = FlowLibrary(cfg, store.flow_versions)
    first = await library.load()
    edit(cfg, ('"2": route_inquiry', '"2": nowhere'))
    with pytest.raises(FlowRejected, match="nowhere"):
        await library._refresh(force=False)
    assert library.current() is first
    assert len(await store.flow_versions.of("12345")) == 1


async def test_rollback_restores_the_previous_version(
    cfg: Settings, store: Store
) -> None:
    """Rollback writes the previous version's text back and records who did it."""
    library = FlowLibrary(cfg, store.flow_versions)
    await library.load()
    original = cfg.flow_path.read_text(encoding="utf-8")
    edit(cfg, NEW_VERSION)
    await library._refresh(force=False)
    version = await rollback(cfg, store.flow_versions, "admin-li")
    assert cfg.flow_path.read_text(encoding="utf-8") == original
    assert version.published_by == "admin-li"
    assert version.note.startswith("rollback to version #1")
    await library._refresh(force=False)
    assert library.current().flow.version == "2026-11-28.1"
    assert len(await store.flow_versions.of("12345")) == 3  # no duplicate from the watcher


async def test_start_refuses_an_invalid_flow(cfg: Settings, store: Store) -> None:
    """With no valid flow there is nothing to serve: start-up fails with the problems."""
    edit(cfg, ("start: greeting", "start: nowhere"))
    with pytest.raises(FlowRejected, match="nowhere"):
        await FlowLibrary(cfg, store.flow_versions).load()


def test_flow_check_cli_names_each_defect() -> None:
    """`ivr flow check` exits 1 and names file, line and node of every defect."""
    flows = Path(__file__).resolve().parents[1] / "unit" / "flows"
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "flow", "check", str(flows / "dead_end.yaml"),
         str(flows / "unknown_node.yaml")], capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1
    assert "dead_end.yaml:" in done.stderr
    assert "unknown_node.yaml:" in done.stderr
    assert "[dead-end]" in done.stderr
    ok = subprocess.run([sys.executable, "-m", "ivr", "flow", "check"],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
