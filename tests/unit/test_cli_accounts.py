"""The first accounts' passwords reach the admin through a private file, not stdout."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from ivr import cli, settings


def test_serve_writes_passwords_to_a_private_file_not_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = dataclasses.replace(settings.load(), state_dir=tmp_path / "state")
    cli._hand_over_accounts([("admin", "Xq7-secret-pass")], cfg)
    out = capsys.readouterr().out
    path = cfg.state_dir / cli.PASSWORDS_FILE
    assert "Xq7-secret-pass" not in out
    assert str(path) in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "admin Xq7-secret-pass" in path.read_text(encoding="utf-8")


def test_the_demo_also_shows_them_and_later_accounts_are_appended(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = dataclasses.replace(settings.load(), state_dir=tmp_path / "state")
    cli._hand_over_accounts([("admin", "first-pass")], cfg)
    cli._hand_over_accounts([("op1001", "second-pass")], cfg, show=True)
    assert "second-pass" in capsys.readouterr().out
    text = (cfg.state_dir / cli.PASSWORDS_FILE).read_text(encoding="utf-8")
    assert "admin first-pass" in text
    assert "op1001 second-pass" in text
