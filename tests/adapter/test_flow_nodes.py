"""One published flow on every node: two (three) flow libraries, each with its own flow file,
sharing one real PostgreSQL and its event bus, as two application nodes do."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import pytest_asyncio

from ivr import settings
from ivr.core.flow.scenarios import scenarios_path
from ivr.core.settings import Settings
from ivr.edges.bus import open_bus
from ivr.edges.storage.store import open_store
from ivr.flows.library import FlowLibrary
from tests.pgtools import pg_database

BASE = settings.load()
MakeNode = Callable[..., Awaitable[FlowLibrary]]
TEXT = BASE.flow_path.read_text(encoding="utf-8")
V2 = TEXT.replace('version: "2026-11-28.1"', 'version: "2026-11-28.2"', 1)
V3 = V2.replace('version: "2026-11-28.2"', 'version: "2026-11-28.3"', 1)


@pytest.fixture
def database() -> Iterator[str]:
    with pg_database("ivr_flows") as url:
        yield url


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time")


@pytest_asyncio.fixture
async def node(database: str, tmp_path: Path) -> AsyncIterator[MakeNode]:
    """``await node("n1")``: a flow library on its own copy of the flow file."""
    async with AsyncExitStack() as stack:
        async def make(name: str, text: str = TEXT) -> FlowLibrary:
            folder = tmp_path / name
            folder.mkdir()
            flow = folder / "12345.yaml"
            flow.write_text(text, encoding="utf-8")
            shutil.copy(scenarios_path(str(BASE.flow_path)), scenarios_path(str(flow)))
            cfg: Settings = dataclasses.replace(BASE, flow_path=flow, flow_reload_interval=0.1)
            store = open_store(database, folder)
            await store.open()
            stack.push_async_callback(store.close)
            bus = open_bus(database)
            library = FlowLibrary(cfg, store.flow_versions)
            library.share_through(bus)
            await bus.start()
            stack.push_async_callback(bus.close)
            await library.load()
            watcher = asyncio.create_task(library.watch())
            stack.callback(watcher.cancel)
            return library

        yield make


async def test_a_publish_and_a_rollback_on_one_node_are_what_the_other_node_serves(
    node: MakeNode,
) -> None:
    one = await node("n1")
    two = await node("n2")
    assert one.current().digest == two.current().digest
    await one.publish_text(V2, "ada", "v2")
    await eventually(lambda: two.current().flow.version == "2026-11-28.2")
    assert two.current().version_id == one.current().version_id
    # Its own file too: a restart of node 2 serves it.
    assert two.flow_file().read_text(encoding="utf-8") == V2
    live, _ = await one.roll_back(None, "ada")
    await eventually(lambda: two.current().digest == live.digest)
    assert two.current().flow.version == "2026-11-28.1"


async def test_a_file_edit_on_one_node_reaches_the_other(node: MakeNode) -> None:
    one = await node("n1")
    two = await node("n2")
    await asyncio.to_thread(one.flow_file().write_text, V2, encoding="utf-8")
    await eventually(lambda: two.current().flow.version == "2026-11-28.2")


async def test_a_node_starting_with_a_stale_file_serves_the_newest_version(
    node: MakeNode,
) -> None:
    one = await node("n1")
    await one.publish_text(V2, "ada", "v2")
    await one.publish_text(V3, "ada", "v3")
    late = await node("n3", TEXT)
    assert late.current().flow.version == "2026-11-28.3"
    assert late.flow_file().read_text(encoding="utf-8") == V3
    assert [v.version for v in await late.versions()] == [
        "2026-11-28.1", "2026-11-28.2", "2026-11-28.3"]


async def test_a_version_that_fails_on_a_node_is_not_served_there(
    node: MakeNode,
) -> None:
    """Node 2's scenarios differ (its admin expects key 4 to be a suggestion at priority 3);
    node 1 publishes a flow that breaks that: node 2 keeps its version."""
    one = await node("n1")
    two = await node("n2")
    scenarios = Path(scenarios_path(str(one.flow_file())))
    await asyncio.to_thread(scenarios.write_text, "scenarios: []\n", encoding="utf-8")
    lower = V2.replace("skill: suggestion\n    priority: 3", "skill: suggestion\n    priority: 1")
    await one.publish_text(lower, "ada", "suggestions last")
    await asyncio.sleep(1.0)
    assert two.current().flow.version == "2026-11-28.1"
