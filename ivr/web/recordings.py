"""Playing a call's recording: ``GET /calls/<id>/recording``.

Supervisors and admins may play any call's recording, an operator only the calls they
answered; anyone else gets 403. The file served is the one the call record names, looked up
inside the recordings directory only (``CallRecordings.path_of``): nothing from the request
becomes a path. Every playback is audited (``recording_played``); the browser's follow-up
range requests of one playback are not audited again.
"""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp import web

from ivr.core.records import CallRecord, Role, User
from ivr.web.auth import require
from ivr.web.errors import json_error
from ivr.web.i18n import gettext as _
from ivr.web.keys import SERVICES

CONTENT_TYPES: Final = {"wav": "audio/wav", "gsm": "audio/x-gsm", "wav49": "audio/wav"}


def may_play(user: User, call: CallRecord) -> bool:
    """Supervisors and admins; the operator who took the call."""
    if Role.rank_of(user.role) >= Role.SUPERVISOR.rank:
        return True
    return (user.role == Role.OPERATOR and user.operator_id is not None
            and user.operator_id == call.operator)


def _first_request(request: web.Request) -> bool:
    """A playback's first request (no Range, or one from the start)."""
    ranges = request.headers.get("Range", "").replace(" ", "")
    return not ranges or ranges.startswith("bytes=0-")


async def recording(request: web.Request) -> web.StreamResponse:
    user = await require(request, Role.OPERATOR)
    services = request.app[SERVICES]
    call = await services.store.calls.get(request.match_info["call_id"])
    if call is None:
        raise json_error(web.HTTPNotFound, "no_call", _("No such call."))
    if not may_play(user, call):
        raise json_error(web.HTTPForbidden, "not_yours",
                         _("Only supervisors, admins and the operator who took the call may "
                           "play its recording."))
    recordings = services.recordings
    path = (await asyncio.to_thread(recordings.available, call.recording,
                                    call.recording_status)
            if recordings is not None else None)
    if path is None:
        raise json_error(web.HTTPNotFound, "no_recording",
                         _("This call has no recording to play."))
    if _first_request(request):
        await services.store.audit.record(user.username, "recording_played", call.call_id, {
            "file": path.name, "operator": call.operator or ""}, services.clock.now())
    fmt = path.suffix.lstrip(".")
    return web.FileResponse(path, headers={
        "Content-Type": CONTENT_TYPES.get(fmt, "application/octet-stream"),
        "Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"})


def setup(app: web.Application) -> None:
    app.router.add_get("/calls/{call_id}/recording", recording)
