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


def open_client(uri: str = DEFAULT_STORE, *, quantization: str = "none") -> StoreClient:
    """Open the store a URI names (see the module docstring); ``quantization`` is
    ``none``, ``int8`` or ``binary`` and is accepted only where the store applies it."""
    scheme, _, rest = uri.partition(":")
    if scheme in ("chroma", "memory", "qdrant+local") and quantization != "none":
        raise ValidationError(
            f"{scheme} stores do not quantise vectors; use qdrant: (embedded) or a "
            "qdrant+http:// server for --quantization",
            param="quantization",
        )
    if scheme == "memory":
        from lembed.stores.memory import MemoryClient

        return MemoryClient()
    if scheme == "chroma":
        from lembed.stores.chroma import ChromaClient

        return ChromaClient(path=rest or None)
    if scheme in ("chroma+http", "chroma+https"):
        from lembed.stores.chroma import ChromaClient

        return ChromaClient(url=uri.removeprefix("chroma+"))
    if scheme == "qdrant":
        from lembed.stores.qdrant_edge import EdgeClient

        return EdgeClient(rest or None, quantization=quantization)
    if scheme == "qdrant+local":
        from lembed.stores.qdrant import QdrantClient

        return QdrantClient(path=rest or None)
    if scheme in ("qdrant+http", "qdrant+https"):
        from lembed.stores.qdrant import QdrantClient

        return QdrantClient(url=uri.removeprefix("qdrant+"), quantization=quantization)
    raise ValidationError(
        f"unknown store {uri!r}: use chroma:PATH, chroma+http://HOST:PORT, qdrant:PATH, "
        "qdrant+http://HOST:PORT, qdrant+local:PATH or memory:",
        param="store",
    )
