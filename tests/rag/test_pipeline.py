"""The pipeline's choices: the default retrieval mode, reranking, the no-reranker note."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.ingest.api import index
from lembed.rag.pipeline import answer, open_retriever
from lembed.rag.reranker import Reranker
from lembed.settings import Settings

pytestmark = pytest.mark.store

DOCS = {
    "a.md": "# Volcano\n\nMagma rises through the crust and erupts as lava.",
    "b.md": "# Glacier\n\nIce flows slowly downhill under its own weight.",
    "c.md": "# Desert\n\nDunes move with the wind across the sand sea.",
}


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    return f"chroma:{tmp_path / 'db'}", docs


def test_default_mode_is_dense_and_hybrid_needs_a_bm25_index(
    store: tuple[str, Path],
    fake_model: EmbeddingModel,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lembed.rag import fusion, pipeline

    assert fusion.DEFAULT_MODE == "dense"  # fusion did not beat dense everywhere measured
    monkeypatch.setattr(pipeline, "DEFAULT_MODE", "hybrid")  # a hybrid default would...
    uri, docs = store
    opts = {"store": uri, "collection": "geo", "model": fake_model, "settings": settings}
    index([docs], lexical=False, **opts)  # type: ignore[arg-type]
    common = {"store": uri, "collection": "geo", "model": fake_model, "backend": None}
    retriever, notes = open_retriever(mode=None, settings=settings, **common)  # type: ignore[arg-type]
    assert retriever.mode == "dense" and "dense retrieval only" in notes[0]

    index([docs], **opts)  # type: ignore[arg-type]
    retriever, notes = open_retriever(mode=None, settings=settings, **common)  # type: ignore[arg-type]
    assert retriever.mode == "hybrid" and notes == []  # ...need the BM25 index
    result = answer("Where does lava come from?", retriever, k=3, top_n=2)
    assert result.mode == "hybrid" and len(result.passages) == 2 and result.retrieved == 3
    assert result.score_kind == "fused" and result.weight == fusion.DEFAULT_WEIGHT
    assert result.passages[0].source.endswith("a.md")  # BM25 finds "lava"; fusion keeps it
    assert any("no reranker" in n for n in result.notes) and result.answer is None


def test_reranker_orders_the_context(
    store: tuple[str, Path],
    fake_model: EmbeddingModel,
    settings: Settings,
    tiny_reranker_path: Path,
) -> None:
    uri, docs = store
    index([docs], store=uri, collection="geo", model=fake_model, settings=settings)
    retriever, _ = open_retriever(
        store=uri, collection="geo", mode="dense", model=fake_model, backend=None, settings=settings
    )
    reranker = Reranker(str(tiny_reranker_path), settings=settings)
    question = "Where does lava come from?"
    result = answer(question, retriever, k=3, top_n=3, reranker=reranker)
    texts = [p.hit.text for p in result.passages]
    want = reranker.rerank(question, texts)  # the same model, asked directly
    assert [r.index for r in want] == [0, 1, 2]  # the context is already in its order
    assert [p.hit.score for p in result.passages] == sorted(
        (p.hit.score for p in result.passages), reverse=True
    )
    assert result.reranker == reranker.name
    assert result.timings.rerank > 0 and not any("no reranker" in n for n in result.notes)


def test_python_api_closes_the_store_between_calls(
    tmp_path: Path, store: tuple[str, Path], fake_model: EmbeddingModel, settings: Settings
) -> None:
    from lembed.rag import ask

    _, docs = store
    uri = f"qdrant:{tmp_path / 'q'}"  # embedded Qdrant locks its folder while open
    index([docs], store=uri, collection="geo", model=fake_model, settings=settings)
    for mode in ("hybrid", "dense", "bm25"):
        result = ask(
            "Where does lava come from?",
            store=uri,
            collection="geo",
            model=fake_model,
            mode=mode,
            reranker="none",
            llm=None,
            settings=settings,
        )
        assert result.mode == mode and result.passages[0].source.endswith("a.md"), mode
        assert result.answer is None and result.timings.load > 0
    with pytest.raises(ValidationError):  # a failure after opening the store closes it too
        ask("q", store=uri, collection="geo", model=fake_model, llm="gpt", settings=settings)
    index([docs], store=uri, collection="geo", model=fake_model, settings=settings)


def test_extractive_answer_cites_and_local_fallback_says_so(
    store: tuple[str, Path], fake_model: EmbeddingModel, settings: Settings
) -> None:
    """The extractive answer quotes the closest sentence with its number; a generator that
    asks for the citation check and cites nothing gets the extractive answer instead."""

    class Uncited:
        name, context_tokens, check_citations = "tiny-local", 1024, True

        def count_tokens(self, text: str) -> int:
            return len(text.split())

        def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
            yield "Lava is hot."

    uri, docs = store
    index([docs], store=uri, collection="geo", model=fake_model, settings=settings)
    retriever, _ = open_retriever(
        store=uri, collection="geo", mode="dense", model=fake_model, backend=None, settings=settings
    )
    question = "Magma rises through the crust and erupts as lava."  # a sentence of a.md
    result = answer(question, retriever, k=3, top_n=3, extractive=fake_model)
    assert result.answer_kind == "extractive" and result.answer.startswith(question)
    number = next(p.number for p in result.passages if p.source.endswith("a.md"))
    assert f"[{number}]" in result.answer and result.citations[0] == number
    assert result.timings.generate > 0

    result = answer(question, retriever, k=3, top_n=3, generator=Uncited(), extractive=fake_model)
    assert result.answer_kind == "fallback" and result.draft == "Lava is hot."
    assert result.citations and any("cited no passage" in n for n in result.notes)
