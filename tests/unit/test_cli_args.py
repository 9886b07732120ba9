"""The command line accepts what the README and BENCHMARKS.md show."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ivr import settings
from ivr.cli import parse_args
from ivr.core.asterisk_render import INCLUDED_IN
from ivr.tools.asterisk_files import asterisk_files


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


def test_asterisk_render_include_leaves_the_users_own_files_alone(tmp_path: Path) -> None:
    """For an existing Asterisk, `ivr asterisk render DIR --include` writes only ivr-<file>
    include files, even into the user's own /etc/asterisk: their files (modules.conf
    included) keep every byte; each include holds every section of the hotline's own
    rendering but the sections the user's file owns ([general], [global], the transport);
    the files with a secret are 0600; it prints the one line to add to each file."""
    target = tmp_path / "etc-asterisk"
    target.mkdir()
    theirs = {
        "modules.conf": "[modules]\nautoload = yes\nnoload = chan_sip.so\n",
        "manager.conf": "[general]\nenabled = yes\nport = 5038\n\n[admin]\nsecret = theirs\n",
        "pjsip.conf": "[transport-udp]\ntype = transport\nprotocol = udp\nbind = 0.0.0.0\n",
        "queues.conf": "[general]\npersistentmembers = yes\n\n[sales]\nstrategy = ringall\n",
        "extensions.conf": "[general]\nstatic = yes\n\n[from-trunk]\nexten => _X.,1,Dial(x)\n",
        "features.conf": "[general]\n\n[featuremap]\nblindxfer => #1\n",
    }
    for name, text in theirs.items():
        (target / name).write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.umask(0o022); from ivr.cli import main; "
         "sys.exit(main())", "asterisk", "render", str(target), "--include"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert {name: (target / name).read_text(encoding="utf-8") for name in theirs} == theirs
    written = {p.name for p in target.iterdir()} - set(theirs)
    assert written == {f"ivr-{name}" for name in INCLUDED_IN}
    for name in INCLUDED_IN:
        assert f'{name}: #include "ivr-{name}"' in done.stdout

    cfg = settings.load()
    full = asterisk_files(cfg, cfg.ami.secret)

    def sections(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.startswith("[")]

    owned = {"[general]", "[global]", "[transport-udp]", "[applicationmap]"}
    for name in INCLUDED_IN:
        included = (target / f"ivr-{name}").read_text(encoding="utf-8")
        expected = [s.replace("[featuremap]", "[featuremap](+)") for s in sections(full[name])
                    if s not in owned]
        assert expected, name
        assert sections(included) == expected, name
    # The entry, the operators, the queues and the AMI user are there; nothing of the
    # test bed's own files (modules, logger, asterisk.conf) is written.
    assert "[citizens]" in sections((target / "ivr-extensions.conf").read_text())
    assert f"[{cfg.ami.username}]" in sections((target / "ivr-manager.conf").read_text())
    modes = {n: stat.S_IMODE((target / n).stat().st_mode) for n in written}
    assert modes["ivr-manager.conf"] == modes["ivr-extensions.conf"] == 0o600
    assert modes["ivr-queues.conf"] == 0o644
