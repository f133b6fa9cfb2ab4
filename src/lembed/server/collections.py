"""The collections of the server's store over HTTP: list, browse a source's chunks, a 2-D map.

Which store: ``lembed serve --store URI`` (default: the store ``lembed index`` writes to,
``chroma:./.lembed/chroma``). The web console calls these routes; so can any client.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from lembed.engine.pool import ServedModel
from lembed.errors import ModelNotFoundError, ValidationError
from lembed.server.errors import OPENAI_ERRORS
from lembed.server.state import State
from lembed.settings import Settings
from lembed.stores import (
    DEFAULT_STORE,
    CollectionInfo,
    Hit,
    StoreClient,
    VectorStore,
    check_collection,
    open_client,
    quantizes,
)

router = APIRouter(tags=["collections"], responses=OPENAI_ERRORS)

MAX_CHUNKS = 500  # chunks of one source in one answer
MAX_SAMPLE = 2000  # points of one map


@dataclass
class StoreConfig:
    """Where the server's collections live, and the settings retrieval uses."""

    store: str = DEFAULT_STORE
    settings: Settings = field(default_factory=Settings)
    llm: str | None = None  # generator for POST /v1/ask; None = extractive answers
    client: StoreClient | None = None  # an open client to share (a memory: store); not closed


def store_config(request: Request) -> StoreConfig:
    config: StoreConfig = request.app.state.store_config
    return config


_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def store_lock(config: StoreConfig) -> threading.RLock:
    """One request at a time per store: embedded stores are not safe to open and close from
    several threads at once (Chroma's shared system per path, Qdrant's folder lock), and a
    race there is a 500. Hold it around every open client or retriever."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(config.store, threading.RLock())


@contextmanager
def client_of(config: StoreConfig) -> Iterator[StoreClient]:
    with store_lock(config):
        if config.client is not None:
            yield config.client
            return
        client = open_client(config.store)
        try:
            yield client
        finally:
            client.close()


def info_of(client: StoreClient, name: str) -> CollectionInfo:
    check_collection(name)
    found = {c.name: c for c in client.collections()}.get(name)
    if found is None:
        raise ModelNotFoundError(f"no collection {name!r} in {client.uri}")
    return found


@contextmanager
def collection_of(config: StoreConfig, name: str) -> Iterator[tuple[CollectionInfo, VectorStore]]:
    """A collection of the server's store, open for this request (404 when there is none)."""
    with client_of(config) as client:
        info = info_of(client, name)
        store = client.get(name)
        try:
            yield info, store
        finally:
            store.close()


def served_for(state: Any, info: CollectionInfo) -> ServedModel:
    """The served model a collection was indexed with (its vectors are comparable only with
    that model's)."""
    try:
        served: ServedModel = state.pool.get(info.model)
    except ModelNotFoundError as exc:
        names = ", ".join(s.model.name for s in state.pool.served)
        raise ModelNotFoundError(
            f"collection {info.name!r} was indexed with {info.model}, which this server does "
            f"not serve (serving: {names}): start `lembed serve -m {info.model}`"
        ) from exc
    if served.model.dim != info.dim and info.dim is not None:
        raise ValidationError(
            f"collection {info.name!r} holds {info.dim}-d vectors; {served.model.name} makes "
            f"{served.model.dim}-d ones",
            param="collection",
        )
    return served


def quantization_of(uri: str, info: CollectionInfo) -> str | None:
    """``none`` where the store cannot quantise; the store's word where it says; else None."""
    said = getattr(info, "quantization", None)
    if said is not None:
        return str(said)
    return None if quantizes(uri) else "none"


def all_chunks(store: VectorStore, where: dict[str, Any] | None, limit: int) -> list[Hit]:
    """Up to ``limit`` chunks (with their text) matching ``where``, through ``query``: with
    ``k`` at least the matching count, every match comes back whatever the probe vector."""
    total = store.count(where=where)
    if total == 0:
        return []
    probe = np.full(store.dim, 1.0 / np.sqrt(store.dim), dtype=np.float32)
    return store.query(probe, k=min(total, limit), where=where)


def sample_chunks(store: VectorStore, size: int, seed: int = 0) -> list[Hit]:
    """``size`` chunks: all of them when the collection is that small, else the union of the
    neighbourhoods of random directions, subsampled (the protocol has no random access)."""
    total = store.count()
    if total <= size:
        return all_chunks(store, None, size)
    rng = np.random.default_rng(seed)
    seen: dict[str, Hit] = {}
    for _ in range(8):
        probe = rng.standard_normal(store.dim).astype(np.float32)
        for hit in store.query(probe / np.linalg.norm(probe), k=size):
            seen.setdefault(hit.id, hit)
        if len(seen) >= 2 * size:
            break
    hits = sorted(seen.values(), key=lambda h: h.id)
    picked = rng.choice(len(hits), size=min(size, len(hits)), replace=False)
    return [hits[i] for i in sorted(picked)]


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """The first two principal components (points, share of variance each explains)."""
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2), dtype=np.float32), [0.0, 0.0]
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:2]
    points = centred @ comps.T
    if points.shape[1] < 2:
        points = np.pad(points, ((0, 0), (0, 2 - points.shape[1])))
    var = s**2
    share = [float(v / var.sum()) if var.sum() > 0 else 0.0 for v in var[:2]]
    return points.astype(np.float32), share + [0.0] * (2 - len(share))


