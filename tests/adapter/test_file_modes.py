"""The state directory after a first start: what holds secrets or callers' data is the
service user's alone, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from ivr import cli

# `ivr serve` as a new user runs it, under umask 022, up to the point where it would start
# serving (the state it leaves is made before that: secrets, database, first accounts).
FIRST_SERVE = """
import os, sys
os.umask(0o022)
import ivr.app

async def serve(cfg, stop=None):
    print("would serve now")

ivr.app.serve = serve
from ivr.cli import main
sys.exit(main(["serve"]))
"""


def test_a_first_serve_leaves_secrets_database_and_passwords_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "XDG_"))}
    env |= {"HOME": str(tmp_path / "home"), "IVR_STATE_DIR": str(state)}
    done = subprocess.run([sys.executable, "-c", FIRST_SERVE], capture_output=True, text=True,
                          timeout=60, check=False, env=env)
    assert done.returncode == 0, done.stderr
    assert "would serve now" in done.stdout
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in state.iterdir()}
    for name in ("secrets.json", "ivr.sqlite3", cli.PASSWORDS_FILE):
        assert modes.get(name) == 0o600, (name, modes)
    # The WAL and anything else left there (offsets, pending writes) are private as well.
    assert {name: mode for name, mode in modes.items() if mode != 0o600} == {}
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert "admin " in (state / cli.PASSWORDS_FILE).read_text(encoding="utf-8")
