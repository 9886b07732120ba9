"""The one structlog configuration: JSON when not on a terminal, readable on a terminal.

Every line of the stream goes through it: standard-library logging (panoramisk, aiohttp,
asyncio) and Python warnings are rendered by the same processors, so a service's log is JSON
only, one object per line.

Per-call context (``call_id``, ``channel``, ``caller``) is bound with
``structlog.contextvars.bound_contextvars`` by the FastAGI edge, so every line a call causes
carries it.

Logs are kept longer and read by more people than call records: on every line at INFO and
above, citizens' numbers (``CALLER_KEYS``) are masked to their first three and last two
digits, and what callers said (``TEXT_KEYS``) is replaced by its length. The call record
keeps both; a DEBUG line (only when the level is DEBUG) shows them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Final, TextIO

import structlog

CALLER_KEYS: Final = frozenset({"caller", "number", "caller_number", "citizen"})
TEXT_KEYS: Final = frozenset({"transcript", "said", "words", "heard_text"})


def mask_number(value: object) -> str:
    """``13800138000`` -> ``138******00``: enough to tell calls apart, not to call back."""
    text = str(value)
    if len(text) <= 5:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 5) + text[-2:]


def keep_private(
    _logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask numbers and leave out callers' words above DEBUG."""
    if method == "debug":
        return event
    for key in CALLER_KEYS & event.keys():
        if event[key]:
            event[key] = mask_number(event[key])
    for key in TEXT_KEYS & event.keys():
        event[key] = f"[{len(str(event[key]))} characters]"
    return event


def configure(level: str = "INFO", stream: TextIO | None = None, json: bool | None = None) -> None:
    stream = stream or sys.stderr
    as_json = (not stream.isatty()) if json is None else json
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        keep_private,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # One write per line (message and newline together): the worker processes of one
        # `ivr serve` share the stream, and their lines must not run into each other.
        logger_factory=structlog.WriteLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Libraries that use stdlib logging (panoramisk, aiohttp) and warnings: the same stream,
    # the same rendering ("logger" names the library).
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    logging.basicConfig(level=max(numeric, logging.WARNING), handlers=[handler], force=True)
    logging.captureWarnings(True)
