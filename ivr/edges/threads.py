"""Worker threads the kernel knows by name: the only module that calls ``prctl`` (through
ctypes).

Python's thread names live in Python only: every thread of ``ivr serve`` shows the process's
name in ``/proc/<pid>/task/<tid>/comm``, so nothing outside the process (``top -H``, the load
benchmark) can tell the store's worker from the speech decoders or the event loop.
``named_pool`` makes a ``ThreadPoolExecutor`` whose threads each set their native name on
start (Linux ``PR_SET_NAME``: at most 15 bytes, longer names are cut by the kernel). Naming
costs one system call per thread, once; where there is no ``prctl`` (not Linux) or it fails,
the thread keeps its inherited name and works as before.

The names in use: ``ivr-store`` (the database's workers), ``ivr-speech`` (the recogniser's
decoding pool), ``ivr-argon2`` (password hashing). ``benchmarks/testbed_runs.py`` reads them
back to split the application's CPU.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final

PR_SET_NAME: Final = 15  # linux/prctl.h
NAME_BYTES: Final = 15  # TASK_COMM_LEN minus the terminating NUL

STORE: Final = "ivr-store"
SPEECH: Final = "ivr-speech"
PASSWORDS: Final = "ivr-argon2"


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL: Final = _prctl()


def name_this_thread(name: str) -> bool:
    """Give the calling thread ``name`` (cut to 15 bytes) as the kernel's thread name; True
    when it took. Never raises: a thread pool's initializer that raised would break the pool."""
    if _PRCTL is None:
        return False
    raw = name.encode("ascii", "replace")[:NAME_BYTES]
    try:
        return int(_PRCTL(PR_SET_NAME, ctypes.c_char_p(raw), 0, 0, 0)) == 0
    except (OSError, ctypes.ArgumentError):
        return False


def named_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A thread pool whose threads are ``name`` to the kernel (``/proc/.../comm``) and
    ``name_<n>`` to Python."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name,
                              initializer=name_this_thread, initargs=(name,))
