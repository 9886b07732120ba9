"""The web side of the hotline: operations endpoints, REST API, operator console, wallboard and
admin pages, all served by one aiohttp application on 127.0.0.1:8080 by default.

aiohttp is imported only under this package. Each module registers its own routes in
``setup(app)``; this module assembles them (``build_app``) and runs the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from aiohttp import web

from ivr.web import ops
from ivr.web.keys import HOTLINE

if TYPE_CHECKING:
    from ivr.app import Hotline

log = structlog.get_logger("ivr.web")


def build_app(hotline: Hotline) -> web.Application:
    app = web.Application()
    app[HOTLINE] = hotline
    ops.setup(app)
    return app


class WebServer:
    def __init__(self, hotline: Hotline, host: str, port: int) -> None:
        self._runner = web.AppRunner(build_app(hotline), access_log=None)
        self._host, self._port = host, port

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        log.info("web_listening", host=self._host, port=self._port)

    async def stop(self) -> None:
        await self._runner.cleanup()
