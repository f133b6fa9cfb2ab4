"""Report rendering: deltas, Markdown, the PNG plot and published reference scores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lembed.evaluate.report import add_deltas, markdown, plot, reference_score, write
from tests.evaluate.conftest import SCIFACT, STS


def _row(label: str, dtype: str, dims: int, ndcg: float, nbytes: int) -> dict[str, Any]:
    return {
        "label": label, "backend": "onnx", "prefixes": True, "dimensions": dims,
        "dtype": dtype, "rescore": False, "bytes_per_vector": nbytes,
        "scores": {"ndcg@10": ndcg, "mrr@10": ndcg - 0.05},
    }  # fmt: skip


@pytest.fixture
def doc() -> dict[str, Any]:
    return add_deltas(
        {
            "task": "retrieval",
            "dataset": "scifact",
            "model": "m",
            "hf_id": "org/m",
            "size": "5 documents, 2 queries",
            "main_metric": "ndcg@10",
            "metrics": ["ndcg@10", "mrr@10"],
            "reference": {"score": 0.645, "source": "paper"},
            "results": [
                _row("onnx 384d float32", "float32", 384, 0.6450, 1536),
                _row("onnx 384d binary", "binary", 384, 0.6010, 48),
                _row("onnx 128d float32", "float32", 128, 0.6000, 512),
                _row("onnx 128d int8", "int8", 128, 0.5950, 128),
            ],
            "notes": ["a note"],
            "timings": {"embed onnx": 12.5},
        }
    )


def test_deltas_are_against_the_same_setups_float32(doc: dict[str, Any]) -> None:
    deltas = [round(r["delta"], 2) for r in doc["results"]]
    assert deltas == [0.0, -4.4, 0.0, -0.5]
    assert doc["results"][3]["baseline"] == "onnx 128d float32"
    assert doc["reference"]["delta"] == pytest.approx(0.0)


def test_markdown_table(doc: dict[str, Any]) -> None:
    text = markdown(doc)
    assert "| onnx 384d binary | 48 | 60.10 | 55.10 | -4.40 |" in text
    assert "| variant | bytes | ndcg@10 | mrr@10 | Δ |" in text
    assert "Published ndcg@10 of org/m: 64.50 (paper)" in text
    assert "embed onnx 12.5 s" in text and text.rstrip().endswith("- a note")


def test_plot_and_write(doc: dict[str, Any], tmp_path: Path) -> None:
    png = plot(doc, tmp_path / "sub" / "p.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    paths = write(doc, tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.md", "quality_vs_bytes.png"]
    assert json.loads(paths[0].read_text())["results"][1]["delta"] == pytest.approx(-4.4)


def test_reference_scores_of_the_shipped_data_sets(tmp_path: Path) -> None:
    minilm = "sentence-transformers/all-MiniLM-L6-v2"
    assert reference_score(SCIFACT, minilm, "ndcg_at_10")["score"] == 0.64508  # type: ignore[index]
    sts = reference_score(STS / "sts-test.csv", minilm, "cosine_spearman")
    assert sts is not None and round(sts["score"], 4) == 0.8203
    assert reference_score(SCIFACT, "nomic-ai/nomic-embed-text-v1.5", "ndcg_at_10") is None
    assert reference_score(tmp_path, minilm, "ndcg_at_10") is None


def test_several_setups_also_compare_with_the_first_row(doc: dict[str, Any]) -> None:
    extra = _row("onnx-int8 384d float32", "float32", 384, 0.641, 1536)
    extra["backend"] = "onnx-int8"
    doc["results"].append(extra)
    text = markdown(add_deltas(doc))
    assert "Δ row 1 = against onnx 384d float32" in text
    assert "| onnx-int8 384d float32 | 1,536 | 64.10 | 59.10 | +0.00 | -0.40 |" in text
