"""The errors lembed raises, in one tree.

Every error a caller can act on derives from :class:`LembedError`. Each class carries the
HTTP status it maps to (``status``) and a short machine code (``code``) so the server's
dialects can render it without a second lookup table::

    LembedError
    ├── ValidationError          400  bad arguments (wrong type, bad option, bad dimensions)
    │   ├── EmptyInputError      400  no input, or an empty / whitespace-only text
    │   └── InputTooLongError    400  a text longer than the model's window with truncate="error"
    ├── ModelNotFoundError       404  no model by that name in any source
    ├── MissingExtraError        500  an optional dependency is not installed
    ├── OverloadedError          503  the request queue is full
    ├── BackendError             500  the model runtime failed (never shows internals to clients)
    └── StoreError               500  a vector store failed
"""

from __future__ import annotations

from typing import Any


class LembedError(Exception):
    """Base class of every error lembed raises on purpose."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(LembedError):
    """The caller passed something invalid."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class EmptyInputError(ValidationError):
    """No input, or an input that is empty or whitespace only."""

    code = "empty_input"


class InputTooLongError(ValidationError):
    """An input exceeds the model's context window and truncation was refused."""

    code = "input_too_long"

    def __init__(self, message: str, *, index: int, tokens: int, limit: int) -> None:
        super().__init__(message, param="input")
        self.index = index
        self.tokens = tokens
        self.limit = limit


class ModelNotFoundError(LembedError):
    """No model by that name is available locally."""

    status = 404
    code = "model_not_found"


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


class BackendError(LembedError):
    """The model runtime failed."""

    code = "backend_error"


class StoreError(LembedError):
    """A vector store operation failed."""

    code = "store_error"


def require(module: str, extra: str, purpose: str) -> Any:
    """Import an optional module, or raise :class:`MissingExtraError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra, purpose) from exc
