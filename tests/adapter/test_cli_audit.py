"""Admin-level command-line actions leave an audit entry, actor ``cli:<unix user>``, like the
web's: accounts added or given a new password, a roster imported, a flow rolled back."""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
import shutil
from pathlib import Path

import pytest

from ivr import cli, settings
from ivr.core.records import AuditEntry
from ivr.edges.storage.store import opened_store
from ivr.flows.library import FlowLibrary
from ivr.operators.roster import generate_roster
from ivr.tools import admin

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh state directory (SQLite) and a unix user called li."""
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "li")
    return tmp_path / "state"


def audit_of(state: Path) -> list[AuditEntry]:
    async def read() -> list[AuditEntry]:
        async with opened_store("sqlite:///ivr.sqlite3", state) as store:
            return await store.audit.latest()
    return asyncio.run(read())


def test_users_add_and_passwd_are_audited_without_the_password(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["users", "add", "wang", "--role", "supervisor"]) == 0
    assert cli.main(["users", "passwd", "wang"]) == 0
    passwords = [line.rsplit(" ", 1)[1] for line in capsys.readouterr().out.splitlines()
                 if "password" in line]
    assert len(passwords) == 2
    updated, created = audit_of(state)
    assert (created.actor, created.action, created.target) == ("cli:li", "user.create", "wang")
    assert created.detail["role"] == "supervisor"
    assert (updated.actor, updated.action, updated.target) == ("cli:li", "user.update", "wang")
    assert updated.detail == {"password_reset": True}
    for entry in (created, updated):
        assert not any(p in json.dumps(entry.detail) for p in passwords)


def test_a_roster_import_is_audited_with_its_count(state: Path, tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(CONFIG, config_dir)
    roster = tmp_path / "roster.csv"
    roster.write_text(generate_roster(settings.load(CONFIG), 3), encoding="utf-8")
    # A dry run changes nothing and records nothing.
    assert cli.main(["--config", str(config_dir), "operators", "import", str(roster),
                     "--dry-run"]) == 0
    assert cli.main(["--config", str(config_dir), "operators", "import", str(roster)]) == 0
    [entry] = audit_of(state)
    assert (entry.actor, entry.action, entry.target) == ("cli:li", "operators.import",
                                                         "operators.yaml")
    assert entry.detail["operators"] == 3


async def test_a_flow_rollback_is_audited(state: Path, tmp_path: Path) -> None:
    base = settings.load(CONFIG)
    flow = tmp_path / "12345.yaml"
    flow.write_text(base.flow_path.read_text(encoding="utf-8"), encoding="utf-8")
    cfg = dataclasses.replace(base, flow_path=flow, state_dir=state,
                              database_url="sqlite:///ivr.sqlite3")
    async with opened_store(cfg.database_url, cfg.state_dir) as store:
        library = FlowLibrary(cfg, store.flow_versions)
        await library.load()
        text = flow.read_text(encoding="utf-8")
        flow.write_text(text.replace('version: "2026-11-28.1"', 'version: "2026-11-28.2"'),
                        encoding="utf-8")
        await library._refresh(force=False)
    message, code = await admin.flow_rollback(cfg)
    assert code == 0, message
    async with opened_store(cfg.database_url, cfg.state_dir) as store:
        [entry] = await store.audit.latest()
        versions = await store.flow_versions.of("12345")
    assert (entry.actor, entry.action, entry.target) == ("cli:li", "flow.rollback", "12345")
    assert entry.detail["version"] == "2026-11-28.1"
    assert entry.detail["to_version_id"] == versions[-1].id
    assert versions[-1].published_by == "cli:li"
