"""The layering of ``ivr/``, checked on the source (``ast``), one test per module and rule.

- the core (``ivr.core``) imports only the core, ``ivr.errors``, the standard library and
  PyYAML, never asyncio, a clock, sockets, threads, processes or the file system, and never
  reads a file or the clock;
- nothing outside ``ivr.testbed`` imports the test bed, but the command line's test-bed
  commands (lazily, inside the command);
- the web never imports the composition root (``ivr.app``);
- each third-party library is imported in its one wrapper room;
- ``ivr.errors`` draws the exception tree the package really has.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import ivr
from ivr import errors

PACKAGE = Path(ivr.__file__).resolve().parent

# Standard-library modules the core may not use: it is given time and data, never fetches them.
CORE_FORBIDDEN = frozenset({
    "asyncio", "time", "socket", "selectors", "ssl", "threading", "concurrent", "multiprocessing",
    "subprocess", "os", "shutil", "tempfile", "signal", "sqlite3", "io", "glob", "pwd",
})
CORE_THIRD_PARTY = frozenset({"yaml"})
# Calls that read the clock or touch files.
CORE_FORBIDDEN_CALLS = frozenset({
    "open", "now", "today", "utcnow", "read_text", "write_text", "read_bytes", "write_bytes",
    "mkdir", "unlink", "iterdir", "glob", "exists", "stat", "touch", "rmdir",
})
# Third-party libraries and the rooms allowed to import them.
WRAPPED = {
    "panoramisk": ("ivr.edges.ami",),
    "vosk": ("ivr.edges.vosk",),
    "pydub": ("ivr.edges.audio",),
    "webrtcvad": ("ivr.edges.vad",),
    "psycopg": ("ivr.edges.bus",),
    "sqlalchemy": ("ivr.edges.storage",),
    "argon2": ("ivr.accounts.passwords",),
    "aiohttp": ("ivr.web",),
    "aiohttp_jinja2": ("ivr.web",),
    "jinja2": ("ivr.web",),
    "xlsxwriter": ("ivr.edges.xlsx",),
    "babel": ("ivr.edges.translations",),
    "prometheus_client": ("ivr.edges.metrics",),
    "pydantic": ("ivr.edges.schema",),
}
STANDARD = frozenset(sys.stdlib_module_names)


@dataclass(frozen=True)
class Import:
    module: str  # the dotted module (or, for "from ivr import x", ivr.x)
    line: int
    lazy: bool  # inside a function: only when that function runs


def imports_of(source: str) -> list[Import]:
    """Every module a source file imports, and whether at module level."""
    tree = ast.parse(source)
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend(Import(alias.name, child.lineno, lazy) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.append(Import(child.module, child.lineno, lazy))
                if child.module == "ivr":
                    found.extend(Import(f"ivr.{alias.name}", child.lineno, lazy)
                                 for alias in child.names)
            visit(child, inner)

    visit(tree, False)
    return found


def calls_of(source: str) -> list[tuple[str, int]]:
    """The name of every function or method called (``x.read_text()`` -> read_text)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            out.append((name, node.lineno))
    return out


