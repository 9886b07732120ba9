"""Replacing a file whole: a reader sees the old text or the new, never half of it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, keep ``path``'s owner, rename it
    over ``path`` (blocking: run in a thread from the event loop)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    with contextlib.suppress(OSError):
        os.chown(tmp, path.stat().st_uid, path.stat().st_gid)
    tmp.replace(path)
