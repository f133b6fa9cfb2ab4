"""The errors lembed raises, in one tree, and how each one is answered over HTTP.

Every error a caller can act on derives from :class:`LembedError`. Each class carries, as
data, everything a server dialect needs to answer it — no dialect keeps a lookup of its own:

- ``status``: the HTTP status (Ollama and OpenAI routes);
- ``code`` / ``openai_type``: OpenAI's ``error.code`` and ``error.type``;
- ``tei_status`` / ``tei_type``: TEI's status and ``error_type`` (TEI answers validation
  errors 422, over-long inputs 413, overload 429 and backend failures 424);
- ``retry_after``: seconds for a ``Retry-After`` header (overload answers), or None.

::

    class                       status  code               TEI
    LembedError                  500    internal_error     424 backend
    ├── ValidationError          400    invalid_request    422 validation   bad arguments
    │   ├── EmptyInputError      400    empty_input        400 empty        no / blank input
    │   ├── InputTooLongError    400    input_too_long     413 validation   over the window
    │   └── PayloadTooLargeError 413    payload_too_large  413 validation   body / count limit
    ├── AuthError                401    invalid_api_key    401 validation   missing / wrong key
    ├── ModelNotFoundError       404    model_not_found    404 validation   no such model
    ├── RouteNotFoundError       404    not_found          404 validation   no such route
    ├── MethodNotAllowedError    405    method_not_allowed 405 validation
    ├── MissingExtraError        500    missing_extra      424 backend      extra not installed
    ├── OverloadedError          503    overloaded         429 overloaded   queue full (Retry-After)
    ├── UnhealthyError           503    unhealthy          503 unhealthy    worker down
    ├── BackendError             500    backend_error      424 backend      runtime failed
    ├── StoreError               500    store_error        424 backend      vector store failed
    │   └── StoreBusyError       409    store_busy         409 validation   another writer
    └── PullError                500    pull_failed        424 backend      download failed

Servers never show a client the text of an unexpected exception; only these messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class LembedError(Exception):
    """Base class of every error lembed raises on purpose."""

    status: int = 500
    code: str = "internal_error"
    openai_type: str = "server_error"
    tei_status: int = 424
    tei_type: str = "backend"
    retry_after: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        """HTTP headers that go with this error's answer."""
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


class ValidationError(LembedError):
    """The caller passed something invalid."""

    status = 400
    code = "invalid_request"
    openai_type = "invalid_request_error"
    tei_status = 422
    tei_type = "validation"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class EmptyInputError(ValidationError):
    """No input, or an input that is empty or whitespace only."""

    code = "empty_input"
    tei_status = 400
    tei_type = "empty"


class InputTooLongError(ValidationError):
    """An input exceeds the model's context window and truncation was refused."""

    code = "input_too_long"
    tei_status = 413

    def __init__(self, message: str, *, index: int, tokens: int, limit: int) -> None:
        super().__init__(message, param="input")
        self.index = index
        self.tokens = tokens
        self.limit = limit


class PayloadTooLargeError(ValidationError):
    """The body, or the number of inputs, is over the server's limit."""

    status = 413
    code = "payload_too_large"
    tei_status = 413


class AuthError(LembedError):
    """Missing or wrong API key."""

    status = 401
    code = "invalid_api_key"
    openai_type = "invalid_request_error"
    tei_status = 401
    tei_type = "validation"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class ModelNotFoundError(LembedError):
    """No model by that name is available locally."""

    status = 404
    code = "model_not_found"
    openai_type = "invalid_request_error"
    tei_status = 404
    tei_type = "validation"


class RouteNotFoundError(LembedError):
    """No route at that path."""

    status = 404
    code = "not_found"
    openai_type = "invalid_request_error"
    tei_status = 404
    tei_type = "validation"


class MethodNotAllowedError(LembedError):
    """The route exists, the method does not."""

    status = 405
    code = "method_not_allowed"
    openai_type = "invalid_request_error"
    tei_status = 405
    tei_type = "validation"


class MissingExtraError(LembedError):
    """An optional dependency is needed and not installed."""

    code = "missing_extra"

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the '{module}' package: pip install 'lembed[{extra}]'")
        self.extra = extra


class OverloadedError(LembedError):
    """The server's queue is full; retry later."""

    status = 503
    code = "overloaded"
    tei_status = 429
    tei_type = "overloaded"
    retry_after = 1


class UnhealthyError(LembedError):
    """The inference worker is down: readiness fails."""

    status = 503
    code = "unhealthy"
    tei_status = 503
    tei_type = "unhealthy"


class BackendError(LembedError):
    """The model runtime failed."""

    code = "backend_error"


class StoreError(LembedError):
    """A vector store operation failed."""

    code = "store_error"


class StoreBusyError(StoreError):
    """Another process is writing to the same collection (``lembed index`` holds a lock)."""

    status = 409
    code = "store_busy"
    openai_type = "invalid_request_error"
    tei_status = 409
    tei_type = "validation"


class PullError(LembedError):
    """A download failed (offline, unknown repository, gated model...)."""

    code = "pull_failed"


def require(module: str, extra: str, purpose: str) -> Any:
    """Import an optional module, or raise :class:`MissingExtraError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra, purpose) from exc


@contextmanager
def map_exceptions(
    into: Callable[[str], LembedError], what: str, *, keep: tuple[type[BaseException], ...] = ()
) -> Iterator[None]:
    """Translate any exception raised inside into ``into(message)`` (chained), like httpx's
    ``map_exceptions``: the one boundary where a client library's errors become ours.

    lembed's own errors and ``keep`` pass through unchanged."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, (LembedError, *keep)):
            raise
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        raise into(f"{what} failed: {reason}") from exc
