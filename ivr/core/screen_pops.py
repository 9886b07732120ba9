"""A screen pop: what an operator's console shows the moment app_queue rings them. Pure.

It travels between application nodes as ``to_dict()`` (JSON) and comes back through
``pop_from_dict``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.core.words import from_json, lines_json, say


@dataclass(frozen=True, slots=True)
class ScreenPop:
    """One call offered to one operator, with what the IVR learnt about the caller.

    ``transcript`` is what the caller said (empty for keys only), ``intent`` the recognised
    intent, ``category`` the case category suggested for it, ``urgency`` e.g. "normal" or
    "emergency" (kept even when the caller was not sure and used keys); ``speech_words``,
    ``speech_band`` and ``speech_confirmed`` say how sure the recogniser was and whether the
    caller confirmed. ``previous_cases`` holds the caller's earlier cases as string maps (number,
    category, status, created_at). ``at`` is when the pop was made (ISO 8601).
    """

    call_id: str
    operator_id: str
    caller: str
    caller_name: str = ""
    language: str = ""
    queue: str = ""
    skill: str = ""
    transcript: str = ""
    intent: str = ""
    category: str = ""
    urgency: str = "normal"
    speech_words: str = ""  # every word heard with its confidence ("소음 0.82 너무 0.41")
    speech_band: str = ""  # accept, confirm or reject (ivr.core.triage); "" for keys only
    speech_confirmed: str = ""  # the caller's answer when asked to confirm: yes, no, no_answer
    route_reasons: tuple[str, ...] = ()
    # What app_queue did with the call until this operator's phone rang (who was skipped
    # and why, who was rung before): ``ivr.core.routing.QueueOutcome``.
    queue_outcome: tuple[str, ...] = ()
    previous_cases: tuple[dict[str, str], ...] = field(default=())
    at: str = ""

    def __post_init__(self) -> None:
        if not self.call_id:
            raise ValueError("call_id must not be empty")
        if not self.operator_id:
            raise ValueError("operator_id must not be empty")
        # Callers may hand lists or mappings of any kind; keep immutable, string-only copies so
        # a pop already queued for a console cannot change under it.
        object.__setattr__(self, "route_reasons", tuple(_line(r) for r in self.route_reasons))
        object.__setattr__(self, "queue_outcome", tuple(_line(r) for r in self.queue_outcome))
        object.__setattr__(
            self,
            "previous_cases",
            tuple(_string_map(case) for case in self.previous_cases),
        )

    def to_dict(self, translate: Callable[[str], str] | None = None) -> dict[str, Any]:
        """A JSON-ready mapping (lists for the tuples). With ``translate`` (a gettext), the
        reasons and the queue's account are said in its language (for a console); without,
        they keep their templates (``ivr.core.words``: for another node)."""
        def lines(values: tuple[str, ...]) -> list[object]:
            return lines_json(values) if translate is None else [
                say(v, translate) for v in values]

        return {
            "call_id": self.call_id,
            "operator_id": self.operator_id,
            "caller": self.caller,
            "caller_name": self.caller_name,
            "language": self.language,
            "queue": self.queue,
            "skill": self.skill,
            "transcript": self.transcript,
            "intent": self.intent,
            "category": self.category,
            "urgency": self.urgency,
            "speech_words": self.speech_words,
            "speech_band": self.speech_band,
            "speech_confirmed": self.speech_confirmed,
            "route_reasons": lines(self.route_reasons),
            "queue_outcome": lines(self.queue_outcome),
            "previous_cases": [dict(case) for case in self.previous_cases],
            "at": self.at,
        }

    def to_json(self) -> str:
        """The pop as JSON text (UTF-8 characters kept as they are)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


def _line(value: object) -> str:
    line = from_json(value)
    return line if isinstance(line, str) else str(line)


def _string_map(case: Mapping[str, object]) -> dict[str, str]:
    return {str(key): "" if value is None else str(value) for key, value in case.items()}


_LISTS = ("route_reasons", "queue_outcome", "previous_cases")
_FIELDS = frozenset(f.name for f in dataclasses.fields(ScreenPop))


def pop_from_dict(data: Mapping[str, Any]) -> ScreenPop:
    """The ``ScreenPop`` of a ``to_dict()`` mapping that travelled as JSON (lists back to
    tuples; keys it does not know, e.g. from a newer node or ``fit``'s marker, ignored).
    ``ValueError`` or ``TypeError`` when it is not a pop."""
    fields = {key: value for key, value in data.items() if key in _FIELDS}
    for name in _LISTS:
        value = fields.get(name, ())
        if not isinstance(value, list | tuple):
            raise TypeError(f"{name} must be a list, got {type(value).__name__}")
        fields[name] = tuple(value)
    for name, value in fields.items():
        if name not in _LISTS and not isinstance(value, str):
            raise TypeError(f"{name} must be text, got {type(value).__name__}")
    for case in fields["previous_cases"]:
        if not isinstance(case, Mapping):
            raise TypeError("previous_cases must hold mappings")
    return ScreenPop(**fields)
