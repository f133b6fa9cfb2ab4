"""Retrieval modes in the evaluation (dense, bm25, hybrid:W), the embedding cache, and the
through-index path (the real ``lembed index`` pipeline, a document scored by its best chunk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.evaluate import retrieval
from lembed.evaluate.datasets import load_beir
from lembed.evaluate.retrieval import Variant, evaluate_retrieval, report_doc, sweep
from lembed.evaluate.through_index import evaluate_through_index
from lembed.settings import Settings


def test_sweep_over_modes() -> None:
    variants = sweep(["onnx"], [None, 128], ["float32"], [True], ["dense", "bm25", "hybrid:0.5"])
    labels = [v.label(384) for v in variants]
    assert labels == [
        "onnx 384d float32", "onnx 128d float32", "bm25", "onnx 384d float32 hybrid:0.5",
        "onnx 128d float32 hybrid:0.5",
    ]  # fmt: skip
    assert sweep(modes=["hybrid"])[0] == Variant(mode="hybrid", weight=0.7)


def test_modes_score_and_the_weight_ends_are_the_components(
    beir_dir: Path, fake_model: EmbeddingModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = load_beir(beir_dir)
    modes = ["dense", "bm25", "hybrid:1", "hybrid:0", "hybrid:0.5"]
    calls: list[int] = []
    real = retrieval.embed_texts
    monkeypatch.setattr(retrieval, "embed_texts", lambda *a, **k: calls.append(1) or real(*a, **k))
    report = evaluate_retrieval(
        data, sweep(["fake"], modes=modes), lambda b, q: fake_model, cache=tmp_path / "cache"
    )
    ndcg = {r.label.split()[-1]: r.scores["ndcg@10"] for r in report.results}
    assert ndcg["hybrid:1"] == pytest.approx(ndcg["float32"])  # dense order, untouched
    assert ndcg["hybrid:0"] >= ndcg["bm25"] - 1e-9  # BM25 order (dense fills short lists)
    assert ndcg["bm25"] > 0.5  # real BM25 on real SciFact text
    doc = report_doc(report)
    assert [r["mode"] for r in doc["results"]] == [
        "dense",
        "bm25",
        "hybrid:1",
        "hybrid:0",
        "hybrid:0.5",
    ]
    assert doc["results"][1]["baseline"] == "fake 384d float32"  # Δ against dense
    assert calls == [1, 1]  # documents and queries embedded once
    evaluate_retrieval(data, sweep(["fake"]), lambda b, q: fake_model, cache=tmp_path / "cache")
    assert calls == [1, 1]  # the second run read both from the cache


@pytest.mark.store
def test_through_index_scores_documents_by_their_best_chunk(
    beir_dir: Path, fake_model: EmbeddingModel, settings: Settings
) -> None:
    data = load_beir(beir_dir)
    variants = sweep(["fake"], modes=["dense", "bm25", "hybrid"])
    report = evaluate_through_index(data, variants, lambda b, q: fake_model, settings=settings)
    assert [r.label for r in report.results] == [
        "index fake 384d float32", "index bm25", "index fake 384d float32 hybrid:0.7",
    ]  # fmt: skip
    assert (
        f"chunks from {len(data.corpus):,} documents" in report.notes[0]
        and "lembed index" in report.timings
    )
    exact = evaluate_retrieval(data, sweep(["fake"], modes=["bm25"]), lambda b, q: fake_model)
    bm25 = report.results[1].scores["ndcg@10"]
    assert abs(bm25 - exact.results[0].scores["ndcg@10"]) < 0.1  # chunking moves it a little
