"""Configuration edits are published like flows: every version in the real database (SQLite
and PostgreSQL), a diff and a rollback; and on PostgreSQL, two (three) nodes, each with its
own config/ directory, share them over the event bus as two application nodes do."""

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
from ivr.configuration.editor import ConfigEditor
from ivr.core.versions import digest_of
from ivr.edges.bus import open_bus
from ivr.edges.storage.store import Store, open_store
from ivr.errors import ConfigRejected, Refused
from ivr.flows.library import FlowLibrary
from tests.pgtools import pg_database

REPO = Path(settings.PROJECT_DIR)
OPERATORS = (REPO / "config" / "operators.yaml").read_text(encoding="utf-8")
LEVEL_4 = OPERATORS.replace("skills: {inquiry: 5, case_status: 4}",
                            "skills: {inquiry: 4, case_status: 4}", 1)
LEVEL_3 = OPERATORS.replace("skills: {inquiry: 5, case_status: 4}",
                            "skills: {inquiry: 3, case_status: 4}", 1)
# Two mistakes: a level out of range and a skill nobody configured.
BROKEN = OPERATORS.replace("skills: {inquiry: 5, case_status: 4}",
                           "skills: {inquiry: 9, astrology: 4}", 1)
MakeNode = Callable[..., Awaitable[ConfigEditor]]


def inquiry_level(editor: ConfigEditor) -> int:
    return editor.current.operators["op1002"].skills["inquiry"]


def project(root: Path) -> Path:
    """A copy of the repository's config/ and dialplans/ (prompts shared read-only)."""
    root.mkdir()
    shutil.copytree(REPO / "config", root / "config")
    shutil.copytree(REPO / "dialplans", root / "dialplans")
    (root / "prompts").symlink_to(REPO / "prompts")
    return root


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'config.sqlite3'}"
    else:
        with pg_database("ivr_config") as url:
            yield url


@pytest.fixture
def postgres() -> Iterator[str]:
    with pg_database("ivr_config") as url:
        yield url


def node_factory(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 stack: AsyncExitStack, *, bus: bool) -> MakeNode:
    async def make(name: str, operators: str | None = None) -> ConfigEditor:
        root = project(tmp_path / name)
        if operators is not None:
            (root / "config" / "operators.yaml").write_text(operators, encoding="utf-8")
        monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / f"state-{name}"))
        cfg = dataclasses.replace(settings.load(root / "config", project_dir=root),
                                  flow_reload_interval=0.1)
        store: Store = open_store(database, tmp_path / f"state-{name}")
        await store.open()
        stack.push_async_callback(store.close)
        flows = FlowLibrary(cfg, store.flow_versions)
        editor = ConfigEditor(cfg, root / "config", flows, store.config_versions,
                              on_reload=[flows.reconfigure])
        if bus:
            events = open_bus(database)
            editor.share_through(events)
            await events.start()
            stack.push_async_callback(events.close)
        await editor.load()
        await flows.load()
        watcher = asyncio.create_task(editor.watch())
        stack.callback(watcher.cancel)
        return editor
    return make


@pytest_asyncio.fixture
async def node(database_url: str, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MakeNode]:
    """``await node("n1")``: one node's configuration editor over the database."""
    async with AsyncExitStack() as stack:
        yield node_factory(database_url, tmp_path, monkeypatch, stack, bus=False)


@pytest_asyncio.fixture
async def pg_node(postgres: str, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MakeNode]:
    """``await pg_node("n1")``: a node on the shared PostgreSQL and its bus."""
    async with AsyncExitStack() as stack:
        yield node_factory(postgres, tmp_path, monkeypatch, stack, bus=True)


# -- the version store (SQLite and PostgreSQL) -----------------------------------------------


async def test_each_edit_is_a_version_with_its_diff_and_a_rollback_brings_one_back(
    node: MakeNode,
) -> None:
    editor = await node("n1")
    [installed] = await editor.versions("operators")
    assert installed.note == "as installed"
    assert installed.text == OPERATORS
    diff = await editor.diff("operators", LEVEL_4)
    assert "-    skills: {inquiry: 5, case_status: 4}" in diff
    assert "+    skills: {inquiry: 4, case_status: 4}" in diff
    assert await editor.diff("operators", OPERATORS) == ""

    await editor.replace("operators", LEVEL_4, "ada", "Li Wei at level 4")
    await editor.replace("operators", LEVEL_3, "bo", "Li Wei at level 3")
    assert inquiry_level(editor) == 3
    versions = await editor.versions("operators")
    assert [(v.published_by, v.note) for v in versions] == [
        (installed.published_by, "as installed"), ("ada", "Li Wei at level 4"),
        ("bo", "Li Wei at level 3")]

    live, target = await editor.roll_back("operators", None, "cy")
    assert target.id == versions[1].id
    assert inquiry_level(editor) == 4
    assert editor.live_version("operators") == live
    assert live.note == f"rollback to version #{versions[1].id}"
    assert (editor.config_dir / "operators.yaml").read_text(encoding="utf-8") == LEVEL_4
    await editor.roll_back("operators", installed.id, "cy")
    assert inquiry_level(editor) == 5
    # Other files keep their own versions; the flow's versions are apart from them.
    assert len(await editor.versions("skills")) == 1


