"""Playing a call's recording from its page: supervisors, admins and the operator who took
the call get the audio (each playback audited, once per playback); other operators and
departments get 403; a call whose recording failed, is missing or was purged says so; no
request can reach a file outside the recordings directory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ivr.core.records import CallRecord
from tests.web.conftest import WebHotline

CALL = "1733212345.77"
WAV = b"RIFF" + b"\0" * 16_040


async def answered(hotline: WebHotline, call_id: str = CALL, *, status: str | None = "ok",
                   write: bool = True) -> None:
    now = datetime.now(UTC).isoformat()
    await hotline.store.calls.save(CallRecord(
        call_id, f"PJSIP/citizens-{call_id}", "13800000077", "zh", now, outcome="routed",
        queue="inquiry", operator="op1002", answered_at=now))
    if status is not None:
        await hotline.store.calls.set_recording(call_id, f"{call_id}.wav", status)
    if write:
        path = hotline.recordings_dir / f"{call_id}.wav"
        path.write_bytes(WAV)
        path.chmod(0o600)


async def plays(hotline: WebHotline, actor: str) -> list[Any]:
    return [e for e in await hotline.store.audit.latest(100)
            if e.action == "recording_played" and e.actor == actor]


@pytest.mark.parametrize(("role", "operator_id"), [
    ("supervisor", None), ("admin", None), ("operator", "op1002")])
async def test_who_may_play_gets_the_audio_and_is_audited(
    api_as: Any, hotline: WebHotline, role: str, operator_id: str | None
) -> None:
    await answered(hotline)
    user = await api_as(role, operator_id)
    page = await (await user.get(f"/calls/{CALL}")).text()
    assert 'data-state="play"' in page
    assert f'<audio id="call-audio" controls preload="none" src="/calls/{CALL}/recording">' in page
    resp = await user.get(f"/calls/{CALL}/recording")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "audio/wav"
    assert await resp.read() == WAV
    # The browser's follow-up range request of the same playback is not a second playback.
    part = await user.get(f"/calls/{CALL}/recording", headers={"Range": "bytes=8000-"})
    assert part.status == 206
    played = await plays(hotline, user.username)
    assert len(played) == 1
    assert played[0].target == CALL


@pytest.mark.parametrize(("role", "operator_id", "department"), [
    ("operator", "op1003", None), ("operator", None, None), ("department", None, "ronghua")])
async def test_others_get_403_and_nothing_is_audited(
    api_as: Any, hotline: WebHotline, role: str, operator_id: str | None,
    department: str | None,
) -> None:
    await answered(hotline)
    user = await api_as(role, operator_id, department=department)
    resp = await user.get(f"/calls/{CALL}/recording")
    assert resp.status == 403
    assert await plays(hotline, user.username) == []
    if role == "operator":
        page = await (await user.get(f"/calls/{CALL}")).text()
        assert 'data-state="forbidden"' in page
        assert "<audio" not in page


@pytest.mark.parametrize(("status", "write", "state", "words"), [
    ("failed", False, "failed", "录音失败"),
    ("ok", False, "missing", "录音缺失"),
    ("purged", False, "purged", "保留期满"),
    (None, False, "unnoted", "未记录录音"),
])
async def test_a_call_without_its_recording_says_why(
    api_as: Any, hotline: WebHotline, status: str | None, write: bool, state: str,
    words: str,
) -> None:
    await answered(hotline, status=status, write=write)
    supervisor = await api_as("supervisor")
    page = await (await supervisor.get(f"/calls/{CALL}")).text()
    assert f'data-state="{state}"' in page
    assert words in page
    assert (await supervisor.get(f"/calls/{CALL}/recording")).status == 404


async def test_no_path_escapes_the_recordings_directory(
    api_as: Any, hotline: WebHotline
) -> None:
    secret = hotline.recordings_dir.parent / "secret.wav"
    secret.write_bytes(WAV)
    supervisor = await api_as("supervisor")
    for call_id in ("..%2Fsecret", "%2E%2E%2Fsecret", "../secret"):
        resp = await supervisor.get(f"/calls/{call_id}/recording")
        assert resp.status == 404, call_id
    # Even a record naming a file outside (a tampered row) is never served.
    await answered(hotline, "bad.1", write=False)
    await hotline.store.calls.set_recording("bad.1", "../secret.wav", "ok")
    assert (await supervisor.get("/calls/bad.1/recording")).status == 404
