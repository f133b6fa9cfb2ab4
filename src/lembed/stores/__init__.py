"""Vector stores behind one protocol, opened from a URI.

=============================  ===========================================================
URI                            store
=============================  ===========================================================
``chroma:./.lembed/chroma``    Chroma embedded (``PersistentClient``) — the default
``chroma+http://host:8000``    Chroma server (``HttpClient``)
``qdrant:./.lembed/qdrant``    Qdrant embedded (qdrant-edge: HNSW, real quantisation)
``qdrant+http://host:6333``    Qdrant server (qdrant-client)
``qdrant+local:./path``        qdrant-client's local mode (brute force; no quantisation)
``memory:``                    exact in-memory reference (this process only)
=============================  ===========================================================

>>> from lembed.stores import open_client
>>> client = open_client("memory:")
>>> store = client.open("docs", dim=384, model="all-minilm-l6-v2")
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lembed.errors import ValidationError
from lembed.stores.base import (
    CollectionInfo,
    Hit,
    Metadata,
    StoreClient,
    VectorStore,
    Where,
    unit,
)

__all__ = [
    "DEFAULT_COLLECTION",
    "DEFAULT_STORE",
    "CollectionInfo",
    "Hit",
    "Metadata",
    "StoreClient",
    "VectorStore",
    "Where",
    "check_collection",
    "open_client",
    "unit",
]

DEFAULT_STORE = "chroma:./.lembed/chroma"
DEFAULT_COLLECTION = "lembed"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]$")


def check_collection(name: str) -> str:
    """Collection names every store accepts: 3–128 of ``[A-Za-z0-9._-]``, alphanumeric ends."""
    if not _NAME.match(name) or ".." in name:
        raise ValidationError(
            f"collection name {name!r}: use 3-128 letters, digits, '.', '_' or '-', starting "
            "and ending with a letter or digit",
            param="collection",
        )
    return name


@dataclass(frozen=True)
class _Scheme:
    """How one URI scheme opens its store: ``open(uri, rest, quantization)``."""

    open: Callable[[str, str, str], StoreClient]
    quantizes: bool = False


def _memory(uri: str, rest: str, quantization: str) -> StoreClient:
    from lembed.stores.memory import MemoryClient

    return MemoryClient()


def _chroma(uri: str, rest: str, quantization: str) -> StoreClient:
    from lembed.stores.chroma import ChromaClient

    return ChromaClient(path=rest or None)


def _chroma_http(uri: str, rest: str, quantization: str) -> StoreClient:
    from lembed.stores.chroma import ChromaClient

    return ChromaClient(url=uri.removeprefix("chroma+"))


def _qdrant_edge(uri: str, rest: str, quantization: str) -> StoreClient:
    from lembed.stores.qdrant_edge import EdgeClient

    return EdgeClient(rest or None, quantization=quantization)


def _qdrant_local(uri: str, rest: str, quantization: str) -> StoreClient:
    from lembed.stores.qdrant import QdrantClient

    return QdrantClient(path=rest or None)


def _qdrant_http(uri: str, rest: str, quantization: str) -> StoreClient:
    from lembed.stores.qdrant import QdrantClient

    return QdrantClient(url=uri.removeprefix("qdrant+"), quantization=quantization)


# URI scheme -> store: adding a store is one factory here plus its adapter module.
SCHEMES: dict[str, _Scheme] = {
    "memory": _Scheme(_memory),
    "chroma": _Scheme(_chroma),
    "chroma+http": _Scheme(_chroma_http),
    "chroma+https": _Scheme(_chroma_http),
    "qdrant": _Scheme(_qdrant_edge, quantizes=True),
    "qdrant+local": _Scheme(_qdrant_local),
    "qdrant+http": _Scheme(_qdrant_http, quantizes=True),
    "qdrant+https": _Scheme(_qdrant_http, quantizes=True),
}


def open_client(uri: str = DEFAULT_STORE, *, quantization: str = "none") -> StoreClient:
    """Open the store a URI names (see the module docstring); ``quantization`` is
    ``none``, ``int8`` or ``binary`` and is accepted only where the store applies it."""
    scheme, _, rest = uri.partition(":")
    entry = SCHEMES.get(scheme)
    if entry is None:
        raise ValidationError(
            f"unknown store {uri!r}: use chroma:PATH, chroma+http://HOST:PORT, qdrant:PATH, "
            "qdrant+http://HOST:PORT, qdrant+local:PATH or memory:",
            param="store",
        )
    if quantization != "none" and not entry.quantizes:
        raise ValidationError(
            f"{scheme} stores do not quantise vectors; use qdrant: (embedded) or a "
            "qdrant+http:// server for --quantization",
            param="quantization",
        )
    return entry.open(uri, rest, quantization)
