"""The schema library (pydantic v2) behind one door: shapes declared as models, checked, and
written out as JSON Schema.

The configuration files' shapes (``ivr.configuration.shapes``) and the API's request bodies
(``ivr.web.bodies``) are ``Shape`` subclasses, its answers ``Answer`` subclasses; nothing
else of ours imports pydantic. A
``ValidationError`` never leaves this module: it becomes ``ConfigProblem``s (file, key path
such as ``operators[op1001].skills``, reason) like every other problem of a settings file.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from ivr.errors import ConfigProblem

__all__ = ["Answer", "ConfigDict", "Field", "Shape", "check", "conforms", "json_schema",
           "problems", "record_answer", "type_schema"]


class Shape(BaseModel):
    """A table of a file or a body: every key declared, any other key refused. Strict: a
    string is not an integer, a boolean is not a number (as the loader has always read)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The model a field's annotation holds (directly, in a list, a mapping or an Optional)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _known_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys declared for the table at ``loc`` (the path of the key refused in it)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, str) and part in current.model_fields:
            current = _submodel(current.model_fields[part].annotation)
        # an index of a list or a key of a free mapping stays with the item's model
    return sorted(current.model_fields) if current is not None else []


def _key_path(loc: Sequence[int | str], data: Any) -> str:
    """``('operators', 2, 'skills')`` as the loader names it: ``operators[op1003].skills``
    (an item of a list is named by its id when it has one, else by its position)."""
    text = ""
    node = data
    for part in loc:
        item = None
        if isinstance(node, Mapping):
            item = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            item = node[part]
        if isinstance(part, int):
            ident = item.get("id") if isinstance(item, Mapping) else None
            text += f"[{ident}]" if isinstance(ident, str) and ident else f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
        node = item
    return text or "-"


_KINDS: Mapping[str, str] = {
    "int_type": "int", "int_parsing": "int", "float_type": "float", "string_type": "str",
    "bool_type": "bool", "list_type": "list", "dict_type": "table",
    "model_type": "table", "date_type": "date (YYYY-MM-DD)",
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def problems(
    model: type[BaseModel], data: Any, file: str, *, unknown_only: bool = False,
    explained: Iterable[str] = (),
) -> list[ConfigProblem]:
    """Every way ``data`` departs from ``model``, as problems of ``file``. An undeclared key
    is ``unknown key`` (``unknown table`` for a table) with the nearest declared name;
    ``unknown_only``: only those (the loader reports the rest in its own words); keys in
    ``explained`` are left to the caller, who says more about them."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
    else:
        return []
    skip = set(explained)
    found: list[ConfigProblem] = []
    for error in errors:
        loc = tuple(error["loc"])
        key = _key_path(loc, data)
        if key in skip:
            continue
        if error["type"] == "extra_forbidden":
            name = str(loc[-1])
            what = "table" if isinstance(error.get("input"), Mapping) else "key"
            near = difflib.get_close_matches(name, _known_keys(model, loc[:-1]), n=1,
                                             cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            found.append(ConfigProblem(file, key, f"unknown {what}{hint}"))
        elif unknown_only:
            continue
        elif error["type"] == "missing":
            found.append(ConfigProblem(file, key, "required"))
        elif error["type"] in _KINDS:
            found.append(ConfigProblem(
                file, key, f"must be {_KINDS[error['type']]}, got {_shown(error.get('input'))}"))
        else:
            found.append(ConfigProblem(file, key, str(error["msg"])))
    return found


def check(model: type[BaseModel], data: Any, file: str) -> list[ConfigProblem]:
    """Every problem of ``data`` against ``model`` (the whole shape, not only the keys)."""
    return problems(model, data, file)


def _json_text(data: Any) -> str:
    return json.dumps(data)


def json_schema(model: type[BaseModel], *, title: str, description: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of a file's shape, for editors (``$schema`` and a title)."""
    schema = model.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title,
            "description": description, **{k: v for k, v in schema.items()
                                            if k not in ("title", "description")}}


def type_schema(kind: Any) -> dict[str, Any]:
    """The JSON Schema of a type (``list[Case]``), its models referenced as components."""
    return TypeAdapter(kind).json_schema(ref_template="#/components/schemas/{model}",
                                         mode="serialization")


def conforms(kind: Any, data: Any) -> list[str]:
    """Why ``data`` (parsed JSON) is not a ``kind`` ("" path: the whole); [] when it is. Tests
    check real answers of the API against the document with it."""
    try:
        TypeAdapter(kind).validate_json(_json_text(data))
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return []



class Answer(BaseModel):
    """A response body of the API: every key it sends declared (a key the handler adds
    without declaring it fails the document's test), each value of its JSON type (strict:
    "no" is not a boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def record_answer(name: str, record: type[Any], *, drop: Iterable[str] = (),
                  **more: Any) -> type[Answer]:
    """An answer made of a record's (a dataclass of ``ivr.core``) fields, less ``drop``, plus
    ``more`` (``name=(type, default)``): the record's fields are not listed a second time."""
    hints = typing.get_type_hints(record)
    skip = set(drop)
    fields: dict[str, Any] = {
        f.name: (hints[f.name], ...) for f in dataclasses.fields(record) if f.name not in skip}
    fields.update(more)
    made: type[Answer] = create_model(name, __base__=Answer, **fields)
    made.__doc__ = (record.__doc__ or name).strip().splitlines()[0]
    return made
