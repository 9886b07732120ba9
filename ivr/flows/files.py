"""Reading flow files and the prompt catalog (the core parses and validates their text).

Every reading problem is a ``FlowProblem`` or a ``FlowError`` naming the file, never an
``OSError``: ``ivr flow check``, the watcher and the admin pages report them like any other.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from ivr.core.flow import CallFlow, PromptCatalog, load_flow, parse_catalog, parse_flow, validate
from ivr.errors import FlowError, FlowProblem


def load_flow_file(path: str | Path) -> CallFlow:
    """Read and parse a flow file; FlowError (never OSError) when unreadable or invalid."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError([FlowProblem(str(path), 1, "", f"cannot read flow: {exc}")]) from exc
    return load_flow(text, str(path))


def load_catalog(path: str | Path) -> PromptCatalog:
    """Read and parse the catalog file; FlowError (never OSError) when unreadable or invalid."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowError([FlowProblem(str(path), 1, "", f"cannot read catalog: {exc}")]) from exc
    return parse_catalog(text, str(path))


def check_paths(
    paths: Sequence[str | Path],
    catalog_path: str | Path,
    skills: Collection[str],
    schedules: Collection[str] = (),
    languages: Collection[str] = (),
) -> list[FlowProblem]:
    """Parse and validate each flow file against the catalog; every problem of every file.

    Unreadable files and catalog problems are problems too, never exceptions. An empty list
    means every file may be published.
    """
    problems: list[FlowProblem] = []
    try:
        catalog: PromptCatalog | None = load_catalog(catalog_path)
    except FlowError as exc:
        problems += exc.problems
        catalog = None
    except (UnicodeDecodeError, RecursionError) as exc:
        # load_catalog lets a non-UTF-8 or too deeply nested file through as these.
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        problems.append(FlowProblem(str(catalog_path), 1, "", f"cannot read catalog: {reason}"))
        catalog = None
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(FlowProblem(str(path), 1, "", f"cannot read flow: {exc}"))
            continue
        flow, found = parse_flow(text, str(path))
        problems += found
        if flow is not None and catalog is not None:
            problems += validate(flow, catalog, skills, schedules, languages)
    return problems
