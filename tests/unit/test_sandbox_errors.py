"""The test bed explains why it cannot work instead of failing with a traceback."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivr import settings
from ivr.errors import SandboxError
from ivr.testbed.sandbox import Sandbox, host_mirror


def sandbox_in(tmp_path: Path, mirror: str = "") -> Sandbox:
    cfg = settings.load()
    box = dataclasses.replace(cfg.sandbox, cache_dir=tmp_path / "cache", mirror=mirror)
    return Sandbox(dataclasses.replace(cfg, sandbox=box))


def test_not_root_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without root the build refuses with a sentence saying so."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match="needs root"):
        sandbox_in(tmp_path).build()


def test_unreachable_registry_is_a_clear_error(tmp_path: Path) -> None:
    """A mirror that cannot be reached fails the build with the log's last lines and a hint."""
    if os.geteuid() != 0:
        pytest.fail("the test bed tests run as root (see README)")
    with pytest.raises(SandboxError, match="debootstrap failed") as info:
        sandbox_in(tmp_path, mirror="http://registry.invalid/debian").build()
    assert "no network to the Debian registry" in str(info.value)
    assert not any((tmp_path / "cache").glob("root-*[!g]")), "no half-built root left as ready"


def test_cli_status_of_a_test_bed_not_built(tmp_path: Path) -> None:
    """`ivr sandbox status` says plainly that nothing is built, and exits non-zero."""
    config = tmp_path / "config"
    source = Path(settings.PROJECT_DIR) / "config"
    subprocess.run(["cp", "-r", str(source), str(config)], check=True)
    toml = config / "ivr.toml"
    text = toml.read_text().replace(
        'cache_dir = "/var/cache/ivr-sandbox"', f'cache_dir = "{tmp_path / "cache"}"'
    ).replace('mirror = ""', 'mirror = "http://registry.invalid/x"')
    toml.write_text(text)
    def ivr(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ivr", "--config", str(config), *args],
            capture_output=True, text=True, check=False,
        )

    status = ivr("sandbox", "status")
    assert status.returncode == 3
    assert "not built" in status.stdout
    up = ivr("sandbox", "up")
    assert up.returncode == 1
    assert "debootstrap failed" in up.stderr
    assert "Traceback" not in up.stderr


def apt_dir(tmp_path: Path, files: dict[str, str], codename: str = "bookworm") -> Path:
    """An /etc-like directory with apt sources and an os-release."""
    etc = tmp_path / "etc"
    (etc / "apt" / "sources.list.d").mkdir(parents=True)
    (etc / "os-release").write_text(f'ID=debian\nVERSION_CODENAME={codename}\n')
    for name, text in files.items():
        (etc / "apt" / name).write_text(text)
    return etc / "apt"


def test_mirror_comes_from_the_hosts_deb822_sources(tmp_path: Path) -> None:
    """A local mirror in the host's deb822 sources is the test bed's mirror; third-party
    and security sources are not."""
    apt = apt_dir(tmp_path, {"sources.list.d/aaa-vendor.sources": (
        "Types: deb\nURIs: https://vendor.example/apt\nSuites: nodistro\nComponents: main\n"
    ), "sources.list.d/debian.sources": (
        "Types: deb\n# a comment\nURIs: http://mirror.local:3142/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.local:3142/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\n"
    )})
    assert host_mirror(apt) == "http://mirror.local:3142/debian"


def test_mirror_comes_from_a_one_line_sources_list(tmp_path: Path) -> None:
    """The classic one-line format, with options in brackets; deb-src lines are skipped."""
    apt = apt_dir(tmp_path, {"sources.list": (
        "# deb http://old.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://apt.local/debian "
        "bookworm main contrib\n"
    )})
    assert host_mirror(apt) == "http://apt.local/debian"


def test_no_debian_source_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """No mirror in the host's apt sources and none configured: the build says what to set."""
    apt = apt_dir(tmp_path, {"sources.list": "deb https://vendor.example/apt nodistro main\n"})
    assert host_mirror(apt) == ""
    monkeypatch.setattr("ivr.testbed.sandbox.host_mirror", lambda: "")
    with pytest.raises(SandboxError, match=r"\[sandbox\] mirror"):
        sandbox_in(tmp_path).build()
