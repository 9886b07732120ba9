"""Paging of the API's lists, the same for every list: ``?limit=&offset=`` in, the page as the
JSON array out, with its total and the neighbouring pages in the headers.

    GET /api/calls?limit=50&offset=100
    200  X-Total-Count: 1234
         Link: </api/calls?limit=50&offset=150>; rel="next",
               </api/calls?limit=50&offset=50>; rel="prev"
    [ ...50 calls... ]

The body stays the array it always was (the pages and scripts read it unchanged); a limit
outside 1-1000 or an offset that is not a whole number from 0 is a 400 ``bad_paging`` with
the rule, never silently clamped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from ivr.web.errors import json_error
from ivr.web.i18n import gettext as _

MAX_LIMIT: Final = 1000
TOTAL_HEADER: Final = "X-Total-Count"


@dataclass(frozen=True, slots=True)
class Page:
    """Which part of a list is asked for."""

    limit: int
    offset: int


def _whole(raw: str) -> int | None:
    text = raw.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def page_of(request: web.Request, default_limit: int) -> Page:
    """The page a request asks for (``limit`` 1-1000, ``offset`` 0 or more); 400 if either
    is given and is not such a number."""
    limit = _whole(request.query.get("limit", str(default_limit)))
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise json_error(web.HTTPBadRequest, "bad_paging",
                         _("limit must be a whole number from 1 to %(most)s.", most=MAX_LIMIT))
    offset = _whole(request.query.get("offset", "0"))
    if offset is None:
        raise json_error(web.HTTPBadRequest, "bad_paging",
                         _("offset must be a whole number, 0 or more."))
    return Page(limit, offset)


def paged(request: web.Request, items: Sequence[Any], total: int, page: Page) -> web.Response:
    """The page ``items`` (already cut) as the answer: the array, its total, its links."""
    links = []
    if page.offset + page.limit < total:
        links.append(_link(request, page.limit, page.offset + page.limit, "next"))
    if page.offset > 0:
        links.append(_link(request, page.limit, max(0, page.offset - page.limit), "prev"))
    headers = {TOTAL_HEADER: str(total)}
    if links:
        headers["Link"] = ", ".join(links)
    return web.json_response(list(items), headers=headers)


def sliced(request: web.Request, everything: Sequence[Any], default_limit: int) -> web.Response:
    """A list held whole (users, tokens, versions) answered a page at a time."""
    page = page_of(request, default_limit)
    return paged(request, everything[page.offset:page.offset + page.limit], len(everything),
                 page)


def _link(request: web.Request, limit: int, offset: int, rel: str) -> str:
    url = request.rel_url.update_query(limit=str(limit), offset=str(offset))
    return f'<{url}>; rel="{rel}"'
