"""A newcomer's first run, as a new user meets it: a fresh HOME and state directory, no
secrets file, the command `make run` starts, then a test call.

It runs in network, mount and PID namespaces of its own (root, as the test bed needs anyway): its
own loopback, so the README's default ports are free while the suite's test bed keeps
running; and its own copy of the built test bed (the image cache may be reused, as on any
machine that has built it once) with Asterisk's database removed, so no operator is a queue
member unless this run logs them in through AMI. Nothing of the suite's state is visible to
it, and nothing it does reaches the suite's Asterisk; whatever happens, nothing it started
outlives it (the PID namespace ends with its first process).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ivr import settings
from ivr.testbed.sandbox import Sandbox

pytestmark = pytest.mark.asterisk

# Runs inside the namespaces: `ivr run` as `make run` starts it, /healthz until the AMI link
# is up, `ivr call --digits 12`, then Ctrl-C; prints what a user would have seen, as JSON.
DRIVER = textwrap.dedent('''
    import json, signal, subprocess, sys, time, urllib.request
    ivr, log = sys.argv[1], sys.argv[2]
    seen = {"health": None, "call": None, "call_exit": None, "stopped": None}
    with open(log, "w") as out:
        run = subprocess.Popen([ivr, "run"], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and run.poll() is None:
            try:
                with urllib.request.urlopen("http://127.0.0.1:8080/healthz", timeout=2) as r:
                    seen["health"] = json.loads(r.read())
            except Exception as exc:  # 503 while AMI is down, refused before the web is up
                body = getattr(exc, "read", lambda: b"")()
                seen["health"] = json.loads(body) if body else {"error": str(exc)}
            if seen["health"].get("ami_connected"):
                break
            time.sleep(1)
        time.sleep(3)  # the simulated operators log in once the application is up
        if seen["health"] and seen["health"].get("ami_connected"):
            call = subprocess.run([ivr, "call", "--digits", "12", "--timeout", "30"],
                                  capture_output=True, text=True, timeout=150)
            seen["call"], seen["call_exit"] = call.stdout + call.stderr, call.returncode
    finally:
        run.send_signal(signal.SIGINT)
        try:
            seen["stopped"] = run.wait(60)
        except subprocess.TimeoutExpired:
            run.kill()
            seen["stopped"] = "killed"
    print(json.dumps(seen))
''')


@pytest.mark.timeout(480)
def test_a_newcomers_first_run_answers_a_call(tmp_path: Path) -> None:
    """From nothing (fresh HOME and state, no secrets file): `ivr run` logs in to AMI, the
    simulated operators log in, and `ivr call --digits 12` is answered by Li Wei (inquiry);
    Ctrl-C stops the Asterisk it started."""
    cfg = settings.load()
    box = Sandbox(cfg)
    if not box.built:
        box.build()
    cache = tmp_path / "cache"
    cache.mkdir()
    copy = cache / box.root.name
    # -x: not into the running test bed's /proc.
    subprocess.run(["cp", "-ax", str(box.root), str(copy)], check=True, timeout=300)
    for stale in ("var/lib/asterisk/astdb.sqlite3", "var/run/asterisk/asterisk.ctl",
                  "var/run/asterisk/asterisk.pid"):
        (copy / stale).unlink(missing_ok=True)
    home = tmp_path / "home"
    home.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    log = tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IVR_", "XDG_"))} | {"HOME": str(home)}
    ivr = str(Path(sys.executable).parent / "ivr")
    inner = (f"ip link set lo up && mount --bind {cache} {cfg.sandbox.cache_dir} && "
             f"exec {sys.executable} {driver} {ivr} {log}")
    try:
        done = subprocess.run(
            ["unshare", "--net", "--mount", "--propagation", "private", "--pid", "--fork",
             "--mount-proc", "sh", "-c", inner],
            capture_output=True, text=True, timeout=420, env=env, cwd=cfg.project_dir,
            check=False,
        )
    finally:
        shutil.rmtree(copy, ignore_errors=True)  # 0.6 GB: not left for pytest's tmp keeping
    output = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    assert done.returncode == 0, f"{done.stderr}\n--- ivr run said:\n{output[-3000:]}"
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    problem = f"{seen}\n--- ivr run said:\n{output[-3000:]}"
    assert seen["health"] is not None, problem
    assert seen["health"].get("ami_connected") is True, problem
    assert "answered by Li Wei" in (seen["call"] or ""), problem
    assert seen["call_exit"] == 0, problem
    assert seen["stopped"] == 0, problem
    assert "Authentication failed" not in output, problem
    assert "Web accounts created" in output, problem
    assert (home / ".local/state/ivr/secrets.json").exists(), problem
    assert "stopping the Asterisk test bed it started" in output, problem
