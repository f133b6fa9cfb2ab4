"""Qdrant through ``qdrant-client``: a server URL (``qdrant+http://host:6333``) or the client's
local mode (``qdrant+local:./path``), on one code path.

Qdrant point ids must be UUIDs or integers, so a lembed id maps to ``uuid5(id)`` and travels
in the payload (``lembed_id``) with the text (``lembed_text``) and the metadata (``meta``,
filtered as ``meta.<key>``). Distance is cosine.

Quantisation (``int8`` scalar or ``binary``, searched with rescoring on the original vectors)
is sent to a server only: qdrant-client's local mode accepts a quantisation config and
silently ignores it (it is brute force), so asking for it there is an error rather than a
claim we cannot keep. The embedded Qdrant with real quantisation is ``qdrant:`` (qdrant-edge).

A Qdrant cluster takes its collection layout from the URI's query (server URLs only; used
when the collection is created): ``qdrant+http://host:6333?shards=12&replicas=2&
write_consistency=2&on_disk=true`` sets ``shard_number``, ``replication_factor``,
``write_consistency_factor`` and keeps vectors and payloads on disk (with ``--quantization``
the quantised copy stays in RAM and searches rescore from disk). See docs/scale.md.

Hybrid search: a collection opened with ``sparse=True`` carries, beside its dense vector, a
named sparse vector ``"sparse"`` (bge-m3's lexical weights: token id → weight). Points get
both in one upsert; ``query_sparse`` ranks by the sparse dot product (the lexical matching
score) and ``query_hybrid`` fuses the dense and the sparse candidate lists with Qdrant's
reciprocal rank fusion, all inside Qdrant (server or local mode).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

import numpy as np

from lembed.errors import StoreError, ValidationError, require
from lembed.runtime.outputs import SparseVector
from lembed.stores.base import (
    CollectionInfo,
    Hit,
    Metadata,
    MetaValue,
    Where,
    check_batch,
    check_dim,
    check_k,
    unit,
)
from lembed.stores.boundary import translate_errors

Quantization = Literal["none", "int8", "binary"]
QUANTIZATIONS: tuple[Quantization, ...] = ("none", "int8", "binary")
_BATCH = 256
_PAGE = 1000
SPARSE = "sparse"  # the named sparse vector of a hybrid collection


def point_id(id_: str) -> str:
    """The UUID Qdrant stores for a lembed id (stable across runs and machines)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "lembed:" + id_))


def payload(id_: str, text: str, meta: Metadata) -> dict[str, Any]:
    return {"lembed_id": id_, "lembed_text": text, "meta": dict(meta)}


def unpack(data: dict[str, Any] | None) -> tuple[str, str, Metadata]:
    data = data or {}
    return (
        str(data.get("lembed_id", "")),
        str(data.get("lembed_text", "")),
        dict(data.get("meta") or {}),
    )


@dataclass(frozen=True)
class Cluster:
    """Collection layout on a Qdrant cluster (None: the server's default)."""

    shards: int | None = None  # shard_number
    replicas: int | None = None  # replication_factor
    write_consistency: int | None = None  # write_consistency_factor
    on_disk: bool = False  # vectors and payloads on disk (memory-mapped)

    def create_args(self) -> dict[str, Any]:
        """The cluster part of ``create_collection``'s arguments."""
        args: dict[str, Any] = {
            "shard_number": self.shards,
            "replication_factor": self.replicas,
            "write_consistency_factor": self.write_consistency,
        }
        if self.on_disk:
            args["on_disk_payload"] = True
        return {k: v for k, v in args.items() if v is not None}


_CLUSTER_KEYS = {
    "shards": "shards",
    "replicas": "replicas",
    "write_consistency": "write_consistency",
}


def parse_cluster(url: str) -> tuple[str, Cluster]:
    """Split ``http://host:6333?shards=6&replicas=2&write_consistency=2&on_disk=true``."""
    base, _, query = url.partition("?")
    values: dict[str, Any] = {}
    for key, raw in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        if key == "on_disk":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValidationError(f"on_disk must be true or false, not {raw!r}", param="store")
            values["on_disk"] = raw.lower() in ("true", "1")
        elif key in _CLUSTER_KEYS:
            if not raw.isdigit() or int(raw) < 1:
                raise ValidationError(
                    f"{key} must be a positive integer, not {raw!r}", param="store"
                )
            values[key] = int(raw)
        else:
            raise ValidationError(
                f"unknown Qdrant option {key!r}: use shards, replicas, write_consistency, on_disk",
                param="store",
            )
    cluster = Cluster(**values)
    if (
        cluster.replicas
        and cluster.write_consistency
        and cluster.write_consistency > cluster.replicas
    ):
        raise ValidationError("write_consistency cannot exceed replicas", param="store")
    return base, cluster


def check_quantization(value: str) -> Quantization:
    if value not in QUANTIZATIONS:
        raise ValidationError(
            f"quantization must be one of {', '.join(QUANTIZATIONS)}, not {value!r}"
        )
    return value


