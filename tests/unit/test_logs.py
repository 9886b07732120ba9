"""The log stream is JSON only: our events, libraries' stdlib logging and Python warnings."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import structlog
from aiohttp import ClientSession, web

from ivr import logs
from ivr.web import AccessLog


def test_every_line_is_json_whoever_logged_it() -> None:
    stream = io.StringIO()
    logs.configure("INFO", stream=stream, json=True)
    try:
        structlog.get_logger("ivr.test").info("call_finished", caller="13800000000")
        logging.getLogger("panoramisk.manager").warning("Not able to reconnect")
        with warnings.catch_warnings():
            # pytest records warnings itself; inside this block they go where logs.configure
            # sends them in a service (it switches logging.captureWarnings on).
            warnings.simplefilter("always")
            logging.captureWarnings(False)  # an earlier test's capture may still be on
            logging.captureWarnings(True)
            warnings.warn("a library's deprecation", DeprecationWarning, stacklevel=1)
    finally:
        logging.captureWarnings(False)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    events = [line["event"] for line in lines]
    assert events[0] == "call_finished"
    assert "Not able to reconnect" in events[1]
    assert lines[1]["logger"] == "panoramisk.manager"
    assert lines[1]["level"] == "warning"
    assert any("a library's deprecation" in e for e in events[2:])


async def test_web_requests_leave_one_access_line_without_the_query() -> None:
    stream = io.StringIO()
    logs.configure("INFO", stream=stream, json=True)
    app = web.Application()

    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/cases", hello)
    runner = web.AppRunner(app, access_log_class=AccessLog,
                           access_log=logging.getLogger("ivr.web.access"))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/cases?caller=13800000000") as response:
            assert response.status == 200
    finally:
        await runner.cleanup()
        logging.captureWarnings(False)
    [line] = [json.loads(x) for x in stream.getvalue().splitlines()
              if json.loads(x)["event"] == "http_request"]
    assert line["path"] == "/cases"
    assert line["status"] == 200
    assert "13800000000" not in stream.getvalue()


def test_processes_sharing_the_stream_never_run_their_lines_together(tmp_path: Path) -> None:
    """The worker processes of one `ivr serve` write to the same stream: every line they
    write is one whole JSON object (a line is written at once, with its newline)."""
    script = ("import structlog; from ivr import logs; logs.configure('INFO', json=True); "
              "log = structlog.get_logger('ivr.test')\n"
              "for n in range(3000): log.info('call_finished', n=n, pad='x' * 200)")
    out = tmp_path / "shared.log"
    with out.open("wb") as shared:
        writers = [subprocess.Popen([sys.executable, "-c", script], stdout=shared, stderr=shared)
                   for _ in range(3)]
        assert [w.wait(60) for w in writers] == [0, 0, 0]
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 9000
    assert sorted(json.loads(line)["n"] for line in lines) == sorted(list(range(3000)) * 3)
