"""The process's file-descriptor budget: every listener (web, FastAGI, AudioSocket), the
database and the AMI link share it.

Debian starts services with a soft limit of 1,024 open files; idle web connections alone
could use it up, and then FastAGI could not accept and every call would skip the IVR. At
start the soft limit is raised to the hard one (at most ``WANTED``); ``/healthz`` shows both
the limit and how many are open.
"""

from __future__ import annotations

import os
import resource
from typing import Final

WANTED: Final = 65536


def raise_open_files_limit(wanted: int = WANTED) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (never above the hard limit, never
    lower than it is); the soft limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


def open_files_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_files() -> int:
    """File descriptors open in this process now (Linux: /proc/self/fd, a quick listing)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1
