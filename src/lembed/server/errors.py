"""Errors in each dialect's own shape, decided in one place.

The dialect is the route's: ``/api/*`` is Ollama (``{"error": "..."}``), ``/v1/*`` is
OpenAI (``{"error": {"message", "type", "param", "code"}}``), everything else is TEI
(``{"error", "error_type"}``). Unexpected exceptions are logged and answered with a
generic message — never a stack trace or ``str(exception)``.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from lembed.errors import (
    EmptyInputError,
    InputTooLongError,
    LembedError,
    ModelNotFoundError,
    OverloadedError,
    ValidationError,
)

log = logging.getLogger(__name__)

Dialect = Literal["ollama", "openai", "tei"]


class AuthError(LembedError):
    """Missing or wrong API key."""

    status = 401
    code = "invalid_api_key"


class PayloadTooLargeError(ValidationError):
    """The body, or the number of inputs, is over the server's limit."""

    status = 413
    code = "payload_too_large"


class UnhealthyError(LembedError):
    """The inference worker is down: readiness fails."""

    status = 503
    code = "unhealthy"


class RouteNotFoundError(LembedError):
    status = 404
    code = "not_found"


class MethodNotAllowedError(LembedError):
    status = 405
    code = "method_not_allowed"


def dialect_of(path: str) -> Dialect:
    if path == "/api" or path.startswith("/api/"):
        return "ollama"
    if path == "/v1" or path.startswith("/v1/"):
        return "openai"
    return "tei"


def _tei(exc: LembedError) -> tuple[int, str]:
    if isinstance(exc, OverloadedError):
        return 429, "overloaded"
    if isinstance(exc, UnhealthyError):
        return 503, "unhealthy"
    if isinstance(exc, EmptyInputError):
        return 400, "empty"
    if isinstance(exc, PayloadTooLargeError | InputTooLongError):
        return 413, "validation"
    if isinstance(exc, ValidationError):
        return 422, "validation"
    if isinstance(exc, AuthError | ModelNotFoundError | RouteNotFoundError):
        return exc.status, "validation"
    if isinstance(exc, MethodNotAllowedError):
        return 405, "validation"
    return 424, "backend"


def _openai_type(exc: LembedError) -> str:
    if isinstance(exc, OverloadedError):
        return "server_error"
    if exc.status < 500:
        return "invalid_request_error"
    return "server_error"


def render(exc: LembedError, dialect: Dialect) -> JSONResponse:
    """The response for ``exc`` in ``dialect``."""
    if dialect == "tei":
        status, kind = _tei(exc)
        return JSONResponse({"error": exc.message, "error_type": kind}, status_code=status)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) else None
    if dialect == "ollama":
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)
    body = {
        "error": {
            "message": exc.message,
            "type": _openai_type(exc),
            "param": getattr(exc, "param", None),
            "code": exc.code,
        }
    }
    return JSONResponse(body, status_code=exc.status, headers=headers)


def describe_validation(exc: RequestValidationError) -> ValidationError:
    """One readable message from FastAPI's validation errors (malformed JSON included)."""
    parts = []
    param = None
    for err in exc.errors()[:3]:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        if err.get("type") == "json_invalid":
            return ValidationError("the request body is not valid JSON")
        where = ".".join(loc) or "body"
        param = param or (loc[0] if loc else None)
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return ValidationError("invalid request: " + "; ".join(parts), param=param)


def install(app: FastAPI) -> None:
    """Register the exception handlers that render every error in its route's dialect."""

    async def lembed_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LembedError)
        return render(exc, dialect_of(request.url.path))

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return render(describe_validation(exc), dialect_of(request.url.path))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        error: LembedError
        if isinstance(exc.__cause__, LembedError):  # raised while FastAPI read the body
            error = exc.__cause__
        elif exc.status_code == 404:
            error = RouteNotFoundError(f"no route {request.method} {request.url.path}")
        elif exc.status_code == 405:
            error = MethodNotAllowedError(
                f"method {request.method} is not allowed on {request.url.path}"
            )
        else:
            error = LembedError(str(exc.detail))
            error.status = exc.status_code
        return render(error, dialect_of(request.url.path))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(LembedError("internal server error"), dialect_of(request.url.path))

    app.add_exception_handler(LembedError, lembed_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
