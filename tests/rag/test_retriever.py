"""Dense, BM25 and hybrid (weighted score fusion) retrieval over a real memory store."""

from __future__ import annotations

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.rag.retriever import Retriever
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
    found = hybrid.retrieve("Eiffel Tower 1889", k=4)
    fused = found.hits
    assert fused[0].id == "tower" and found.weight == pytest.approx(0.7)
    assert {h.id for h in fused} == set(TEXTS)
    assert all(0.0 <= h.score <= 1.0 for h in fused)  # fused scores are normalised
    assert set(found.components["tower"]) == {"dense", "bm25"}  # raw scores kept for --json
    lexical_only = Retriever(model=model, store=store, lexical=bm25, mode="hybrid", weight=0.0)  # type: ignore[arg-type]
    assert lexical_only.retrieve("Eiffel Tower 1889", k=4).hits[0].id == "tower"


def test_the_same_text_is_returned_once(fake_model: EmbeddingModel) -> None:
    store = MemoryClient().open("dups", fake_model.dim, model=fake_model.name)
    texts = [TEXTS["paris"], TEXTS["paris"], TEXTS["coffee"]]  # one chunk stored twice
    ids, metas = ["p1", "p2", "c"], [{"source": "a.md"}, {"source": "b.md"}, {"source": "c.md"}]
    store.upsert(ids, fake_model.embed(texts).vectors, texts, metas)  # type: ignore[arg-type]
    bm25 = BM25([(i, t, m) for i, t, m in zip(ids, texts, metas, strict=True)])  # type: ignore[misc]
    for mode in ("dense", "bm25", "hybrid"):
        retriever = Retriever(model=fake_model, store=store, lexical=bm25, mode=mode)  # type: ignore[arg-type]
        hits = retriever.retrieve("Paris capital of France Eiffel", k=3).hits
        assert [h.text for h in hits].count(TEXTS["paris"]) == 1, mode


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
    with pytest.raises(ValidationError, match="weight"):
        Retriever(model=model, store=store, lexical=bm25, mode="hybrid", weight=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="empty"):
        Retriever(lexical=bm25, mode="bm25").retrieve("  ")
