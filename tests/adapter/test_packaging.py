"""`pip install .` (not editable) into a fresh venv gives a working `ivr`, outside the checkout.

The fresh venv borrows the test venv's dependencies through a .pth file (so the test installs
only this package, not Vosk again); the package itself is built and installed the way a user
would, and run from an empty directory with an empty HOME and state directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n",
                                          encoding="utf-8")
    subprocess.run([str(venv / "bin/pip"), "install", "-q", "--no-deps", str(CHECKOUT)],
                   check=True, timeout=600)
    return venv


def run(venv: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("IVR_") and k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    clean.update(HOME=str(cwd / "home"), IVR_STATE_DIR=str(cwd / "state"), **env)
    return subprocess.run([str(venv / "bin/ivr"), *args], cwd=cwd, env=clean,
                          capture_output=True, text=True, timeout=120, check=False)


def test_installed_package_checks_its_own_config_and_flow(installed: Path,
                                                          tmp_path: Path) -> None:
    done = run(installed, tmp_path, "config", "check")
    assert done.returncode == 0, done.stderr
    assert "config ok" in done.stdout
    done = run(installed, tmp_path, "flow", "check")
    assert done.returncode == 0, done.stderr
    [templates] = list(installed.glob("lib/python3*/site-packages/ivr/web/templates"))
    assert (templates / "console.html").is_file()
    [scenarios] = list(installed.glob("lib/python3*/site-packages/ivr/testbed/sipp"))
    assert (scenarios / "citizen.xml").is_file()


def test_init_writes_an_editable_home_that_the_installed_package_uses(
    installed: Path, tmp_path: Path
) -> None:
    home = tmp_path / "hotline"
    done = run(installed, tmp_path, "init", str(home))
    assert done.returncode == 0, done.stderr
    assert (home / "config/ivr.toml").is_file()
    assert (home / "dialplans/12345.yaml").is_file()
    # An edit in the copy is what the installed package now reads.
    skills = home / "config/skills.yaml"
    skills.write_text(skills.read_text(encoding="utf-8") + "\nnot: [valid\n", encoding="utf-8")
    done = run(installed, tmp_path, "config", "check", IVR_HOME=str(home))
    assert done.returncode == 2
    assert "skills.yaml" in done.stderr
    again = run(installed, tmp_path, "init", str(home))
    assert again.returncode == 1
    assert "already has" in again.stderr


def test_the_system_service_unit_runs_the_installed_ivr(installed: Path, tmp_path: Path) -> None:
    """The shipped systemd unit (Debian layout: /etc/ivr, /var/lib/ivr, a venv in /opt/ivr)
    is installed with the package, passes `systemd-analyze verify` once pointed at this
    install's `ivr`, and its `ExecStartPre` (`ivr config check`) passes in the layout it sets
    up; the monitoring files come along."""
    [share] = list(installed.glob("share/ivr"))
    unit = (share / "config/systemd/ivr.service").read_text(encoding="utf-8")
    assert (share / "config/monitoring/alerts.yaml").is_file()
    assert (share / "config/monitoring/grafana-dashboard.json").is_file()
    assert (share / "config/schema/operators.yaml.schema.json").is_file()  # for editors
    assert "ExecStart=/opt/ivr/bin/ivr serve" in unit
    assert "User=ivr" in unit
    assert "NoNewPrivileges=yes" in unit
    local = tmp_path / "ivr.service"
    local.write_text(unit.replace("/opt/ivr/bin/ivr", str(installed / "bin/ivr")),
                     encoding="utf-8")
    verified = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True,
                              text=True, timeout=60, check=False)
    assert verified.returncode == 0, verified.stderr
    assert "ivr.service" not in verified.stderr, verified.stderr  # no warning about the unit
    home = tmp_path / "etc-ivr"
    assert run(installed, tmp_path, "init", str(home)).returncode == 0
    checked = run(installed, tmp_path, "config", "check", IVR_HOME=str(home))
    assert checked.returncode == 0, checked.stderr


def test_installed_package_ships_its_compiled_catalogs(installed: Path, tmp_path: Path) -> None:
    """The web's zh_CN and en catalogs come with `pip install .` (no build step needed)."""
    script = ("import sys; from ivr.edges.translations import load_catalogs; "
              "from ivr.web.i18n import LOCALE_DIR; "
              "assert 'site-packages' in str(LOCALE_DIR), LOCALE_DIR; "
              "c = load_catalogs(LOCALE_DIR); "
              "print(c['zh_CN'].gettext('No call right now.'), c['en'].gettext('Log in'))")
    clean = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run([str(installed / "bin/python"), "-c", script], cwd=tmp_path,
                          env=clean, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["当前没有来电。", "Log", "in"]
