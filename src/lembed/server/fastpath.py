"""The embedding routes' fast lane: the same endpoint functions, without FastAPI's stack.

Profiled under 32 concurrent one-sentence clients (docs/serving.md), FastAPI's middleware
chain, router matching, dependency solving and response plumbing cost more CPU per request
than everything lembed does. For the hot routes (``POST /v1/embeddings``, ``/api/embed``,
``/api/embeddings``, ``/embed``) this lane reads the body, checks the key, parses it with
orjson, validates it with the route's own pydantic model, and calls the route's own endpoint
function — so behaviour, limits and error shapes stay those of the route.

Anything off the happy path is handed to the full FastAPI app with the body replayed: a
missing or wrong key, a body over the limit, JSON orjson refuses, a body the model refuses.
That way every error is the one FastAPI answers, exactly. Errors the endpoint raises (engine
validation, overload, a failed backend) are rendered by the same function the app's
exception handler uses.
"""

from __future__ import annotations

import inspect
import logging
import time
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
import pydantic
from fastapi import APIRouter
from fastapi.responses import Response
from fastapi.routing import APIRoute

from lembed.errors import LembedError
from lembed.server.errors import Dialect, dialect_of, render
from lembed.server.middleware import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    header_bytes,
    key_matches,
)
from lembed.server.state import ServerState

log = logging.getLogger(__name__)

HOT_ROUTES = ("/v1/embeddings", "/embeddings", "/api/embed", "/api/embeddings", "/embed")

Endpoint = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class _Route:
    model: type[pydantic.BaseModel]
    endpoint: Endpoint
    dialect: Dialect


def fast_routes(routers: list[APIRouter]) -> dict[str, _Route]:
    """The hot routes of ``routers`` whose endpoint can be called directly: ``(body: Model,
    state: State)`` returning a Response, with no route-level dependency. The routers must be
    included with the API key check as their only dependency: the lane does that check."""
    out: dict[str, _Route] = {}
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute) or route.path not in HOT_ROUTES:
                continue
            if route.methods != {"POST"} or route.dependencies:
                continue
            hints = typing.get_type_hints(route.endpoint, include_extras=True)
            params = list(inspect.signature(route.endpoint).parameters)
            body = hints.get("body")
            returns = hints.get("return")
            if (
                params != ["body", "state"]
                or not (isinstance(body, type) and issubclass(body, pydantic.BaseModel))
                or not (isinstance(returns, type) and issubclass(returns, Response))
            ):
                continue
            out[route.path] = _Route(body, route.endpoint, dialect_of(route.path))
    return out


class FastLane:
    """Serves ``routes`` straight from the ASGI call; everything else goes to ``app``."""

    def __init__(self, app: ASGIApp, state: ServerState, routes: dict[str, _Route]) -> None:
        self.app = app
        self.state = state
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            self.routes.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if route is None:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        config = self.state.config
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                await self.app(scope, _replay(chunks, receive, message, True), send)
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body"))
            if size > config.max_body_bytes:
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        parsed = None
        if not more and size <= config.max_body_bytes and self._key_ok(scope):
            try:
                parsed = route.model.model_validate(orjson.loads(body))
            except (orjson.JSONDecodeError, pydantic.ValidationError):
                parsed = None
        if parsed is None:  # FastAPI answers it, in its exact words
            await self.app(scope, _replay(chunks, receive, None, more), send)
            return
        try:
            response = await route.endpoint(parsed, self.state)
        except LembedError as exc:
            response = render(exc, route.dialect)
        except Exception:
            log.exception("unhandled error on POST %s", scope["path"])
            response = render(LembedError("internal server error"), route.dialect)
        elapsed = (time.perf_counter() - start) * 1000
        response.raw_headers.append((b"x-total-time", f"{elapsed:.2f}".encode()))
        await response(scope, receive, send)
        self.state.metrics.observe_request(
            "POST", scope["path"], response.status_code, time.perf_counter() - start
        )

    def _key_ok(self, scope: Scope) -> bool:
        key = self.state.config.api_key
        return key is None or key_matches(header_bytes(scope, b"authorization"), key)


def _replay(
    chunks: list[bytes], receive: Receive, last: Message | None, more: bool = False
) -> Receive:
    """A ``receive`` that gives the body read so far again, then carries on."""
    pending: list[Message] = [
        {"type": "http.request", "body": c, "more_body": more or i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    if last is not None:
        pending.append(last)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
