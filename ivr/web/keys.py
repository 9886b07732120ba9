"""Application keys shared by the web modules (aiohttp's typed app storage)."""

from __future__ import annotations

from aiohttp import web

from ivr.web.services import WebServices

SERVICES: web.AppKey[WebServices] = web.AppKey("services")