def chunk_json(hit: Hit) -> dict[str, Any]:
    meta = hit.metadata
    return {
        "id": hit.id,
        "source": str(meta.get("source", "")),
        "page": meta.get("page"),
        "chunk": meta.get("chunk"),
        "text": hit.text,
        "metadata": meta,
    }


class CollectionItem(BaseModel):
    name: str
    count: int
    dimensions: int | None
    model: str | None
    quantization: str | None  # None: the store does not say
    store: str


class CollectionList(BaseModel):
    object: str = "list"
    store: str
    data: list[CollectionItem]


class SourceItem(BaseModel):
    source: str
    chunks: int


class SourceList(BaseModel):
    collection: str
    data: list[SourceItem]


class Chunk(BaseModel):
    id: str
    source: str
    page: int | str | None = None
    chunk: int | None = None
    text: str
    metadata: dict[str, str | int | float | bool]


class ChunkList(BaseModel):
    collection: str
    source: str
    total: int
    data: list[Chunk]


class MapPoint(BaseModel):
    id: str
    x: float
    y: float
    source: str
    page: int | str | None = None
    text: str  # the first 160 characters


class CollectionMap(BaseModel):
    collection: str
    model: str
    method: str = "pca"
    total: int
    explained_variance: list[float]
    points: list[MapPoint]


# check_collection's rule (3-128 of [A-Za-z0-9._-], alphanumeric ends, no "..") as a pattern
# without look-around, so JSON Schema, schemathesis and pydantic all read it the same way: each
# "." is followed by a character that is not one.
COLLECTION_PATTERN = r"^[A-Za-z0-9](?:\.?[A-Za-z0-9_-])*\.?[A-Za-z0-9]$"
COLLECTION_LIMITS: dict[str, Any] = {
    "min_length": 3,
    "max_length": 128,
    "pattern": COLLECTION_PATTERN,
}
Name = Annotated[str, Path(description="collection name", **COLLECTION_LIMITS)]


@router.get("/v1/collections", response_model=CollectionList)
async def list_collections(request: Request) -> dict[str, Any]:
    """The collections of the server's store (``lembed serve --store``)."""
    config = store_config(request)

    def run() -> dict[str, Any]:
        with client_of(config) as client:
            items = [
                {
                    "name": c.name,
                    "count": c.count,
                    "dimensions": c.dim,
                    "model": c.model,
                    "quantization": quantization_of(config.store, c),
                    "store": config.store,
                }
                for c in client.collections()
            ]
        return {"object": "list", "store": config.store, "data": items}

    return await asyncio.to_thread(run)


@router.get("/v1/collections/{name}/sources", response_model=SourceList)
async def list_sources(name: Name, request: Request) -> dict[str, Any]:
    """Each source (file) of a collection with its number of chunks."""
    config = store_config(request)

    def run() -> dict[str, Any]:
        with collection_of(config, name) as (_, store):
            counts = Counter(str(m.get("source", "")) for m in store.scan().values())
        data = [{"source": s, "chunks": n} for s, n in sorted(counts.items())]
        return {"collection": name, "data": data}

    return await asyncio.to_thread(run)


@router.get("/v1/collections/{name}/chunks", response_model=ChunkList)
async def list_chunks(
    name: Name,
    request: Request,
    source: Annotated[str, Query(min_length=1, description="the source whose chunks to list")],
    limit: Annotated[int, Query(ge=1, le=MAX_CHUNKS)] = 100,
) -> dict[str, Any]:
    """The chunks of one source, in document order."""
    config = store_config(request)

    def run() -> dict[str, Any]:
        with collection_of(config, name) as (_, store):
            where = {"source": source}
            total = store.count(where=where)
            hits = all_chunks(store, where, MAX_CHUNKS)
        hits.sort(key=lambda h: (_int(h.metadata.get("chunk")), h.id))
        return {
            "collection": name,
            "source": source,
            "total": total,
            "data": [chunk_json(h) for h in hits[:limit]],
        }

    return await asyncio.to_thread(run)


@router.get("/v1/collections/{name}/map", response_model=CollectionMap)
async def collection_map(
    name: Name,
    request: Request,
    state: State,
    sample: Annotated[int, Query(ge=2, le=MAX_SAMPLE, description="points to project")] = 500,
) -> dict[str, Any]:
    """A 2-D PCA projection of a sample of the collection, one point per chunk. The vectors
    are the chunks' texts embedded again, as documents, by the model the collection was
    indexed with (the same vectors, before any store quantisation)."""
    config = store_config(request)

    def load() -> tuple[CollectionInfo, int, list[Hit]]:
        with collection_of(config, name) as (info, store):
            return info, store.count(), sample_chunks(store, sample)

    info, total, hits = await asyncio.to_thread(load)
    served = served_for(state, info)
    points: list[dict[str, Any]] = []
    share = [0.0, 0.0]
    if hits:
        texts = [h.text for h in hits]
        result = await state.pool.embed(served.model.name, texts, input_type="document")
        xy, share = pca_2d(np.asarray(result.vectors, dtype=np.float32))
        for hit, (x, y) in zip(hits, xy, strict=True):
            meta = hit.metadata
            points.append(
                {
                    "id": hit.id,
                    "x": round(float(x), 5),
                    "y": round(float(y), 5),
                    "source": str(meta.get("source", "")),
                    "page": meta.get("page"),
                    "text": hit.text[:160],
                }
            )
    return {
        "collection": name,
        "model": served.model.name,
        "method": "pca",
        "total": total,
        "explained_variance": [round(v, 5) for v in share],
        "points": points,
    }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
