"""ASGI middleware: body-size limit, request metrics, the total-time header, and the API key
check (shared by the routes' dependency and the guard of the API docs)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from lembed.errors import AuthError, PayloadTooLargeError, ValidationError
from lembed.server.errors import dialect_of, render
from lembed.server.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


AUTH_HINT = "missing or wrong API key: send 'Authorization: Bearer <key>'"


def check_api_key(key: str) -> str:
    """``key`` if a client can send it in a header, else a :class:`ValidationError`.

    HTTP clients (httpx, hence the openai and ollama clients; requests) send header values
    as ASCII, so a key outside printable ASCII could never be presented: refuse it when the
    server starts rather than answer 401 to everyone."""
    if not key or not all(" " < ch <= "~" for ch in key):
        raise ValidationError(
            "--api-key must be non-empty printable ASCII without spaces (HTTP clients cannot "
            "send other characters in a header)",
            param="api_key",
        )
    return key


def key_matches(header: bytes, key: str) -> bool:
    """Whether an ``Authorization`` header value carries ``key`` as a Bearer token.

    Compares bytes in constant time, so any header — non-ASCII, malformed — is a plain
    mismatch, never an exception."""
    scheme, _, token = header.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(token.strip(), key.encode("utf-8"))


def header_bytes(scope: Scope, name: bytes) -> bytes:
    """The raw value of header ``name`` (lowercase) in an ASGI scope, or b""."""
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value)
    return b""


class DocsGuard:
    """The API key check for the routes FastAPI adds itself (``/docs``, ``/redoc``,
    ``/openapi.json``): they describe every route, so they are closed like them."""

    def __init__(self, app: ASGIApp, key: str | None, paths: Collection[str]) -> None:
        self.app = app
        self.key = key
        self.paths = set(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.key is not None
            and scope["type"] == "http"
            and scope["path"] in self.paths
            and not key_matches(header_bytes(scope, b"authorization"), self.key)
        ):
            await render(AuthError(AUTH_HINT), "tei")(scope, receive, send)
            return
        await self.app(scope, receive, send)


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