def within(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def core_problems(source: str) -> list[str]:
    problems = []
    for imp in imports_of(source):
        top = imp.module.split(".")[0]
        if top == "ivr":
            if not (within(imp.module, "ivr.core") or imp.module == "ivr.errors"):
                problems.append(f"line {imp.line}: imports the shell ({imp.module})")
        elif top in CORE_FORBIDDEN:
            problems.append(f"line {imp.line}: imports {imp.module}")
        elif top not in STANDARD and top not in CORE_THIRD_PARTY and top != "__future__":
            problems.append(f"line {imp.line}: imports the library {imp.module}")
    problems += [f"line {line}: calls {name}()" for name, line in calls_of(source)
                 if name in CORE_FORBIDDEN_CALLS]
    return problems


def bed_problems(module: str, source: str) -> list[str]:
    if within(module, "ivr.testbed"):
        return []
    return [f"line {imp.line}: imports the test bed ({imp.module})"
            for imp in imports_of(source) if within(imp.module, "ivr.testbed")
            and not (module == "ivr.cli" and imp.lazy)]


def web_problems(module: str, source: str) -> list[str]:
    if not within(module, "ivr.web"):
        return []
    return [f"line {imp.line}: imports the composition root ({imp.module})"
            for imp in imports_of(source) if within(imp.module, "ivr.app")]


def wrapper_problems(module: str, source: str) -> list[str]:
    problems = []
    for imp in imports_of(source):
        rooms = WRAPPED.get(imp.module.split(".")[0])
        if rooms is not None and not any(within(module, room) for room in rooms):
            problems.append(f"line {imp.line}: imports {imp.module} (only in {', '.join(rooms)})")
    return problems


def modules() -> list[tuple[str, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append((name, path.read_text(encoding="utf-8")))
    return out


MODULES = modules()
CORE = [(name, source) for name, source in MODULES if within(name, "ivr.core")]


def test_the_rooms_are_there() -> None:
    """The checks below look at real modules: the core and the shell are both found."""
    names = {name for name, _ in MODULES}
    assert len(CORE) >= 20
    assert {"ivr.app", "ivr.cli", "ivr.web.api", "ivr.testbed.sandbox",
            "ivr.edges.storage.store", "ivr.core.flow.engine"} <= names


@pytest.mark.parametrize(("module", "source"), CORE, ids=[name for name, _ in CORE])
def test_the_core_is_pure(module: str, source: str) -> None:
    """A core module imports no shell, no asyncio, clock, socket or file system, and calls
    nothing that reads the clock or a file."""
    assert core_problems(source) == [], module


@pytest.mark.parametrize(("module", "source"), MODULES, ids=[name for name, _ in MODULES])
def test_product_code_never_imports_the_test_bed(module: str, source: str) -> None:
    """Only the test bed (and the command line's test-bed commands, lazily) reach it."""
    assert bed_problems(module, source) == [], module


@pytest.mark.parametrize(("module", "source"), MODULES, ids=[name for name, _ in MODULES])
def test_the_web_does_not_import_the_application(module: str, source: str) -> None:
    """The web is handed typed services; it never imports ``ivr.app``."""
    assert web_problems(module, source) == [], module


@pytest.mark.parametrize(("module", "source"), MODULES, ids=[name for name, _ in MODULES])
def test_each_library_is_imported_in_its_wrapper(module: str, source: str) -> None:
    """panoramisk, vosk, pydub, psycopg, SQLAlchemy, argon2 and aiohttp each have one room."""
    assert wrapper_problems(module, source) == [], module


@pytest.mark.parametrize(("source", "finds"), [
    ("import asyncio\n", "imports asyncio"),
    ("from time import time\n", "imports time"),
    ("from ivr.edges.ami import AmiClient\n", "imports the shell"),
    ("import aiohttp\n", "imports the library"),
    ("def f(p):\n    return p.read_text()\n", "calls read_text()"),
    ("from datetime import datetime\nNOW = datetime.now()\n", "calls now()"),
    ("def f():\n    import socket\n", "imports socket"),
])
def test_the_core_check_catches_a_violation(source: str, finds: str) -> None:
    """The rules are not vacuous: a core module breaking one is reported."""
    assert any(finds in problem for problem in core_problems(source))


def test_the_other_checks_catch_a_violation() -> None:
    """Product code reaching the test bed, the web importing the application and a library
    outside its wrapper are reported; the command line's lazy test-bed import is not."""
    assert bed_problems("ivr.calls.agi_driver", "from ivr.testbed.sandbox import Sandbox\n")
    assert bed_problems("ivr.cli", "from ivr.testbed import sandbox\n")
    assert not bed_problems("ivr.cli", "def f():\n    from ivr.testbed import sandbox\n")
    assert web_problems("ivr.web.console", "if 1:\n    from ivr.app import Hotline\n")
    assert wrapper_problems("ivr.calls.agi_driver", "from panoramisk import Manager\n")


def _drawn_tree() -> set[str]:
    doc = errors.__doc__ or ""
    return set(re.findall(r"[├└]── (\w+)", doc)) | set(re.findall(r"^\s+(IvrError)$", doc, re.M))


def test_errors_draws_the_real_tree() -> None:
    """Every error the package defines is in ``ivr.errors``, drawn under its real parents."""
    loaded = [importlib.import_module(info.name)
              for info in pkgutil.walk_packages(ivr.__path__, "ivr.")
              if not info.name.startswith("ivr.testbed") and info.name != "ivr.__main__"]
    defined: dict[str, type[BaseException]] = {
        name: obj for module in loaded for name, obj in vars(module).items()
        if inspect.isclass(obj) and issubclass(obj, errors.IvrError)
        and obj.__module__ == module.__name__
    }
    assert {cls.__module__ for cls in defined.values()} == {"ivr.errors"}
    assert set(defined) == _drawn_tree()
    doc = errors.__doc__ or ""
    for name, cls in defined.items():
        # Each drawn child sits under (to the right of) each of its parents' lines.
        for parent in cls.__bases__:
            if parent is errors.IvrError or not issubclass(parent, errors.IvrError):
                continue
            parent_at = doc.index(f"── {parent.__name__} ")
            child_at = [m.start() for m in re.finditer(rf"── {name} ", doc)]
            assert any(at > parent_at for at in child_at), (name, parent.__name__)
