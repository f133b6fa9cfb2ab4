"""bge-small-en-v1.5 (CLS) and e5-small-v2 (mean) on random-weight fixtures in their hub
layouts: onnx fp32 and torch against sentence-transformers, with the catalog's prefixes,
over a few hundred varied inputs including ones past the 512-token window."""

from __future__ import annotations

import numpy as np
import pytest

from lembed.engine.load import load_model
from lembed.engine.model import EmbeddingModel
from lembed.models.catalog import find
from lembed.settings import Settings
from tests.fixtures.bert_small import POOLING, bert_small
from tests.fixtures.checkpoints import varied_texts

pytestmark = pytest.mark.model

CASES = [
    ("bge-small-en-v1.5", "BAAI/bge-small-en-v1.5", "onnx"),
    ("bge-small-en-v1.5", "BAAI/bge-small-en-v1.5", "torch"),
    ("e5-small-v2", "intfloat/e5-small-v2", "onnx"),
    ("e5-small-v2", "intfloat/e5-small-v2", "torch"),
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    out = varied_texts(250, seed=7, long_words=700)
    assert sum(len(t.split()) > 600 for t in out) >= 5
    return out


@pytest.fixture(scope="module", params=CASES, ids=[f"{n}-{b}" for n, _, b in CASES])
def case(request: pytest.FixtureRequest, settings: Settings) -> tuple[EmbeddingModel, object]:
    from sentence_transformers import SentenceTransformer

    name, hf_id, backend = request.param
    snap = bert_small(hf_id)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_CACHE", str(snap.parents[2]))
        model = load_model(name, backend=backend, settings=settings)
    return model, SentenceTransformer(str(snap), device="cpu")


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(np.sum(a * b, axis=1))


def test_catalog_entries_match_the_model_cards() -> None:
    bge, e5 = find("bge-small-en-v1.5"), find("e5-small-v2")
    assert bge is not None and e5 is not None
    assert (bge.pooling, bge.max_tokens) == ("cls", 512)
    assert bge.query_prefix == "Represent this sentence for searching relevant passages: "
    assert bge.document_prefix == ""
    assert (e5.pooling, e5.max_tokens) == ("mean", 512)
    assert (e5.query_prefix, e5.document_prefix) == ("query: ", "passage: ")
    for spec in (bge, e5):
        assert POOLING[spec.hf_id] == spec.pooling


def test_matches_sentence_transformers_with_the_prefixes(
    case: tuple[EmbeddingModel, object], texts: list[str]
) -> None:
    model, st = case
    spec = model.spec
    assert model.resolved.source == "hf-cache" and model.max_tokens == 512
    for kind, prefix in (("query", spec.query_prefix), ("document", spec.document_prefix)):
        want = st.encode([prefix + t for t in texts], batch_size=32)  # type: ignore[attr-defined]
        got = model.embed(texts, input_type=kind)
        assert len(got.truncated) >= 5
        cos = _cos(got.vectors, want)
        assert cos.min() >= 0.9999, (model.name, model.backend.name, kind, float(cos.min()))
    # The prefixes matter: a short text's query vector is not its document vector.
    short = [t for t in texts if len(t.split()) <= 5][:20]
    q = model.embed(short, input_type="query").vectors
    d = model.embed(short, input_type="document").vectors
    assert _cos(q, d).max() < 0.99999


def test_pooling_is_the_models_own(case: tuple[EmbeddingModel, object], texts: list[str]) -> None:
    model, st = case
    got = model.embed(texts[:40], input_type="none").vectors
    tokens = st.encode(texts[:40], output_value="token_embeddings")  # type: ignore[attr-defined]
    cls = np.stack([t[0].numpy() for t in tokens])
    mean = np.stack([t.numpy().mean(axis=0) for t in tokens])
    cls /= np.linalg.norm(cls, axis=1, keepdims=True)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    right, wrong = (cls, mean) if model.spec.pooling == "cls" else (mean, cls)
    assert _cos(got, right).min() >= 0.9999
    assert _cos(got, wrong).min() < 0.99
