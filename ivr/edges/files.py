"""Replacing a file whole: a reader sees the old text or the new, never half of it; files that
hold secrets or callers' data are private from the moment they exist."""

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


def write_private(
    path: Path, text: str, *, mode: int = 0o600, owner: tuple[int, int] | None = None
) -> None:
    """Write ``text`` to ``path`` whole (temporary file, then rename), created readable by its
    owner only whatever the umask, handed to ``owner`` (uid, gid) and given ``mode`` only then
    (blocking: run in a thread from the event loop)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # a leftover temporary file may have had any mode
        if owner is not None:
            os.fchown(out.fileno(), *owner)
        out.write(text)
        if mode != 0o600:
            os.fchmod(out.fileno(), mode)
    os.replace(tmp, path)


def make_private(path: Path) -> None:
    """Create ``path`` empty if it does not exist, readable by its owner only; tighten an
    existing one (and its SQLite companions, ``-wal``, ``-shm``, ``-journal``) to 0600."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(path.name + suffix), 0o600)


def read_new_lines(
    path: Path, offset: int, inode: int, max_bytes: int
) -> tuple[list[tuple[int, str]], int, int]:
    """The complete lines of ``path`` after byte ``offset`` (at most ``max_bytes`` of them),
    each with the offset where it starts, for a log Asterisk appends to: ``(lines, next
    offset, inode)``. A file replaced (rotated: another inode) or cut shorter than ``offset``
    is read from its start; a missing file gives nothing. A last line not yet ended by a
    newline is left for the next read; bytes that are not UTF-8 are replaced, never fatal.
    Blocking: run it in a thread."""
    try:
        with path.open("rb") as f:
            info = os.fstat(f.fileno())
            if info.st_ino != inode or info.st_size < offset:
                offset = 0
            f.seek(offset)
            data = f.read(max_bytes)
    except FileNotFoundError:
        return [], offset, inode
    end = data.rfind(b"\n") + 1
    if end == 0 and len(data) >= max_bytes:
        end = len(data)  # one line longer than a whole read: skipped as garbage
    lines: list[tuple[int, str]] = []
    position = 0
    for raw in data[:end].split(b"\n"):
        if raw:
            lines.append((offset + position, raw.decode("utf-8", errors="replace")))
        position += len(raw) + 1
    return lines, offset + end, info.st_ino


def file_end(path: Path) -> tuple[int, int]:
    """``(size, inode)`` of ``path``; ``(0, 0)`` when it does not exist. Blocking."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return 0, 0
    return info.st_size, info.st_ino
