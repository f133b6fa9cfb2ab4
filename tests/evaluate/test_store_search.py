"""Retrieval through real vector stores against exact in-memory search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lembed.engine.model import EmbeddingModel
from lembed.evaluate.datasets import load_beir
from lembed.evaluate.retrieval import Variant, evaluate_retrieval, sweep
from lembed.evaluate.search import ExactSearch
from lembed.evaluate.store_search import StoreSearch, store_searcher
from lembed.runtime.pooling import l2_normalize

pytestmark = pytest.mark.store


def test_memory_store_ranks_like_exact_search() -> None:
    rng = np.random.default_rng(5)
    docs = l2_normalize(rng.normal(size=(300, 32)).astype(np.float32))
    queries = l2_normalize(docs[:10] + 0.5 * docs[10:20])
    store = StoreSearch("memory:", docs, Variant())
    try:
        ids, scores = store.search(queries, 5)
    finally:
        store.close()
    exact_ids, exact_scores = ExactSearch(docs).search(queries, 5)
    assert (ids == exact_ids).all() and np.allclose(scores, exact_scores, atol=1e-5)
    small = StoreSearch("memory:", docs[:3], Variant())
    padded, _ = small.search(queries[:1], 5)
    small.close()
    assert padded[0, 3:].tolist() == [-1, -1]  # fewer documents than k


@pytest.mark.parametrize("uri", ["memory:", "qdrant:{tmp}"])
def test_scifact_slice_through_a_store(
    beir_dir: Path, fake_model: EmbeddingModel, tmp_path: Path, uri: str
) -> None:
    data = load_beir(beir_dir)
    variants = sweep(
        ["fake"], [None], ["float32", "int8+rescore"] if "qdrant" in uri else ["float32"]
    )
    load = lambda b, q: fake_model  # noqa: E731
    exact = evaluate_retrieval(data, variants, load)
    through = evaluate_retrieval(
        data, variants, load, searcher=store_searcher(uri.format(tmp=tmp_path))
    )
    for a, b in zip(exact.results, through.results, strict=True):
        assert abs(a.scores["ndcg@10"] - b.scores["ndcg@10"]) < 0.005, (a.label, uri)
        assert a.bytes_per_vector == b.bytes_per_vector
    from lembed.stores import open_client

    client = open_client(uri.format(tmp=tmp_path))
    try:
        assert client.collections() == []  # the scratch collections were dropped
    finally:
        client.close()
