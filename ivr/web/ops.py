"""Operations endpoints: ``/healthz`` and ``/metrics`` (Prometheus text), open to loopback
scrapers without a session (they reveal no caller data)."""

from __future__ import annotations

import time

import structlog
from aiohttp import web

from ivr.core.figures import metrics_text
from ivr.web.keys import HOTLINE

log = structlog.get_logger("ivr.web")


async def healthz(request: web.Request) -> web.Response:
    hotline = request.app[HOTLINE]
    flow = hotline.flows.current()
    body = {
        "status": "ok" if hotline.ami.connected else "degraded",
        "ami_connected": hotline.ami.connected,
        "flow": flow.flow.name, "flow_version": flow.flow.version,
        "calls_in_ivr": hotline.agi.active_sessions,
        "speech_available": hotline.speech.available,
        "database_down": hotline.writes.down, "pending_writes": hotline.writes.pending,
    }
    return web.json_response(body, status=200 if hotline.ami.connected else 503)


async def metrics(request: web.Request) -> web.Response:
    hotline = request.app[HOTLINE]
    text = metrics_text(hotline.figures.all_figures(time.time()), hotline.figures.ignored)
    pool = hotline.speech.recognizer.usage
    extra = [
        "# HELP ivr_calls_in_ivr Calls in the IVR (FastAGI sessions) right now.",
        "# TYPE ivr_calls_in_ivr gauge",
        f"ivr_calls_in_ivr {hotline.agi.active_sessions}",
        "# HELP ivr_ami_connected 1 while the AMI link is up.",
        "# TYPE ivr_ami_connected gauge",
        f"ivr_ami_connected {int(hotline.ami.connected)}",
        "# HELP ivr_ami_reconnects_total AMI reconnects since start.",
        "# TYPE ivr_ami_reconnects_total counter",
        f"ivr_ami_reconnects_total {hotline.ami.reconnects}",
        "# HELP ivr_speech_pool_busy Speech decoding units in use.",
        "# TYPE ivr_speech_pool_busy gauge",
        f"ivr_speech_pool_busy {pool.busy}",
        "# HELP ivr_speech_pool_capacity Speech decoding units in all.",
        "# TYPE ivr_speech_pool_capacity gauge",
        f"ivr_speech_pool_capacity {pool.capacity}",
        "# HELP ivr_speech_turns_rejected_total Speech turns sent to keys: the pool was full.",
        "# TYPE ivr_speech_turns_rejected_total counter",
        f"ivr_speech_turns_rejected_total {pool.rejected}",
        *hotline.writes.metrics_lines(),
    ]
    return web.Response(text=text.rstrip("\n") + "\n" + "\n".join(extra) + "\n",
                        content_type="text/plain", charset="utf-8")


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
