"""Published versions of a document (a flow, a configuration file): what is the same for
both, whatever the document: its digest, the version a rollback brings back, the diff an
admin reads before publishing or rolling back."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Sequence

from ivr.core.records import FlowVersion
from ivr.core.words import N_, Words
from ivr.errors import Refused


def digest_of(text: str) -> str:
    """A document's short digest: equal texts, equal digests (what nodes compare)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def rollback_target(versions: Sequence[FlowVersion], live_digest: str) -> FlowVersion:
    """The version published before the live one (``versions`` oldest first); ``Refused``
    when there is none."""
    live = [i for i, v in enumerate(versions) if v.digest == live_digest]
    if not live or live[-1] == 0:
        raise Refused(Words(N_("no earlier published version to roll back to")))
    return versions[live[-1] - 1]


def text_diff(before: str, after: str, before_name: str = "live",
              after_name: str = "edited") -> str:
    """A unified diff from ``before`` to ``after`` ("" when they are the same)."""
    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=before_name, tofile=after_name,
    ))
