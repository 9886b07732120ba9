"""Operations endpoints: ``/healthz`` and ``/metrics`` (Prometheus text), open to loopback
scrapers without a session (they reveal no caller data)."""

from __future__ import annotations

from aiohttp import web

from ivr.edges.metrics import CONTENT_TYPE
from ivr.web.keys import SERVICES


async def healthz(request: web.Request) -> web.Response:
    health = request.app[SERVICES].health
    return web.json_response(health.status(), status=200 if health.ok else 503)


async def metrics(request: web.Request) -> web.Response:
    # The exposition format's content type (with its version), as prometheus_client declares it.
    return web.Response(body=request.app[SERVICES].health.metrics(),
                        headers={"Content-Type": CONTENT_TYPE})


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