@translate_errors("qdrant")
class QdrantStore:
    """One Qdrant collection through qdrant-client."""

    def __init__(
        self, client: Any, name: str, dim: int, quantized: bool, sparse: bool = False
    ) -> None:
        self._client = client
        self._m = require("qdrant_client.models", "qdrant", "the Qdrant store")
        self.name = name
        self.dim = dim
        self._quantized = quantized
        self.sparse = sparse  # has the named sparse vector (hybrid search)

    def _filter(self, where: Where | None) -> Any:
        if not where:
            return None
        return self._m.Filter(must=[self._condition(k, v) for k, v in where.items()])

    def _condition(self, key: str, value: MetaValue) -> Any:
        if isinstance(value, float):
            return self._m.FieldCondition(
                key=f"meta.{key}", range=self._m.Range(gte=value, lte=value)
            )
        return self._m.FieldCondition(key=f"meta.{key}", match=self._m.MatchValue(value=value))

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str],
        metadatas: Sequence[Metadata],
        sparse: Sequence[SparseVector] | None = None,
    ) -> None:
        """Insert or replace points; ``sparse`` (one per point) fills the sparse vector."""
        vecs = check_batch(ids, vectors, texts, metadatas, self.dim)
        if sparse is not None:
            if not self.sparse:
                raise ValidationError(
                    f"collection {self.name!r} has no sparse vector: create it with sparse=True"
                )
            if len(sparse) != len(ids):
                raise ValidationError(f"upsert needs {len(ids)} sparse vectors, got {len(sparse)}")
        for start in range(0, len(ids), _BATCH):
            points = [
                self._m.PointStruct(
                    id=point_id(ids[i]),
                    vector=self._vector(vecs[i], sparse[i] if sparse is not None else None),
                    payload=payload(ids[i], texts[i], metadatas[i]),
                )
                for i in range(start, min(start + _BATCH, len(ids)))
            ]
            self._client.upsert(self.name, points=points, wait=True)

    def _vector(self, dense: np.ndarray, sparse: SparseVector | None) -> Any:
        if not self.sparse:
            return dense.tolist()
        named: dict[str, Any] = {"": dense.tolist()}
        if sparse is not None and len(sparse.indices):
            named[SPARSE] = self._sparse(sparse)
        return named

    def _sparse(self, vec: SparseVector) -> Any:
        indices = np.asarray(vec.indices)
        values = np.asarray(vec.values, dtype=np.float32)
        if indices.shape != values.shape or indices.ndim != 1:
            raise ValidationError("a sparse vector needs as many indices as values")
        if len(indices) and (indices.min() < 0 or len(set(indices.tolist())) != len(indices)):
            raise ValidationError("sparse indices must be distinct non-negative integers")
        if not np.all(np.isfinite(values)):
            raise ValidationError("sparse values contain NaN or infinity")
        return self._m.SparseVector(indices=indices.tolist(), values=values.tolist())

    def query(self, vector: np.ndarray, k: int = 10, where: Where | None = None) -> list[Hit]:
        check_k(k)
        q = unit(vector, self.dim)[0]
        params = None
        if self._quantized:
            params = self._m.SearchParams(
                quantization=self._m.QuantizationSearchParams(rescore=True, oversampling=2.0)
            )
        res = self._client.query_points(
            self.name,
            query=q.tolist(),
            limit=k,
            query_filter=self._filter(where),
            search_params=params,
            with_payload=True,
        )
        return _hits(res.points)

    def _check_sparse(self) -> None:
        if not self.sparse:
            raise ValidationError(
                f"collection {self.name!r} has no sparse vector: create it with sparse=True"
            )

    def query_sparse(
        self, sparse: SparseVector, k: int = 10, where: Where | None = None
    ) -> list[Hit]:
        """Best ``k`` by the sparse dot product (scores are lexical matching scores, >= 0)."""
        check_k(k)
        self._check_sparse()
        res = self._client.query_points(
            self.name,
            query=self._sparse(sparse),
            using=SPARSE,
            limit=k,
            query_filter=self._filter(where),
            with_payload=True,
        )
        return _hits(res.points)

    def query_hybrid(
        self,
        vector: np.ndarray,
        sparse: SparseVector,
        k: int = 10,
        where: Where | None = None,
        candidates: int | None = None,
    ) -> list[Hit]:
        """Dense and sparse candidates (``candidates`` each, default ``max(4k, 50)``) fused by
        reciprocal rank fusion in Qdrant; scores are RRF scores, not cosines."""
        check_k(k)
        self._check_sparse()
        m = self._m
        limit = candidates or max(4 * k, 50)
        flt = self._filter(where)
        res = self._client.query_points(
            self.name,
            prefetch=[
                m.Prefetch(query=unit(vector, self.dim)[0].tolist(), limit=limit, filter=flt),
                m.Prefetch(query=self._sparse(sparse), using=SPARSE, limit=limit, filter=flt),
            ],
            query=m.FusionQuery(fusion=m.Fusion.RRF),
            limit=k,
            with_payload=True,
        )
        return _hits(res.points)

    def delete(self, ids: Sequence[str] | None = None, where: Where | None = None) -> None:
        if ids:
            selector = self._m.PointIdsList(points=[point_id(i) for i in ids])
            self._client.delete(self.name, points_selector=selector, wait=True)
        if where:
            selector = self._m.FilterSelector(filter=self._filter(where))
            self._client.delete(self.name, points_selector=selector, wait=True)

    def count(self, where: Where | None = None) -> int:
        return int(
            self._client.count(self.name, count_filter=self._filter(where), exact=True).count
        )

    def scan(self, where: Where | None = None) -> dict[str, Metadata]:
        out: dict[str, Metadata] = {}
        offset = None
        while True:
            records, offset = self._client.scroll(
                self.name,
                scroll_filter=self._filter(where),
                limit=_PAGE,
                offset=offset,
                with_payload=True,
            )
            for rec in records:
                id_, _, meta = unpack(rec.payload)
                out[id_] = meta
            if offset is None:
                return out

    def close(self) -> None:
        pass


