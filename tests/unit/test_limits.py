"""The file-descriptor budget: raised at start, never lowered."""

from __future__ import annotations

import resource
import subprocess
import sys


def test_the_open_files_limit_is_raised_to_the_hard_limit() -> None:
    """A process started with a soft limit of 256 (hard 4096) has 4096 after the raise."""
    code = (
        "import resource; "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096)); "
        "from ivr.edges.limits import raise_open_files_limit, open_files_limit; "
        "print(raise_open_files_limit(), open_files_limit())"
    )
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard == resource.RLIM_INFINITY or hard >= 4096
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == ["4096", "4096"]


def test_the_limit_is_never_lowered() -> None:
    """Asking for less than the soft limit in force changes nothing."""
    code = (
        "import resource; "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (2048, 4096)); "
        "from ivr.edges.limits import raise_open_files_limit; "
        "print(raise_open_files_limit(1024))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == ["2048"]
