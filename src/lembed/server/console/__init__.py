"""The web console: static assets served by ``lembed serve`` at ``/`` for browsers.

``/`` answers HTML when the client's ``Accept`` prefers ``text/html`` (a browser), and the
plain ``lembed is running`` otherwise (curl, Ollama's clients). The HTML page is only a login
form and a loader: the console's script and style come from ``/console/app.js`` and
``/console/app.css``, which are behind the API key like every other route, so without the key
nothing but the form loads. The console calls only the public HTTP API.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

from lembed.server.errors import TEIError, documented

router = APIRouter(tags=["console"])

ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}


def _quality(accept: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in accept.split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if kind:
            out[kind.lower()] = max(q, out.get(kind.lower(), 0.0))
    return out


def wants_html(accept: str | None) -> bool:
    """True when ``accept`` names text/html (or XHTML) at least as highly as text/plain;
    a bare ``*/*`` (curl, httpx, Ollama's clients) gets plain text."""
    q = _quality(accept or "")
    html = max(q.get("text/html", 0.0), q.get("application/xhtml+xml", 0.0))
    plain = q.get("text/plain", q.get("text/*", 0.0))
    return html > 0 and html >= plain


@cache
def asset(name: str) -> bytes:
    return (files(__package__) / "static" / name).read_bytes()


def page() -> HTMLResponse:
    """The login form and loader (no data, no script but the loader's)."""
    return HTMLResponse(asset("index.html"), headers={"cache-control": "no-store"})


@router.get(
    "/console/{name}",
    responses={
        200: {"content": {"text/javascript": {}, "text/css": {}}},
        **documented(TEIError, (401, 404)),
    },
    response_class=Response,
)
async def console_asset(name: str) -> Response:
    """The console's script and style (behind the API key)."""
    if name not in ASSETS:
        raise HTTPException(404)
    return Response(asset(name), media_type=ASSETS[name], headers={"cache-control": "no-store"})


def install(app: FastAPI, dependencies: Sequence[Any]) -> None:
    """Register the console's assets and the API it calls (collections, search, ask,
    compare) behind ``dependencies`` (the API key check); the store is ``lembed serve
    --store``'s, set on ``app.state.store_config``."""
    from lembed.server import collections, compare, search

    app.state.store_config = collections.StoreConfig()
    for part in (collections.router, search.router, compare.router, router):
        app.include_router(part, dependencies=list(dependencies))