def _hits(points: Sequence[Any]) -> list[Hit]:
    hits = []
    for point in points:
        id_, text, meta = unpack(point.payload)
        hits.append(Hit(id_, float(point.score), text, meta))
    return hits


@translate_errors("qdrant")
class QdrantClient:
    """A Qdrant server (``url``) or qdrant-client local folder (``path``)."""

    def __init__(
        self,
        *,
        path: str | Path | None = None,
        url: str | None = None,
        quantization: str = "none",
    ) -> None:
        qc = require("qdrant_client", "qdrant", "the Qdrant store")
        self._m = require("qdrant_client.models", "qdrant", "the Qdrant store")
        self.quantization = check_quantization(quantization)
        self.cluster = Cluster()
        if url is not None:
            url, self.cluster = parse_cluster(url)
        if url is None and self.quantization != "none":
            raise ValidationError(
                "qdrant-client's local mode ignores quantisation (it searches by brute force); "
                "use a qdrant+http:// server or the embedded qdrant: store for "
                f"--quantization {self.quantization}"
            )
        try:
            if url is not None:
                self.uri = f"qdrant+{url}"
                self._client = qc.QdrantClient(url=url)
            else:
                folder = Path(path or ".lembed/qdrant")
                self.uri = f"qdrant+local:{folder}"
                self._client = qc.QdrantClient(path=str(folder))
        except Exception as exc:
            raise StoreError(f"cannot open Qdrant at {url or path}: {exc}") from exc

    def _quantization_config(self) -> Any:
        m = self._m
        if self.quantization == "int8":
            return m.ScalarQuantization(
                scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8, always_ram=True)
            )
        if self.quantization == "binary":
            return m.BinaryQuantization(binary=m.BinaryQuantizationConfig(always_ram=True))
        return None

    def open(
        self, name: str, dim: int, model: str | None = None, *, sparse: bool = False
    ) -> QdrantStore:
        """Open ``name``, creating it if missing; ``sparse=True`` adds the named sparse vector
        for hybrid search (an existing collection without one is an error)."""
        if not self._client.collection_exists(name):
            meta: dict[str, Any] = {"lembed_dim": dim, "lembed_quantization": self.quantization}
            if model:
                meta["lembed_model"] = model
            sparse_config = {SPARSE: self._m.SparseVectorParams()} if sparse else None
            self._client.create_collection(
                name,
                vectors_config=self._m.VectorParams(
                    size=dim, distance=self._m.Distance.COSINE, on_disk=self.cluster.on_disk or None
                ),
                quantization_config=self._quantization_config(),
                sparse_vectors_config=sparse_config,
                metadata=meta,
                **self.cluster.create_args(),
            )
        store = self.get(name)
        check_dim(name, store.dim, dim)
        if sparse and not store.sparse:
            raise StoreError(f"collection {name!r} in {self.uri} has no sparse vector")
        return store

    def get(self, name: str) -> QdrantStore:
        if not self._client.collection_exists(name):
            raise StoreError(f"no collection {name!r} in {self.uri}")
        info = self._client.get_collection(name)
        size = info.config.params.vectors.size
        sparse = SPARSE in (info.config.params.sparse_vectors or {})
        return QdrantStore(
            self._client, name, int(size), info.config.quantization_config is not None, sparse
        )

    def collections(self) -> list[CollectionInfo]:
        out = []
        for desc in self._client.get_collections().collections:
            info = self._client.get_collection(desc.name)
            meta = info.config.metadata or {}
            out.append(
                CollectionInfo(
                    desc.name,
                    int(self._client.count(desc.name, exact=True).count),
                    int(info.config.params.vectors.size),
                    meta.get("lembed_model"),
                )
            )
        return out

    def drop(self, name: str) -> bool:
        if not self._client.collection_exists(name):
            return False
        self._client.delete_collection(name)
        return True

    def close(self) -> None:
        self._client.close()
