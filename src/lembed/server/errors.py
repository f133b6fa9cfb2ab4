"""Errors in each dialect's own shape, decided in one place.

The dialect is the route's: ``/api/*`` is Ollama (``{"error": "..."}``), ``/v1/*`` is
OpenAI (``{"error": {"message", "type", "param", "code"}}``), everything else is TEI
(``{"error", "error_type"}``). Unexpected exceptions are logged and answered with a
generic message — never a stack trace or ``str(exception)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
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


class OllamaError(BaseModel):
    error: str


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


class TEIError(BaseModel):
    error: str
    error_type: Literal["validation", "empty", "overloaded", "backend", "unhealthy"]


def documented(model: type[BaseModel], statuses: tuple[int, ...]) -> dict[int | str, Any]:
    """``responses=`` for a router: its dialect's error body under each status it uses."""
    return {status: {"model": model, "description": "error"} for status in statuses}


OLLAMA_ERRORS = documented(OllamaError, (400, 401, 404, 405, 413, 500, 503))
OPENAI_ERRORS = documented(OpenAIError, (400, 401, 404, 405, 413, 500, 503))
TEI_ERRORS = documented(TEIError, (400, 401, 404, 405, 413, 422, 424, 429, 503))


def dialect_of(path: str) -> Dialect:
    if path == "/api" or path.startswith("/api/"):
        return "ollama"
    if path == "/v1" or path.startswith("/v1/") or path in ("/embeddings", "/models"):
        return "openai"  # Infinity answers the OpenAI routes without /v1 too
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


def render(
    exc: LembedError, dialect: Dialect, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The response for ``exc`` in ``dialect``."""
    extra = dict(headers or {})
    if isinstance(exc, AuthError):
        extra["WWW-Authenticate"] = "Bearer"
    if dialect == "tei":
        status, kind = _tei(exc)
        tei = {"error": exc.message, "error_type": kind}
        return JSONResponse(tei, status_code=status, headers=extra)
    if dialect == "ollama":
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=extra)
    openai = {
        "error": {
            "message": exc.message,
            "type": "invalid_request_error" if exc.status < 500 else "server_error",
            "param": getattr(exc, "param", None),
            "code": exc.code,
        }
    }
    return JSONResponse(openai, status_code=exc.status, headers=extra)


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
        elif exc.__cause__ is not None and exc.status_code == 400:  # undecodable, too deep
            error = ValidationError("the request body is not valid JSON")
        elif exc.status_code == 404:
            error = RouteNotFoundError(f"no route {request.method} {request.url.path}")
        elif exc.status_code == 405:
            error = MethodNotAllowedError(
                f"method {request.method} is not allowed on {request.url.path}"
            )
        else:
            error = LembedError(str(exc.detail))
            error.status = exc.status_code
        return render(error, dialect_of(request.url.path), exc.headers)  # 405 keeps Allow

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(LembedError("internal server error"), dialect_of(request.url.path))

    app.add_exception_handler(LembedError, lembed_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
