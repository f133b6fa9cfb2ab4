"""STS scoring: pair similarities per dtype, and the real model on STS Benchmark pairs."""

from __future__ import annotations

import numpy as np
import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.evaluate.datasets import StsDataset, load_sts
from lembed.evaluate.sts import evaluate_sts, pair_cosines
from lembed.runtime.pooling import l2_normalize
from tests.evaluate.conftest import STS


def test_pair_cosines_per_dtype() -> None:
    rng = np.random.default_rng(3)
    a = l2_normalize(rng.normal(size=(50, 32)).astype(np.float32))
    b = l2_normalize(a + 0.5 * rng.normal(size=(50, 32)).astype(np.float32))
    exact = (a * b).sum(axis=1)
    assert np.allclose(pair_cosines(a, b), exact, atol=1e-6)
    assert np.allclose(pair_cosines(a, b, "int8"), exact, atol=0.02)
    agree = ((a > 0) == (b > 0)).sum(axis=1)
    assert np.allclose(pair_cosines(a, b, "binary"), (2 * agree - 32) / 32, atol=1e-6)


def test_sweep_with_fake_backend(fake_model: EmbeddingModel) -> None:
    data = load_sts(STS)
    small = StsDataset("sts", data.pairs[:200], data.scores[:200])
    doc = evaluate_sts(
        small,
        lambda b, q: fake_model,
        backends=["fake"],
        dimensions=[None, 64],
        dtypes=["float32", "binary"],
    )
    assert [r["label"] for r in doc["results"]] == [
        "fake 384d float32",
        "fake 384d binary",
        "fake 64d float32",
        "fake 64d binary",
    ]
    assert doc["results"][1]["bytes_per_vector"] == 48 and doc["main_metric"] == "spearman"
    assert -1 <= doc["results"][0]["scores"]["spearman"] <= 1
    assert doc["notes"] == [
        "all-minilm-l6-v2 was not trained for 64 dimensions (Matryoshka sizes: none); "
        "expect a larger quality loss"
    ]
    with pytest.raises(ValidationError, match="dtype must be one of"):
        evaluate_sts(small, lambda b, q: fake_model, backends=["fake"], dtypes=["ubinary"])


@pytest.mark.model
def test_real_model_tracks_gold_scores(onnx_model: EmbeddingModel) -> None:
    data = load_sts(STS)
    small = StsDataset("sts", data.pairs[::5], data.scores[::5])  # 276 pairs across genres
    doc = evaluate_sts(small, lambda b, q: onnx_model, dtypes=["float32", "int8", "binary"])
    rho = {r["dtype"]: r["scores"]["spearman"] for r in doc["results"]}
    assert rho["float32"] > 0.75  # the full test split gives 82.03 (MTEB)
    assert abs(rho["int8"] - rho["float32"]) < 0.01 and rho["binary"] < rho["float32"]
