"""The command line accepts what the README and BENCHMARKS.md show."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ivr import settings
from ivr.cli import parse_args


@pytest.mark.parametrize("argv", [
    ["bench", "load", "--json", "--", "--rates", "2,10,30", "--seconds", "15"],
    ["bench", "--json", "load", "--", "--rates", "2,10,30", "--seconds", "15"],
])
def test_bench_options_in_either_order(argv: list[str]) -> None:
    """`--json` before or after the benchmark's name; the script's options after `--`."""
    args = parse_args(argv)
    assert (args.what, args.json) == ("load", True)
    assert args.extra == ["--rates", "2,10,30", "--seconds", "15"]


def test_bench_without_script_options() -> None:
    """No `--`: the script gets no options of its own."""
    args = parse_args(["bench", "agi"])
    assert (args.what, args.json, args.extra) == ("agi", False, [])


def test_options_after_double_dash_are_only_for_bench(capsys: pytest.CaptureFixture[str]) -> None:
    """Another command given `--` options is refused with a reason."""
    with pytest.raises(SystemExit) as refused:
        parse_args(["call", "--digits", "12", "--", "--rates", "2"])
    assert refused.value.code == 2
    assert "only for `ivr bench`" in capsys.readouterr().err


def test_call_waits_a_bounded_time_for_an_operator() -> None:
    """`ivr call` waits 60 s for an operator unless told otherwise."""
    assert parse_args(["call", "--digits", "12"]).timeout == 60.0
    assert parse_args(["call", "--timeout", "5"]).timeout == 5.0


def test_asterisk_render_writes_secrets_private_whatever_the_umask(tmp_path: Path) -> None:
    """`ivr asterisk render DIR` under umask 022: manager.conf (AMI secret) and extensions.conf
    (FastAGI secret) are 0600 from the start; the rest stays readable."""
    target = tmp_path / "ast"
    done = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.umask(0o022); from ivr.cli import main; "
         "sys.exit(main())", "asterisk", "render", str(target)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in target.iterdir()}
    assert modes["manager.conf"] == 0o600
    assert modes["extensions.conf"] == 0o600
    assert modes["queues.conf"] == 0o644
    # Whichever file a secret ends up in is 0600 (found by its content, not by its name), and
    # no rendered file is writable by anyone but its owner.
    cfg = settings.load()
    secrets = (cfg.ami.secret, cfg.agi.secret)
    holding = {p.name for p in target.iterdir()
               if any(secret in p.read_text(encoding="utf-8") for secret in secrets)}
    assert {"manager.conf", "extensions.conf"} <= holding
    assert {name: modes[name] for name in holding} == dict.fromkeys(holding, 0o600)
    assert not {name: mode for name, mode in modes.items() if mode & 0o022}
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert not [name for name in modes if name.startswith(".")]  # no temporary file left
