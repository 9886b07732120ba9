"""Logs keep citizens' numbers masked and their words out, above DEBUG."""

from __future__ import annotations

import io
import json

import structlog

from ivr import logs


def lines_for(level: str, emit: str) -> list[dict[str, object]]:
    stream = io.StringIO()
    logs.configure(level, stream=stream, json=True)
    try:
        log = structlog.get_logger("test")
        with structlog.contextvars.bound_contextvars(call_id="1.1", caller="13800138000"):
            getattr(log, emit)("speech_heard", transcript="我家煤气泄漏了，在幸福路12号",
                               number="13912345678", skill="utilities")
    finally:
        logs.configure("WARNING")
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_info_lines_mask_numbers_and_leave_out_what_callers_said() -> None:
    """The call_id still ties the line to its record; the number and the words do not leak."""
    (line,) = lines_for("INFO", "info")
    text = json.dumps(line, ensure_ascii=False)
    assert "13800138000" not in text
    assert "13912345678" not in text
    assert "煤气" not in text
    assert line["caller"] == "138******00"
    assert line["number"] == "139******78"
    assert line["transcript"] == "[15 characters]"
    assert (line["call_id"], line["skill"]) == ("1.1", "utilities")


def test_warnings_and_errors_are_masked_too() -> None:
    """Masking does not depend on the level being INFO."""
    (line,) = lines_for("INFO", "error")
    assert line["caller"] == "138******00"
    assert "煤气" not in json.dumps(line, ensure_ascii=False)


def test_debug_lines_keep_them_when_asked_for() -> None:
    """Someone debugging with level DEBUG sees what the call record holds."""
    (line,) = lines_for("DEBUG", "debug")
    assert line["caller"] == "13800138000"
    assert line["transcript"] == "我家煤气泄漏了，在幸福路12号"
