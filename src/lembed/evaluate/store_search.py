"""Retrieval through a real vector store: the evaluation's ``--store`` path.

Documents go into a scratch collection of the store a URI names (see
:func:`lembed.stores.open_client`), every query goes through ``store.query``, and the
collection is dropped afterwards. The result is the same run format as exact search, so the
metrics show what the store's index (HNSW, quantisation) costs against exact search.
Quantised dtypes map to the store's own quantisation (``int8`` / ``binary``, where the store
offers it; rescoring on or off as the variant says).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

import numpy as np

from lembed.evaluate.retrieval import Variant
from lembed.evaluate.search import Searcher, bytes_per_vector

_scratch = itertools.count()


class StoreSearch:
    """Index ``documents`` into a scratch collection of the store at ``uri``; search it."""

    def __init__(self, uri: str, documents: np.ndarray, variant: Variant, batch: int = 512):
        from lembed.stores import open_client

        quantization = "none" if variant.dtype == "float32" else variant.dtype
        self.client = open_client(uri, quantization=quantization)
        self.name = f"lembed-eval-{os.getpid()}-{next(_scratch)}"
        self.dim = documents.shape[1]
        self.bytes_per_vector = bytes_per_vector(self.dim, variant.dtype)
        try:
            self.store = self.client.open(self.name, self.dim)
            if quantization != "none" and hasattr(self.store, "rescore"):
                self.store.rescore = variant.rescore
            for start in range(0, len(documents), batch):
                rows = range(start, min(start + batch, len(documents)))
                ids = [str(r) for r in rows]
                self.store.upsert(ids, documents[start : rows.stop], ids, [{} for _ in ids])
            optimize = getattr(self.store, "optimize", None)
            if callable(optimize):
                optimize()  # build the index and quantised vectors, as a real load would
        except BaseException:
            self.close()
            raise

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.full((len(queries), k), -1, dtype=np.int64)  # -1: fewer than k hits
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        for i, vector in enumerate(queries):
            for j, hit in enumerate(self.store.query(vector, k=k)[:k]):
                ids[i, j], scores[i, j] = int(hit.id), hit.score
        return ids, scores

    def close(self) -> None:
        store = getattr(self, "store", None)
        try:
            if store is not None:
                store.close()
            self.client.drop(self.name)
        finally:
            self.client.close()


def store_searcher(uri: str) -> Callable[[np.ndarray, Variant], Searcher]:
    """A searcher factory for :func:`lembed.evaluate.retrieval.evaluate_retrieval`."""

    def build(documents: np.ndarray, variant: Variant) -> Searcher:
        return StoreSearch(uri, documents, variant)

    return build
