"""Accounts: the first admin at set-up and the `ivr users` command; no default passwords."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr import cli, logs
from ivr.accounts.service import create_account, ensure_first_admin
from ivr.errors import AccountError
from ivr.web.auth import verify_password
from tests.web.conftest import REPO


async def test_first_admin_is_created_once_with_a_generated_password(store):
    """No admin yet: "admin" with a fresh password; afterwards: nothing to do."""
    password = await ensure_first_admin(store.users)
    assert password
    assert len(password) >= 16
    admin = await store.users.get("admin")
    assert admin.role == "admin"
    assert await verify_password(admin.password_hash, password)
    assert not await verify_password(admin.password_hash, "admin")
    assert await ensure_first_admin(store.users) is None


async def test_first_admin_never_takes_over_another_users_name(store):
    """A non-admin "admin" account is not promoted behind anyone's back."""
    await create_account(store.users, "admin", "operator")
    with pytest.raises(AccountError, match="ivr users add"):
        await ensure_first_admin(store.users)


def test_users_command_adds_lists_and_resets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]):
    """`ivr users add` prints a generated password once; passwd prints a different one."""
    # The command's logging set-up would outlive this test (stderr captured here, then closed).
    monkeypatch.setattr(logs, "configure", lambda *_args, **_kwargs: None)
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite:///{tmp_path / 'users.db'}")
    config = ["--config", str(REPO / "config")]
    assert cli.main([*config, "users", "add", "wang", "--role", "operator",
                     "--operator", "op1001"]) == 0
    first = re.fullmatch(r"wang \(operator, op1001\): password (\S+)\n",
                         capsys.readouterr().out).group(1)
    assert cli.main([*config, "users", "passwd", "wang"]) == 0
    second = capsys.readouterr().out.split("password ")[1].strip()
    assert second != first
    assert cli.main([*config, "users", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("wang\toperator\top1001\tenabled")
    assert first not in listed
    assert second not in listed
    assert cli.main([*config, "users", "add", "wang"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert cli.main([*config, "users", "add", "li", "--operator", "op0000"]) == 2
