"""Lines of plain words the application writes for people (why a call was routed, what the
queue did with it), sayable in each reader's language.

A ``Words`` is a ``str``: its value is the English text, so logs, the JSON API and every
comparison see what they always saw. It also keeps its message template (an English message
id of the web's catalog, marked with ``N_`` so ``make catalogs`` collects it) and the values
filled in, so a page shows it in the reader's language (``say``). Values may be ``Words``
themselves (a stage's reason inside "stage 2: ..."), said in the same language, or ``Ref``s:
an id (a department) whose English text is the id and which a page shows by its name.

Stored records keep both (``to_json`` / ``from_json``); a line stored before (a plain string)
stays a plain string and is shown as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def N_(message: str) -> str:
    """Mark ``message`` for the web's catalog (``make catalogs``); translated where shown."""
    return message


Namer = Callable[[str, str], str]
"""(kind, id) -> the name a reader knows it by (``Ref``)."""


class Ref(str):
    """An id in a line (``kind`` "department"): the id in English text, its name on a page."""

    __slots__ = ("kind",)
    kind: str

    def __new__(cls, kind: str, ident: str) -> Ref:
        self = super().__new__(cls, ident)
        self.kind = kind
        return self

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.kind, "id": str.__str__(self)}

    def __reduce__(self) -> tuple[Any, ...]:
        return (Ref, (self.kind, str.__str__(self)))


class Words(str):
    """English text with its template and values (see the module's docstring)."""

    __slots__ = ("template", "values")
    template: str
    values: Mapping[str, Any]

    def __new__(cls, template: str, **values: Any) -> Words:
        text = template % {name: str(value) for name, value in values.items()} \
            if values else template
        self = super().__new__(cls, text)
        self.template = template
        self.values = dict(values)
        return self

    def say(self, translate: Callable[[str], str], name: Namer | None = None) -> str:
        """The line in the language of ``translate`` (a gettext: English id -> text), its
        ``Ref``s by ``name``."""
        text = translate(self.template)
        if not self.values:
            return text
        filled = {key: say(value, translate, name) for key, value in self.values.items()}
        try:
            return text % filled
        except (KeyError, ValueError, TypeError):  # a broken translation: the English line
            return str.__str__(self)

    def to_json(self) -> dict[str, Any]:
        return {"text": str.__str__(self), "template": self.template,
                "values": {name: value.to_json() if isinstance(value, Words | Ref) else value
                           for name, value in self.values.items()}}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuilt, (self.template, dict(self.values)))


def _rebuilt(template: str, values: dict[str, Any]) -> Words:
    return Words(template, **values)


def say(line: object, translate: Callable[[str], str], name: Namer | None = None) -> str:
    """``line`` in the language of ``translate`` if it is ``Words`` (a ``Ref`` by ``name``);
    as it is otherwise."""
    if isinstance(line, Words):
        return line.say(translate, name)
    if isinstance(line, Ref) and name is not None:
        return name(line.kind, str.__str__(line))
    return str(line)


def joined(separator: str, lines: Iterable[str]) -> Words:
    """``lines`` one after the other, each said in the reader's language."""
    parts = list(lines)
    template = separator.join(f"%(p{i})s" for i in range(len(parts)))
    return Words(template, **{f"p{i}": part for i, part in enumerate(parts)})


def from_json(value: object) -> object:
    """A stored line back: ``Words`` or ``Ref`` from ``to_json``'s mapping, anything else as
    it is."""
    if isinstance(value, dict) and isinstance(value.get("ref"), str) \
            and isinstance(value.get("id"), str):
        return Ref(value["ref"], value["id"])
    if isinstance(value, dict) and isinstance(value.get("template"), str) \
            and isinstance(value.get("values"), dict):
        text = value.get("text")
        try:
            line = Words(value["template"], **{
                str(name): from_json(v) for name, v in value["values"].items()})
        except (KeyError, ValueError, TypeError):
            return str(text or "")
        # Not the line it was stored as (cut short on the bus, edited): its text as it was.
        return line if text is None or text == line else str(text)
    if isinstance(value, dict):
        return str(value.get("text", ""))
    return value


def stored(line: str) -> str:
    """A line as one text column holds it: ``Words`` as JSON, plain text as it is."""
    return json.dumps(line.to_json(), ensure_ascii=False) if isinstance(line, Words) else line


def unstored(text: str) -> str:
    """A text column's line back (``stored``): ``Words`` if it holds one, else the text."""
    if not text.startswith('{"text"'):
        return text
    try:
        line = from_json(json.loads(text))
    except ValueError:
        return text
    return line if isinstance(line, str) else text


def lines_json(lines: Iterable[object]) -> list[object]:
    """Lines as stored: ``Words`` as mappings, plain strings as they are."""
    return [line.to_json() if isinstance(line, Words) else line for line in lines]


def lines_from_json(values: Iterable[object]) -> list[str]:
    """Stored lines back (``Words`` or plain strings)."""
    out: list[str] = []
    for value in values:
        line = from_json(value)
        out.append(line if isinstance(line, str) else str(line))
    return out
