"""constraints.txt (``make lock``) pins every dependency at the version the suite runs with, so
a fresh install (``make setup``, CI) gets what was tested."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not a name==version pin"
            found[canonical(name)] = version.strip()
    return found


def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    return {canonical(re.split(r"[\s<>=!~\[;]", r, maxsplit=1)[0]) for r in requirements}


def test_every_declared_dependency_is_pinned() -> None:
    missing = declared() - set(pins())
    assert not missing, f"not in constraints.txt (run `make lock`): {sorted(missing)}"


def test_the_suite_runs_on_the_pinned_versions() -> None:
    differs = {}
    for name, version in pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version:
            differs[name] = f"pinned {version}, installed {installed}"
    assert not differs, f"run `make setup` again (or `make lock`): {differs}"
