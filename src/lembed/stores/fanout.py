"""Mirror one collection's writes into several stores (shadow indexing, store comparisons).

``FanOut([a, b, c])`` is itself a :class:`~lembed.stores.base.VectorStore`: upserts and
deletes go to every store, reads (query, count, scan) to the first. One embedding pass then
fills them all, e.g. to check an approximate store against the exact ``memory:`` one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lembed.errors import ValidationError
from lembed.stores.base import Hit, Metadata, VectorStore, Where


class FanOut:
    """Writes to every store, reads from the first."""

    def __init__(self, stores: Sequence[VectorStore]) -> None:
        if not stores:
            raise ValidationError("FanOut needs at least one store")
        if len({s.dim for s in stores}) != 1:
            raise ValidationError("FanOut stores must hold vectors of one dimension")
        self.stores = list(stores)
        self.name = self.stores[0].name
        self.dim = self.stores[0].dim

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        for store in self.stores:
            store.upsert(ids, vectors, texts, metadatas)

    def query(self, vector: np.ndarray, k: int = 10, where: Where | None = None) -> list[Hit]:
        return self.stores[0].query(vector, k, where)

    def delete(self, ids: Sequence[str] | None = None, where: Where | None = None) -> None:
        for store in self.stores:
            store.delete(ids, where)

    def count(self, where: Where | None = None) -> int:
        return self.stores[0].count(where)

    def scan(self, where: Where | None = None) -> dict[str, Metadata]:
        return self.stores[0].scan(where)

    def close(self) -> None:
        for store in self.stores:
            store.close()
