"""Embedded Qdrant through ``qdrant-edge-py`` (``qdrant:./path``): Qdrant's own in-process
engine, with HNSW and real quantisation, and no server.

A folder holds one sub-folder per collection: ``<name>/shard`` (the edge shard, with its
write-ahead log, so a killed process loses nothing it acknowledged) and ``<name>/lembed.json``
(dimension, model, quantisation). Ids and payloads are laid out as in :mod:`.qdrant`.

qdrant-edge-py 0.9 turns ``MatchValue(True)`` into the integer 1, so a boolean filter never
matches a JSON ``true``; boolean metadata is therefore also written as ``"true"``/``"false"``
under ``bools.<key>`` and filtered there (the returned metadata keeps the real booleans).

``optimize()`` (called by :meth:`EdgeStore.close`, so at the end of every ``lembed index``)
builds the HNSW index once a segment passes Qdrant's indexing threshold (~10 MB; below it
search is exact). A quantised collection (``int8`` or ``binary``) is created with a 1 KB
threshold, so ``optimize()`` always builds its codes; search then scores the codes and
rescores the best ``oversampling × k`` with the original vectors. Points written since the
last ``optimize()`` are searched unquantised until the next one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lembed.errors import StoreError, require
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
from lembed.stores.qdrant import check_quantization, payload, point_id, unpack

_BATCH = 512
_PAGE = 1000
_NAME_FILE = "lembed.json"


def _payload(id_: str, text: str, meta: Metadata) -> dict[str, Any]:
    data = payload(id_, text, meta)
    data["bools"] = {k: str(v).lower() for k, v in meta.items() if isinstance(v, bool)}
    return data


@translate_errors("qdrant-edge")
class EdgeStore:
    """One collection: an edge shard in its own folder."""

    def __init__(self, shard: Any, name: str, dim: int, quantization: str) -> None:
        self._q = require("qdrant_edge", "qdrant", "the embedded Qdrant store")
        self._shard = shard
        self.name = name
        self.dim = dim
        self.quantization = quantization
        self.rescore = True
        self.oversampling = 2.0

    def _filter(self, where: Where | None) -> Any:
        if not where:
            return None
        return self._q.Filter(must=[self._condition(k, v) for k, v in where.items()])

    def _condition(self, key: str, value: MetaValue) -> Any:
        q = self._q
        if isinstance(value, bool):  # see the module docstring: MatchValue(True) is broken
            return q.FieldCondition(key=f"bools.{key}", match=q.MatchValue(str(value).lower()))
        if isinstance(value, float):
            return q.FieldCondition(key=f"meta.{key}", range=q.RangeFloat(gte=value, lte=value))
        return q.FieldCondition(key=f"meta.{key}", match=q.MatchValue(value))

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        vecs = check_batch(ids, vectors, texts, metadatas, self.dim)
        q = self._q
        for start in range(0, len(ids), _BATCH):
            points = [
                q.Point(
                    point_id(ids[i]), vecs[i].tolist(), _payload(ids[i], texts[i], metadatas[i])
                )
                for i in range(start, min(start + _BATCH, len(ids)))
            ]
            self._shard.update(q.UpdateOperation.upsert_points(points))

    def query(self, vector: np.ndarray, k: int = 10, where: Where | None = None) -> list[Hit]:
        check_k(k)
        q = self._q
        vec = unit(vector, self.dim)[0].tolist()
        params = None
        if self.quantization != "none":
            params = q.SearchParams(
                quantization=q.QuantizationSearchParams(
                    rescore=self.rescore, oversampling=self.oversampling
                )
            )
        request = q.QueryRequest(
            limit=k,
            query=q.Query.Nearest(vec),
            filter=self._filter(where),
            params=params,
            with_payload=True,
        )
        hits = []
        for point in self._shard.query(request):
            id_, text, meta = unpack(point.payload)
            hits.append(Hit(id_, float(point.score), text, meta))
        return hits

    def delete(self, ids: Sequence[str] | None = None, where: Where | None = None) -> None:
        q = self._q
        if ids:
            self._shard.update(q.UpdateOperation.delete_points([point_id(i) for i in ids]))
        if where:
            self._shard.update(q.UpdateOperation.delete_points_by_filter(self._filter(where)))

    def count(self, where: Where | None = None) -> int:
        return int(self._shard.count(self._q.CountRequest(exact=True, filter=self._filter(where))))

    def scan(self, where: Where | None = None) -> dict[str, Metadata]:
        out: dict[str, Metadata] = {}
        offset = None
        while True:
            request = self._q.ScrollRequest(
                offset=offset, limit=_PAGE, filter=self._filter(where), with_payload=True
            )
            records, offset = self._shard.scroll(request)
            for rec in records:
                id_, _, meta = unpack(rec.payload)
                out[id_] = meta
            if offset is None:
                return out

    def optimize(self) -> bool:
        """Build the HNSW index and quantised vectors where segments call for it."""
        return bool(self._shard.optimize())

    def indexed_vectors(self) -> int:
        return int(self._shard.info().indexed_vectors_count)

    def close(self) -> None:
        self._shard.optimize()
        self._shard.flush()


@translate_errors("qdrant-edge")
class EdgeClient:
    """A folder of edge shards, one per collection."""

    def __init__(self, path: str | Path | None = None, *, quantization: str = "none") -> None:
        self._q = require("qdrant_edge", "qdrant", "the embedded Qdrant store")
        self.quantization = check_quantization(quantization)
        self.root = Path(path or ".lembed/qdrant")
        self.uri = f"qdrant:{self.root}"
        self._open: dict[str, EdgeStore] = {}

    def _config(self, dim: int, quantization: str) -> Any:
        q = self._q
        quant: Any = None
        if quantization == "int8":
            quant = q.ScalarQuantizationConfig(type=q.ScalarType.Int8, quantile=0.99)
        elif quantization == "binary":
            quant = q.BinaryQuantizationConfig()
        # Qdrant quantises a segment when it optimises it, and only optimises segments past
        # the indexing threshold (~10 MB by default): a small quantised collection would stay
        # unquantised. A 1 KB threshold makes optimize() always build the index and codes.
        optimizers = q.EdgeOptimizersConfig(indexing_threshold=1) if quant is not None else None
        return q.EdgeConfig(
            vectors=q.EdgeVectorParams(size=dim, distance=q.Distance.Cosine),
            quantization_config=quant,
            optimizers=optimizers,
        )

    def _info(self, name: str) -> dict[str, Any] | None:
        path = self.root / name / _NAME_FILE
        if not path.is_file():
            return None
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return info

    def open(self, name: str, dim: int, model: str | None = None) -> EdgeStore:
        info = self._info(name)
        if info is None:
            folder = self.root / name
            folder.mkdir(parents=True, exist_ok=True)
            info = {"dim": dim, "model": model, "quantization": self.quantization}
            (folder / _NAME_FILE).write_text(json.dumps(info), encoding="utf-8")
        check_dim(name, int(info["dim"]), dim)
        return self.get(name)

    def get(self, name: str) -> EdgeStore:
        if name in self._open:
            return self._open[name]
        info = self._info(name)
        if info is None:
            raise StoreError(f"no collection {name!r} in {self.uri}")
        shard_dir = self.root / name / "shard"
        try:
            if shard_dir.is_dir() and any(shard_dir.iterdir()):
                shard = self._q.EdgeShard.load(str(shard_dir))
            else:
                config = self._config(int(info["dim"]), str(info["quantization"]))
                shard = self._q.EdgeShard.create(str(shard_dir), config)
        except Exception as exc:
            raise StoreError(f"cannot open Qdrant shard {shard_dir}: {exc}") from exc
        store = EdgeStore(shard, name, int(info["dim"]), str(info["quantization"]))
        self._open[name] = store
        return store

    def collections(self) -> list[CollectionInfo]:
        out: list[CollectionInfo] = []
        if not self.root.is_dir():
            return out
        for folder in sorted(self.root.iterdir()):
            info = self._info(folder.name)
            if info is None:
                continue
            count = self.get(folder.name).count()
            out.append(CollectionInfo(folder.name, count, int(info["dim"]), info.get("model")))
        return out

    def drop(self, name: str) -> bool:
        if self._info(name) is None:
            return False
        store = self._open.pop(name, None)
        if store is not None:
            store._shard.close()
        shutil.rmtree(self.root / name)
        return True

    def close(self) -> None:
        for store in self._open.values():
            store.close()
            store._shard.close()
        self._open.clear()
