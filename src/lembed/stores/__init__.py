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
from pathlib import Path
from typing import Literal

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
    "Scheme",
    "StoreClient",
    "VectorStore",
    "Where",
    "check_collection",
    "open_client",
    "quantizes",
    "store_uris",
    "unit",
    "writer_key",
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
class Scheme:
    """How one URI scheme opens its store (``open(uri, rest, quantization)``), how its URI
    is written (``usage``, empty for a variant of the one before), whether it quantises, and
    what one writer holds: a ``collection`` of the store, the whole local ``folder``
    (Qdrant's lock), or ``none`` (in this process only)."""

    open: Callable[[str, str, str], StoreClient]
    usage: str = ""
    quantizes: bool = False
    writer: Literal["collection", "folder", "none"] = "collection"
    folder: bool = False  # the rest of the URI is a local folder


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


# URI scheme -> store: adding a store is one factory and one entry here, plus its adapter.
SCHEMES: dict[str, Scheme] = {
    "chroma": Scheme(_chroma, "chroma:PATH", folder=True),
    "chroma+http": Scheme(_chroma_http, "chroma+http://HOST:PORT"),
    "chroma+https": Scheme(_chroma_http),
    "qdrant": Scheme(_qdrant_edge, "qdrant:PATH", True, "folder", folder=True),
    "qdrant+http": Scheme(_qdrant_http, "qdrant+http://HOST:PORT", True),
    "qdrant+https": Scheme(_qdrant_http, quantizes=True),
    "qdrant+local": Scheme(_qdrant_local, "qdrant+local:PATH", writer="folder", folder=True),
    "memory": Scheme(_memory, "memory:", writer="none"),
}


def store_uris() -> str:
    """The store URIs, as help and errors write them: "chroma:PATH, ... or memory:"."""
    usages = [s.usage for s in SCHEMES.values() if s.usage]
    return ", ".join(usages[:-1]) + " or " + usages[-1]


def writer_key(uri: str, collection: str) -> str | None:
    """What one writer of ``collection`` in the store ``uri`` must hold exclusively (the
    same key for every spelling of one place), or None where nothing is shared."""
    scheme, _, rest = uri.partition(":")
    entry = SCHEMES.get(scheme)
    if entry is None or entry.writer == "none":
        return None
    where = f"{scheme}:{Path(rest or '.').expanduser().absolute()}" if entry.folder else uri
    where = where.rstrip("/")
    return where if entry.writer == "folder" else f"{where} / {collection}"


def quantizes(uri: str) -> bool:
    """Whether the store ``uri`` names can quantise vectors."""
    entry = SCHEMES.get(uri.partition(":")[0])
    return entry is not None and entry.quantizes


def open_client(uri: str = DEFAULT_STORE, *, quantization: str = "none") -> StoreClient:
    """Open the store a URI names (see the module docstring); ``quantization`` is
    ``none``, ``int8`` or ``binary`` and is accepted only where the store applies it."""
    scheme, _, rest = uri.partition(":")
    entry = SCHEMES.get(scheme)
    if entry is None:
        raise ValidationError(f"unknown store {uri!r}: use {store_uris()}", param="store")
    if quantization != "none" and not entry.quantizes:
        raise ValidationError(
            f"{scheme} stores do not quantise vectors; use qdrant: (embedded) or a "
            "qdrant+http:// server for --quantization",
            param="quantization",
        )
    return entry.open(uri, rest, quantization)
