"""The one place a store adapter's client-library exceptions become :class:`StoreError`.

``@translate_errors("chroma")`` on an adapter class wraps each of its public methods: an
exception from chromadb, qdrant-client or qdrant-edge (a locked folder, a bad filter, a
server gone) comes out as ``StoreError("chroma upsert failed: <type>: <first line>")``,
chained to the original; lembed's own errors pass through unchanged. Callers (ingest, rag,
the server) catch one type.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from lembed.errors import StoreError, map_exceptions

C = TypeVar("C", bound=type)


def translate_errors(store: str) -> Callable[[C], C]:
    """Class decorator: the public methods of ``cls`` raise :class:`StoreError` for any
    non-lembed exception."""

    def wrap(cls: C) -> C:
        for name, member in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(member):
                setattr(cls, name, _guarded(member, f"{store} {name}"))
        return cls

    return wrap


def _guarded(fn: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        with map_exceptions(StoreError, what):
            return fn(*args, **kwargs)

    return call
