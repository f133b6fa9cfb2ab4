"""The :class:`VectorStore` protocol every adapter implements, and its small value types.

A store holds one *collection*: unit vectors of one dimension, each with an id, the text it
was made from and flat metadata (``str | int | float | bool`` values). The contract::

    store.upsert(ids, vectors, texts, metadatas)   # insert or replace by id
    store.query(vector, k=10, where={"source": "a.md"}) -> list[Hit]   # best first
    store.delete(ids=[...]) / store.delete(where={...})
    store.count(where=None) -> int
    store.scan(where=None) -> dict[id, metadata]  # every matching id, for idempotent indexing
    store.close()

Scores are cosine similarities in [-1, 1] (higher is better) whatever the backend's own
distance. Vectors are L2-normalised on insert and on query by :func:`unit`, so cosine and
dot product agree. ``where`` is an equality filter: every key must match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lembed.errors import ValidationError

MetaValue = str | int | float | bool
Metadata = dict[str, MetaValue]
Where = Mapping[str, MetaValue]


@dataclass(frozen=True)
class Hit:
    """One search result: the stored id, its cosine score, text and metadata."""

    id: str
    score: float
    text: str
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True)
class CollectionInfo:
    """What a store knows about one collection."""

    name: str
    count: int
    dim: int | None = None
    model: str | None = None


@runtime_checkable
class VectorStore(Protocol):
    """One collection of unit vectors. See the module docstring for the contract."""

    name: str
    dim: int

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None: ...

    def query(self, vector: np.ndarray, k: int = 10, where: Where | None = None) -> list[Hit]: ...

    def delete(self, ids: Sequence[str] | None = None, where: Where | None = None) -> None: ...

    def count(self, where: Where | None = None) -> int: ...

    def scan(self, where: Where | None = None) -> dict[str, Metadata]: ...

    def close(self) -> None: ...


class StoreClient(Protocol):
    """A place that holds collections (a Chroma folder or server, a Qdrant path or URL)."""

    uri: str

    def open(self, name: str, dim: int, model: str | None = None) -> VectorStore:
        """Open ``name``, creating it for ``dim``-d vectors of ``model`` if it is missing."""
        ...

    def get(self, name: str) -> VectorStore:
        """Open an existing collection; :class:`lembed.errors.StoreError` if it is missing."""
        ...

    def collections(self) -> list[CollectionInfo]: ...

    def drop(self, name: str) -> bool:
        """Delete a collection; False if there was none by that name."""
        ...

    def close(self) -> None: ...


def unit(vectors: np.ndarray | Sequence[float] | Sequence[Sequence[float]], dim: int) -> np.ndarray:
    """Validate ``vectors`` as ``[n, dim]`` (or ``[dim]``) finite floats and L2-normalise them."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValidationError(f"vectors must have {dim} dimensions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValidationError("vectors contain NaN or infinity")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValidationError("a zero vector has no direction: cannot store or search it")
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


def check_batch(
    ids: Sequence[str],
    vectors: np.ndarray,
    texts: Sequence[str],
    metadatas: Sequence[Metadata],
    dim: int,
) -> np.ndarray:
    """Validate one upsert batch before anything is written; returns the unit vectors."""
    vecs = unit(vectors, dim) if len(ids) else np.zeros((0, dim), dtype=np.float32)
    if not (len(ids) == len(vecs) == len(texts) == len(metadatas)):
        raise ValidationError(
            f"upsert needs as many ids ({len(ids)}), vectors ({len(vecs)}), texts "
            f"({len(texts)}) and metadatas ({len(metadatas)})"
        )
    if len(set(ids)) != len(ids):
        raise ValidationError("upsert ids must be unique within a batch")
    for meta in metadatas:
        for key, value in meta.items():
            if not isinstance(value, str | int | float | bool):
                raise ValidationError(
                    f"metadata {key!r} must be str, int, float or bool, not {type(value).__name__}"
                )
    return vecs


def check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValidationError(f"k must be a positive integer, not {k!r}")


def matches(meta: Mapping[str, Any], where: Where | None) -> bool:
    """True when ``meta`` has every key of ``where`` with an equal value."""
    return not where or all(key in meta and meta[key] == value for key, value in where.items())


def check_dim(name: str, have: int, want: int) -> None:
    """Refuse to open a collection of ``have``-d vectors for a ``want``-d model."""
    if have != want:
        raise ValidationError(
            f"collection {name!r} holds {have}-d vectors; this model makes {want}-d ones: "
            "use another --collection or drop it",
            param="collection",
        )
