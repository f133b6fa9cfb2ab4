"""ASGI middleware: body-size limit, request metrics and the total-time header."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from lembed.server.errors import PayloadTooLargeError, dialect_of, render
from lembed.server.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuse bodies over ``max_bytes`` — by Content-Length up front, or while streaming.

    Bodies are read as JSON whatever their Content-Type says, as Ollama does: its own
    docs use ``curl -d '{...}'``, which sends ``application/x-www-form-urlencoded``.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if scope["method"] == "POST" and b"json" not in headers.get(b"content-type", b""):
            headers[b"content-type"] = b"application/json"
            scope["headers"] = list(headers.items())
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            response = render(self._error(), dialect_of(scope["path"]))
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._error()
            return message

        await self.app(scope, limited, send)

    def _error(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"the request body is larger than the server's limit of {self.max_bytes} bytes"
        )


class RequestMetrics:
    """Count requests by route and status, time them, and add ``x-total-time`` (ms)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: set[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        route = scope["path"] if scope["path"] in self.routes else "other"
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                elapsed = (time.perf_counter() - start) * 1000
                headers = list(message.get("headers") or [])
                headers.append((b"x-total-time", f"{elapsed:.2f}".encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.metrics.observe_request(
                scope["method"], route, status, time.perf_counter() - start
            )