async def test_an_invalid_edit_is_refused_with_every_problem_and_nothing_changes(
    node: MakeNode,
) -> None:
    editor = await node("n1")
    before = await editor.versions("operators")
    with pytest.raises(ConfigRejected) as refused:
        await editor.replace("operators", BROKEN, "ada")
    messages = [f"{p['key']}: {p['message']}" for p in refused.value.problems]
    assert len(messages) == 2, messages
    assert any("astrology" in m for m in messages)
    assert any("inquiry" in m for m in messages)
    assert await editor.versions("operators") == before
    assert (editor.config_dir / "operators.yaml").read_text(encoding="utf-8") == OPERATORS
    assert inquiry_level(editor) == 5


async def test_a_rollback_with_nothing_before_is_refused(node: MakeNode) -> None:
    editor = await node("n1")
    with pytest.raises(Refused):
        await editor.roll_back("skills", None, "ada")


async def test_a_rollback_that_would_break_the_rest_is_refused_and_nothing_changes(
    node: MakeNode,
) -> None:
    """A new skill, then an operator with it: bringing back the skills without it would
    leave the operator's skill unknown; refused, naming it, and both files stay."""
    editor = await node("n1")
    skills = await editor.read("skills")
    night = skills + (
        "  - id: night\n    names: {zh: 夜间服务, en: Night service}\n"
        "    department: 12345 Hotline Centre\n"
        "    service_level: {percent: 80, seconds: 20}\n")
    await editor.replace("skills", night, "ada", "a night desk")
    with_night = OPERATORS.replace("skills: {inquiry: 5, case_status: 4}",
                                   "skills: {inquiry: 5, case_status: 4, night: 3}", 1)
    await editor.replace("operators", with_night, "ada", "Li Wei at night")
    versions = await editor.versions("skills")
    with pytest.raises(ConfigRejected) as refused:
        await editor.roll_back("skills", None, "bo")
    assert "no longer validates" in str(refused.value)
    assert any("night" in p["key"] + p["message"] for p in refused.value.problems)
    assert await editor.versions("skills") == versions
    assert (editor.config_dir / "skills.yaml").read_text(encoding="utf-8") == night
    assert "night" in editor.current.skills


async def test_an_invalid_file_edit_is_not_applied_and_a_valid_one_is_published(
    node: MakeNode,
) -> None:
    editor = await node("n1")
    path = editor.config_dir / "operators.yaml"
    await asyncio.to_thread(path.write_text, BROKEN, encoding="utf-8")
    await asyncio.sleep(0.5)
    assert len(await editor.versions("operators")) == 1
    assert inquiry_level(editor) == 5
    await asyncio.to_thread(path.write_text, LEVEL_4, encoding="utf-8")
    await eventually(lambda: inquiry_level(editor) == 4)
    newest = (await editor.versions("operators"))[-1]
    assert (newest.note, newest.text) == ("file edit", LEVEL_4)


async def test_the_text_and_version_an_admin_reads_belong_together_during_a_publication(
    node: MakeNode,
) -> None:
    """The configuration page's file and version id come from one moment: a reader racing a
    publication never gets the old text with the new version id (it saves over the edit)."""
    editor = await node("n1")

    async def reads() -> list[tuple[str, str | None]]:
        seen: list[tuple[str, str | None]] = []
        for _ in range(40):
            text, live = await editor.read_live("operators")
            seen.append((digest_of(text), live.digest if live else None))
            await asyncio.sleep(0)
        return seen

    readers = [asyncio.ensure_future(reads()) for _ in range(4)]
    await editor.replace("operators", LEVEL_4, "ada", "Li Wei at level 4")
    await editor.replace("operators", OPERATORS, "ada", "back to 5")
    for seen in await asyncio.gather(*readers):
        assert all(text == version for text, version in seen), seen


# -- several nodes on PostgreSQL ------------------------------------------------------------


async def test_an_edit_and_a_rollback_on_one_node_are_what_the_other_node_applies(
    pg_node: MakeNode,
) -> None:
    one = await pg_node("n1")
    two = await pg_node("n2")
    assert one.live_version("operators") == two.live_version("operators")
    await one.replace("operators", LEVEL_4, "ada", "Li Wei at level 4")
    await eventually(lambda: inquiry_level(two) == 4)
    # Its own file too: a restart of node 2 applies it.
    assert (two.config_dir / "operators.yaml").read_text(encoding="utf-8") == LEVEL_4
    await one.roll_back("operators", None, "ada")
    await eventually(lambda: inquiry_level(two) == 5)
    assert two.live_version("operators") == one.live_version("operators")


async def test_a_file_edit_on_one_node_reaches_the_other(pg_node: MakeNode) -> None:
    one = await pg_node("n1")
    two = await pg_node("n2")
    await asyncio.to_thread((one.config_dir / "operators.yaml").write_text, LEVEL_3,
                            encoding="utf-8")
    await eventually(lambda: inquiry_level(two) == 3)


async def test_a_node_starting_with_a_stale_file_applies_the_newest_version(
    pg_node: MakeNode,
) -> None:
    one = await pg_node("n1")
    await one.replace("operators", LEVEL_4, "ada")
    await one.replace("operators", LEVEL_3, "ada")
    late = await pg_node("n3", OPERATORS)
    assert inquiry_level(late) == 3
    assert (late.config_dir / "operators.yaml").read_text(encoding="utf-8") == LEVEL_3
