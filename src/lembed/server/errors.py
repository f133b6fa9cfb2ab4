"""Errors in each dialect's own shape, rendered from the table in :mod:`lembed.errors`.

The dialect is the route's: ``/api/*`` is Ollama (``{"error": "..."}``), ``/v1/*`` is
OpenAI (``{"error": {"message", "type", "param", "code"}}``), everything else is TEI
(``{"error", "error_type"}``). Unexpected exceptions are logged and answered with a
generic message — never a stack trace or ``str(exception)``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from lembed.errors import AuthError as AuthError
from lembed.errors import LembedError, ValidationError
from lembed.errors import MethodNotAllowedError as MethodNotAllowedError
from lembed.errors import PayloadTooLargeError as PayloadTooLargeError
from lembed.errors import RouteNotFoundError as RouteNotFoundError
from lembed.errors import UnhealthyError as UnhealthyError

log = logging.getLogger(__name__)

Dialect = Literal["ollama", "openai", "tei"]


class HTTPError(LembedError):
    """Any other HTTP error Starlette raised, answered with its own status everywhere."""

    openai_type = "invalid_request_error"
    tei_type = "validation"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = self.tei_status = status
        if status >= 500:
            self.openai_type, self.tei_type = "server_error", "backend"


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


class ErrorJSON(JSONResponse):
    """JSON that survives any message: text the client sent (say a lone surrogate) is
    escaped rather than failing the answer."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, separators=(",", ":")).encode("ascii")


def render(
    exc: LembedError, dialect: Dialect, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The response for ``exc`` in ``dialect``, from the error's own table entry
    (:mod:`lembed.errors`)."""
    extra = {**dict(headers or {}), **exc.headers()}
    if dialect == "tei":
        tei = {"error": exc.message, "error_type": exc.tei_type}
        return ErrorJSON(tei, status_code=exc.tei_status, headers=extra)
    if dialect == "ollama":
        return ErrorJSON({"error": exc.message}, status_code=exc.status, headers=extra)
    openai = {
        "error": {
            "message": exc.message,
            "type": exc.openai_type,
            "param": getattr(exc, "param", None),
            "code": exc.code,
        }
    }
    return ErrorJSON(openai, status_code=exc.status, headers=extra)


def describe_validation(exc: RequestValidationError) -> ValidationError:
    """One readable message from FastAPI's validation errors (malformed JSON included)."""
    parts = []
    param = None
    for err in exc.errors()[:3]:
        loc = [str(p) for p in err.get("loc", ())]
        loc = loc[1:] if loc and loc[0] in ("body", "path", "query", "header") else loc
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
            error = HTTPError(str(exc.detail), exc.status_code)
        return render(error, dialect_of(request.url.path), exc.headers)  # 405 keeps Allow

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(LembedError("internal server error"), dialect_of(request.url.path))

    app.add_exception_handler(LembedError, lembed_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
