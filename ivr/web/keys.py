"""Application keys shared by the web modules (aiohttp's typed app storage)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from ivr.app import Hotline

HOTLINE: web.AppKey[Hotline] = web.AppKey("hotline")
