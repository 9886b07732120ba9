"""Graphviz: the only module that runs ``dot`` (Debian's graphviz package).

``svg(dot_text)`` lays a DOT graph out as SVG with a deadline; a missing ``dot``, a layout
error or a timeout is a ``DrawingError`` saying which. It blocks: call it through
``asyncio.to_thread`` on the event loop's side.
"""

from __future__ import annotations

import shutil
import subprocess

from ivr.errors import DrawingError

DOT_TIMEOUT = 20.0  # seconds; a 300-node flow lays out in well under one


def svg(dot_text: str, timeout: float = DOT_TIMEOUT) -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise DrawingError("Graphviz is not installed (no `dot` on PATH): "
                           "apt-get install graphviz")
    try:
        done = subprocess.run([dot, "-Tsvg"], input=dot_text, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DrawingError(f"Graphviz did not lay the flow out within {timeout:g} s") from exc
    if done.returncode != 0:
        raise DrawingError(f"Graphviz failed: {done.stderr.strip()[:500]}")
    return done.stdout
