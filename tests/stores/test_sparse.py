"""Qdrant collections with a named sparse vector: bge-m3's lexical weights stored beside the
dense vectors, sparse search by the lexical matching score, hybrid search by Qdrant's
reciprocal rank fusion — on qdrant-client's local mode (no server runs here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import StoreError, ValidationError
from lembed.runtime.outputs import SparseVector
from lembed.settings import Settings
from lembed.stores.qdrant import QdrantClient
from tests.fixtures.bge_m3 import in_hub_cache
from tests.fixtures.checkpoints import varied_texts

pytestmark = [pytest.mark.model, pytest.mark.store]

RRF_K = 2  # qdrant's reciprocal rank fusion: 1 / (2 + rank), rank from 0


@pytest.fixture(scope="module")
def m3(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> EmbeddingModel:
    from lembed.engine.load import load_model

    hub = tmp_path_factory.mktemp("hub")
    in_hub_cache(hub)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_CACHE", str(hub))
        return load_model("bge-m3", backend="torch", settings=settings)


@pytest.fixture(scope="module")
def corpus(m3: EmbeddingModel) -> tuple[list[str], np.ndarray, list[SparseVector]]:
    texts = varied_texts(60, seed=5)
    got = m3.embed(texts, output="sparse")
    assert got.sparse is not None
    return texts, got.vectors, got.sparse


def test_hybrid_collection_serves_sparse_and_fused_search(
    tmp_path: Path,
    m3: EmbeddingModel,
    corpus: tuple[list[str], np.ndarray, list[SparseVector]],
) -> None:
    texts, dense, sparse = corpus
    ids = [f"doc{i}" for i in range(len(texts))]
    metas = [{"even": i % 2 == 0} for i in range(len(texts))]
    client = QdrantClient(path=tmp_path / "q")
    store = client.open("hybrid", m3.dim, m3.name, sparse=True)
    store.upsert(ids, dense, texts, metas, sparse=sparse)
    assert store.count() == len(texts)

    # A query with a few lexical weights (the random fixture drops some texts' every token).
    asks = ["music history of the river city", "the cat and the dog", *texts[:20]]
    query = m3.embed(asks, input_type="query", output="sparse")
    assert query.sparse is not None
    pick = next(i for i, v in enumerate(query.sparse) if len(v.indices) >= 2)
    q_dense, q_sparse = query.vectors[pick], query.sparse[pick]

    # Sparse search ranks by the lexical matching score, computed here by brute force.
    lexical = {i: q_sparse.dot(s) for i, s in zip(ids, sparse, strict=True)}
    hits = store.query_sparse(q_sparse, k=10)
    want = sorted((v for v in lexical.values() if v > 0), reverse=True)[:10]
    assert [h.score for h in hits] == pytest.approx(want, rel=1e-5)
    assert all(lexical[h.id] == pytest.approx(h.score, rel=1e-5) for h in hits)
    assert hits and hits[0].text == texts[ids.index(hits[0].id)]

    # Hybrid search: RRF over the dense and the sparse candidate lists.
    k, limit = 8, 20
    cos = dense @ q_dense
    dense_rank = [ids[i] for i in np.argsort(-cos)[:limit]]
    sparse_rank = [i for i, _ in sorted(lexical.items(), key=lambda kv: -kv[1]) if lexical[i] > 0]
    fused: dict[str, float] = {}
    for ranking in (dense_rank, sparse_rank[:limit]):
        for pos, id_ in enumerate(ranking):
            fused[id_] = fused.get(id_, 0.0) + 1 / (RRF_K + pos)
    hybrid = store.query_hybrid(q_dense, q_sparse, k=k, candidates=limit)
    assert len(hybrid) == k
    assert all(h.score == pytest.approx(fused[h.id]) for h in hybrid)
    assert [h.score for h in hybrid] == pytest.approx(sorted(fused.values(), reverse=True)[:k])
    assert hybrid[0].id in set(dense_rank[:3]) | set(sparse_rank[:3])

    # Filters apply to both candidate lists.
    even = store.query_hybrid(q_dense, q_sparse, k=k, where={"even": True})
    assert even and all(h.metadata["even"] is True for h in even)

    # The sparse vector survives a reopen of the folder.
    client.close()
    again = QdrantClient(path=tmp_path / "q")
    reopened = again.get("hybrid")
    assert reopened.sparse
    assert [h.id for h in reopened.query_sparse(q_sparse, k=3)] == [h.id for h in hits[:3]]
    again.close()


def test_dense_only_collections_refuse_sparse_work(
    tmp_path: Path, corpus: tuple[list[str], np.ndarray, list[SparseVector]]
) -> None:
    texts, dense, sparse = corpus
    client = QdrantClient(path=tmp_path / "q")
    store = client.open("dense", dense.shape[1])
    assert not store.sparse
    with pytest.raises(ValidationError, match="no sparse vector"):
        store.upsert(["a"], dense[:1], texts[:1], [{}], sparse=sparse[:1])
    with pytest.raises(ValidationError, match="no sparse vector"):
        store.query_sparse(sparse[0])
    with pytest.raises(StoreError, match="no sparse vector"):
        client.open("dense", dense.shape[1], sparse=True)
    hybrid = client.open("h", dense.shape[1], sparse=True)
    with pytest.raises(ValidationError, match="2 sparse vectors"):
        hybrid.upsert(["a", "b"], dense[:2], texts[:2], [{}, {}], sparse=sparse[:1])
    bad = SparseVector(np.array([3, 3]), np.array([0.1, 0.2], dtype=np.float32))
    with pytest.raises(ValidationError, match="distinct"):
        hybrid.query_sparse(bad)
    client.close()
