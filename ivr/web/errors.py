"""Errors as the web answers them: ``{"error": <stable id>, "message": ...}``.

``ERRORS`` maps the project's exception tree (``ivr.errors``) to a status and a stable error id,
in one place: a handler lets a domain error go and ``errors_as_json`` answers it. The first
entry the error is an instance of wins (a ``RecordRefused`` is a refusal before it is a
storage error). Errors of the request itself (a missing field, no session) are raised where
they are found, with ``json_error``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import structlog
from aiohttp import web

from ivr.core.words import Words, say
from ivr.errors import (
    AmiError,
    ConfigRejected,
    DrawingError,
    FlowProblem,
    FlowRejected,
    IvrError,
    MarksRefused,
    RecordNotFound,
    Refused,
    SpreadsheetError,
    StorageError,
    SupervisionFailed,
    TransferFailed,
)
from ivr.web.i18n import gettext as _

log = structlog.get_logger("ivr.web")

ERRORS: Final[tuple[tuple[type[IvrError], type[web.HTTPException], str], ...]] = (
    (FlowRejected, web.HTTPUnprocessableEntity, "invalid_flow"),
    (ConfigRejected, web.HTTPUnprocessableEntity, "invalid_config"),
    (RecordNotFound, web.HTTPNotFound, "not_found"),
    (MarksRefused, web.HTTPBadRequest, "bad_marks"),
    (Refused, web.HTTPConflict, "refused"),
    (TransferFailed, web.HTTPConflict, "transfer_failed"),
    (SupervisionFailed, web.HTTPConflict, "supervision_failed"),
    (AmiError, web.HTTPServiceUnavailable, "asterisk_unavailable"),
    (StorageError, web.HTTPServiceUnavailable, "storage_unavailable"),
    (DrawingError, web.HTTPServiceUnavailable, "drawing_failed"),
    (SpreadsheetError, web.HTTPInternalServerError, "spreadsheet_failed"),
)
# JSON endpoints outside /api (the console's).
JSON_PATHS: Final = frozenset({
    "/console/state", "/console/transfer", "/console/consult", "/console/consult/complete",
    "/console/consult/return", "/supervision/data", "/supervision/spy",
})


def is_api(request: web.Request) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def json_error(status: type[web.HTTPException], error: str, message: str,
               **extra: object) -> web.HTTPException:
    """An HTTP error whose body is ``{"error": <stable id>, "message": ...}``."""
    body = json.dumps({"error": error, "message": message, **extra}, ensure_ascii=False)
    return status(text=body, content_type="application/json")


def message_of(exc: Exception) -> str:
    """An error's message in the request's language when the core wrote it as ``Words``
    (``ivr.core.words``: a case step refused, a rollback with nothing to roll back to)."""
    return say(exc.args[0], _) if len(exc.args) == 1 and isinstance(exc.args[0], Words) \
        else str(exc)


def problems_json(problems: Sequence[FlowProblem]) -> list[dict[str, Any]]:
    return [{"file": p.file, "line": p.line, "node": p.node, "message": p.message,
             "kind": p.kind} for p in problems]


def as_json(exc: IvrError) -> web.HTTPException | None:
    """The answer to ``exc`` (None: not one the web answers; it is a bug, a 500)."""
    for kind, status, error in ERRORS:
        if not isinstance(exc, kind):
            continue
        if isinstance(exc, FlowRejected):
            return json_error(status, error, str(exc), problems=problems_json(exc.problems))
        if isinstance(exc, ConfigRejected):
            return json_error(status, error, str(exc), problems=exc.problems)
        if kind is StorageError:
            # The driver's words are for the log, not for the browser.
            return json_error(status, error, _("The database did not answer; try again."))
        return json_error(status, error, message_of(exc))
    return None


@web.middleware
async def errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A domain error under a JSON endpoint answers as ``ERRORS`` says, not a bare 500."""
    if not (is_api(request) or request.path in JSON_PATHS):
        return await handler(request)
    try:
        return await handler(request)
    except IvrError as exc:
        answer = as_json(exc)
        if answer is None:
            raise
        if isinstance(exc, StorageError) and not isinstance(exc, RecordNotFound | Refused):
            log.error("api_storage_error", path=request.path, error=str(exc))
        raise answer from exc
