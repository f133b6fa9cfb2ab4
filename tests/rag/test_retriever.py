"""Dense, BM25 and hybrid (reciprocal rank fusion) retrieval over a real memory store."""

from __future__ import annotations

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.rag.retriever import RRF_K, Retriever, rrf
from lembed.stores.base import Hit
from lembed.stores.lexical import BM25
from lembed.stores.memory import MemoryClient

TEXTS = {
    "paris": "Paris is the capital of France and has the Eiffel Tower.",
    "coffee": "Brew coffee with water at ninety-three degrees for four minutes.",
    "rust": "In Rust every value has a single owner and is dropped at scope end.",
    "tower": "The Eiffel Tower was finished in 1889 for the World's Fair.",
}


@pytest.fixture
def parts(fake_model: EmbeddingModel) -> tuple[EmbeddingModel, object, BM25]:
    store = MemoryClient().open("docs", fake_model.dim, model=fake_model.name)
    ids = list(TEXTS)
    vectors = fake_model.embed(list(TEXTS.values()), input_type="document").vectors
    metas = [{"source": f"{i}.md", "lang": "en" if i != "rust" else "code"} for i in ids]
    store.upsert(ids, vectors, list(TEXTS.values()), metas)  # type: ignore[arg-type]
    bm25 = BM25([(i, TEXTS[i], m) for i, m in zip(ids, metas, strict=True)])  # type: ignore[misc]
    return fake_model, store, bm25


def test_rrf_fuses_by_reciprocal_rank() -> None:
    a = [Hit("x", 0.9, "x"), Hit("y", 0.8, "y"), Hit("z", 0.7, "z")]
    b = [Hit("y", 12.0, "y"), Hit("w", 3.0, "w")]
    fused = rrf([a, b], k=10)
    assert [h.id for h in fused] == ["y", "x", "w", "z"]
    assert fused[0].score == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert fused[1].score == pytest.approx(1 / (RRF_K + 1))
    assert len(rrf([a, b], k=2)) == 2


def test_modes(parts: tuple[EmbeddingModel, object, BM25]) -> None:
    model, store, bm25 = parts
    question = TEXTS["coffee"]  # identical text: the dense top hit must be that chunk
    dense = Retriever(model=model, store=store, lexical=bm25, mode="dense")  # type: ignore[arg-type]
    got = dense.retrieve(question, k=3)
    assert got.hits[0].id == "coffee" and got.hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert got.embed_seconds > 0 and got.search_seconds > 0 and len(got.hits) == 3

    lexical = Retriever(lexical=bm25, mode="bm25").retrieve("When was the Eiffel Tower finished?")
    assert [h.id for h in lexical.hits][:2] == ["tower", "paris"]
    assert lexical.embed_seconds == 0

    hybrid = Retriever(model=model, store=store, lexical=bm25, mode="hybrid")  # type: ignore[arg-type]
    fused = hybrid.retrieve("Eiffel Tower 1889", k=4).hits
    assert fused[0].id == "tower"
    assert {h.id for h in fused} == set(TEXTS)


def test_filters_apply_to_both_lists(parts: tuple[EmbeddingModel, object, BM25]) -> None:
    model, store, bm25 = parts
    hybrid = Retriever(model=model, store=store, lexical=bm25, mode="hybrid")  # type: ignore[arg-type]
    hits = hybrid.retrieve("single owner value", k=4, where={"lang": "en"}).hits
    assert hits and "rust" not in {h.id for h in hits}


def test_bad_arguments(parts: tuple[EmbeddingModel, object, BM25]) -> None:
    model, store, bm25 = parts
    with pytest.raises(ValidationError, match="mode"):
        Retriever(lexical=bm25, mode="sparse")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="BM25"):
        Retriever(model=model, store=store, mode="hybrid")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="embedding model"):
        Retriever(lexical=bm25, mode="dense")
    with pytest.raises(ValidationError, match="empty"):
        Retriever(lexical=bm25, mode="bm25").retrieve("  ")
