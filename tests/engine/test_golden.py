"""Numerical agreement with sentence-transformers on the packaged default model."""

from __future__ import annotations

import numpy as np
import pytest

from lembed.engine.load import load_model
from lembed.engine.model import EmbeddingModel
from lembed.settings import Settings

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture(scope="module")
def reference(onnx_model: EmbeddingModel, sts_sentences: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(onnx_model.resolved.path), device="cpu")
    assert st.max_seq_length == onnx_model.max_tokens == 256
    texts = [*sts_sentences, "word " * 400, " ".join(sts_sentences[:40])]
    return np.asarray(st.encode(texts, batch_size=32, normalize_embeddings=True))


def _texts(sts_sentences: list[str]) -> list[str]:
    return [*sts_sentences, "word " * 400, " ".join(sts_sentences[:40])]


def test_onnx_fp32_matches_sentence_transformers(
    onnx_model: EmbeddingModel, reference: np.ndarray, sts_sentences: list[str]
) -> None:
    out = onnx_model.embed(_texts(sts_sentences), input_type="none")
    cos = (out.vectors * reference).sum(axis=1)
    assert cos.min() >= 0.9999, cos.min()
    assert len(sts_sentences) >= 200
    assert out.truncated == [len(sts_sentences), len(sts_sentences) + 1]


def test_onnx_int8_stays_close(
    settings: Settings, reference: np.ndarray, sts_sentences: list[str]
) -> None:
    model = load_model(backend="onnx", quantize="int8", settings=settings)
    cos = (model.embed(_texts(sts_sentences)).vectors * reference).sum(axis=1)
    assert cos.mean() >= 0.99 and cos.min() >= 0.98, (cos.mean(), cos.min())


def test_torch_backend_matches_sentence_transformers(
    settings: Settings, reference: np.ndarray, sts_sentences: list[str]
) -> None:
    model = load_model(backend="torch", device="cpu", settings=settings)
    cos = (model.embed(_texts(sts_sentences)).vectors * reference).sum(axis=1)
    assert cos.min() >= 0.9999, cos.min()


def test_export_is_cached(settings: Settings, onnx_model: EmbeddingModel) -> None:
    from lembed.runtime.export import cache_folder

    graph = cache_folder(onnx_model.resolved, settings.cache_dir) / "model.onnx"
    stamp = graph.stat().st_mtime_ns
    load_model(backend="onnx", settings=settings)
    assert graph.stat().st_mtime_ns == stamp
