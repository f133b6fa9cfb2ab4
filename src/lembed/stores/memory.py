"""An exact, in-memory reference store: brute-force cosine over a numpy matrix.

It is what the other adapters are checked against (same ranking, same filters) and a handy
store for tests and one-off scripts. Nothing is persisted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lembed.errors import StoreError
from lembed.stores.base import (
    CollectionInfo,
    Hit,
    Metadata,
    Where,
    check_batch,
    check_dim,
    check_k,
    matches,
    unit,
)


class MemoryStore:
    """One in-memory collection. Exact search: every vector is scored."""

    def __init__(self, name: str, dim: int, model: str | None = None) -> None:
        self.name = name
        self.dim = dim
        self.model = model
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._texts: list[str] = []
        self._metas: list[Metadata] = []

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        vecs = check_batch(ids, vectors, texts, metadatas, self.dim)
        new_rows = []
        for i, id_ in enumerate(ids):
            row = self._row.get(id_)
            if row is None:
                new_rows.append(i)
                continue
            self._vectors[row] = vecs[i]
            self._texts[row] = texts[i]
            self._metas[row] = dict(metadatas[i])
        if new_rows:
            self._vectors = np.concatenate([self._vectors, vecs[new_rows]])
            for i in new_rows:
                self._row[ids[i]] = len(self._ids)
                self._ids.append(ids[i])
                self._texts.append(texts[i])
                self._metas.append(dict(metadatas[i]))

    def query(self, vector: np.ndarray, k: int = 10, where: Where | None = None) -> list[Hit]:
        check_k(k)
        q = unit(vector, self.dim)[0]
        if where:
            rows = [r for r, m in enumerate(self._metas) if matches(m, where)]
            scores = self._vectors[rows] @ q
        else:
            rows = list(range(len(self._ids)))
            scores = self._vectors @ q
        if not rows:
            return []
        top = np.argsort(-scores, kind="stable")[:k]
        return [
            Hit(
                self._ids[rows[t]],
                float(scores[t]),
                self._texts[rows[t]],
                dict(self._metas[rows[t]]),
            )
            for t in top
        ]

    def delete(self, ids: Sequence[str] | None = None, where: Where | None = None) -> None:
        drop = {r for id_ in ids or () if (r := self._row.get(id_)) is not None}
        if where:
            drop |= {r for r, m in enumerate(self._metas) if matches(m, where)}
        if not drop:
            return
        keep = [r for r in range(len(self._ids)) if r not in drop]
        self._vectors = self._vectors[keep]
        self._ids = [self._ids[r] for r in keep]
        self._texts = [self._texts[r] for r in keep]
        self._metas = [self._metas[r] for r in keep]
        self._row = {id_: r for r, id_ in enumerate(self._ids)}

    def count(self, where: Where | None = None) -> int:
        return sum(1 for m in self._metas if matches(m, where))

    def scan(self, where: Where | None = None) -> dict[str, Metadata]:
        return {
            id_: dict(m) for id_, m in zip(self._ids, self._metas, strict=True) if matches(m, where)
        }

    def close(self) -> None:
        pass


class MemoryClient:
    """Collections held by this object for the life of the process."""

    def __init__(self) -> None:
        self.uri = "memory:"
        self._stores: dict[str, MemoryStore] = {}

    def open(self, name: str, dim: int, model: str | None = None) -> MemoryStore:
        store = self._stores.get(name)
        if store is None:
            store = self._stores[name] = MemoryStore(name, dim, model)
        check_dim(name, store.dim, dim)
        return store

    def get(self, name: str) -> MemoryStore:
        try:
            return self._stores[name]
        except KeyError:
            raise StoreError(f"no collection {name!r} in {self.uri}") from None

    def collections(self) -> list[CollectionInfo]:
        return [CollectionInfo(s.name, s.count(), s.dim, s.model) for s in self._stores.values()]

    def drop(self, name: str) -> bool:
        return self._stores.pop(name, None) is not None

    def close(self) -> None:
        pass
