"""Retrieval sweeps on a real SciFact slice: the fake backend for the plumbing, the packaged
ONNX model for quality."""

from __future__ import annotations

from pathlib import Path

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.evaluate.datasets import RetrievalDataset, load_beir, sample
from lembed.evaluate.retrieval import (
    RetrievalReport,
    Variant,
    evaluate_retrieval,
    parse_dtype,
    report_doc,
    sweep,
)


def test_sweep_is_the_cartesian_product_in_order() -> None:
    variants = sweep(["onnx", "torch"], [None, 128], ["float32", "binary+rescore"], [True])
    assert len(variants) == 8
    assert variants[1] == Variant("onnx", None, "binary", True, True)
    assert variants[-1].label(384) == "torch 128d binary+rescore"
    assert Variant(prefixes=False).label(384) == "onnx 384d float32 no-prefix"
    assert parse_dtype("int8+rescore") == ("int8", True)
    for bad in ("float16", "float32+rescore", "binary+x"):
        with pytest.raises(ValidationError, match="dtype must be one of"):
            parse_dtype(bad)
    with pytest.raises(ValidationError, match="backend must be one of"):
        sweep(["gpu"])


def test_one_embedding_pass_serves_every_derived_variant(
    beir_dir: Path, fake_model: EmbeddingModel
) -> None:
    calls: list[tuple[str, str]] = []

    def load(backend: str, quantize: str) -> EmbeddingModel:
        calls.append((backend, quantize))
        return fake_model

    seen: list[tuple[str, int, int]] = []
    variants = sweep(["fake"], [None, 128], ["float32", "int8", "binary"], [True, False])
    report = evaluate_retrieval(
        load_beir(beir_dir), variants, load, progress=lambda *a: seen.append(a)
    )
    assert calls == [("fake", "none")]
    assert list(report.timings) == ["embed fake", "embed fake no-prefix"]
    assert len(report.results) == 12 and report.queries == 30
    assert [r.bytes_per_vector for r in report.results[:6]] == [1536, 384, 48, 512, 128, 16]
    assert ("fake documents", report.docs, report.docs) in seen
    assert any("not trained for 128 dimensions" in n for n in report.notes)
    assert any("cut to the 256-token window" in n for n in report.notes)
    doc = report_doc(report)
    assert doc["results"][4]["baseline"] == "fake 128d float32"
    assert doc["results"][3]["delta"] == 0.0


def test_a_document_with_the_query_id_is_ignored(fake_model: EmbeddingModel) -> None:
    data = RetrievalDataset(
        "toy",
        corpus={"q1": "cats purr", "d1": "cats purr softly", "d2": "stock prices fell"},
        queries={"q1": "cats purr"},
        qrels={"q1": {"d1": 1}},
    )
    report = evaluate_retrieval(data, [Variant("fake")], lambda b, q: fake_model)
    assert report.results[0].scores["recall@1"] == 1.0  # "q1" itself would rank first


@pytest.fixture(scope="module")
def onnx_report(beir_dir: Path, onnx_model: EmbeddingModel) -> RetrievalReport:
    variants = sweep(["onnx"], [None], ["float32", "int8", "binary", "binary+rescore"])
    data = sample(load_beir(beir_dir), 20, 100)  # 20 queries, ~120 abstracts: seconds on CPU
    return evaluate_retrieval(data, variants, lambda b, q: onnx_model)


@pytest.mark.model
@pytest.mark.slow
def test_real_model_quality_and_compression_losses(onnx_report: RetrievalReport) -> None:
    ndcg = {r.label: r.scores["ndcg@10"] for r in onnx_report.results}
    float32 = ndcg["onnx 384d float32"]
    # 20 SciFact queries against their judged docs plus 100 distractors: a much easier task
    # than the full corpus (64.5 NDCG@10); a model that ignored the text would score near 0.
    assert float32 > 0.80  # measured 0.97
    assert abs(ndcg["onnx 384d int8"] - float32) < 0.02
    assert ndcg["onnx 384d binary"] < float32
    assert ndcg["onnx 384d binary+rescore"] > ndcg["onnx 384d binary"]
    recall = onnx_report.results[0].scores
    assert recall["recall@1"] <= recall["recall@5"] <= recall["recall@10"] <= recall["recall@100"]
