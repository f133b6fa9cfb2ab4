"""Exact search per stored dtype, against brute force written independently."""

from __future__ import annotations

import numpy as np
import pytest

from lembed.errors import ValidationError
from lembed.evaluate.search import ExactSearch, bytes_per_vector, top_k
from lembed.runtime.pooling import l2_normalize


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    rng = np.random.default_rng(7)
    return l2_normalize(rng.normal(size=(600, 64)).astype(np.float32))


def test_float32_matches_argsort(vectors: np.ndarray) -> None:
    queries = vectors[:20] + 0.3 * vectors[20:40]
    ids, scores = ExactSearch(vectors).search(queries, 10)
    sims = queries @ vectors.T
    assert (ids == np.argsort(-sims, axis=1, kind="stable")[:, :10]).all()
    assert np.allclose(scores, np.sort(sims, axis=1)[:, ::-1][:, :10], atol=1e-6)


def test_binary_scores_are_hamming_agreement(vectors: np.ndarray) -> None:
    _, scores = ExactSearch(vectors, "binary").search(vectors[:5], 600)
    packed = np.packbits(vectors > 0, axis=1)
    ham = np.bitwise_count(packed[:5, None, :] ^ packed[None, :, :]).sum(axis=2, dtype=np.int64)
    expected = np.sort((64 - 2 * ham) / 64, axis=1)[:, ::-1]
    assert np.allclose(scores, expected, atol=1e-6)
    assert np.allclose(scores[:, 0], 1.0)


def test_int8_is_close_to_float(vectors: np.ndarray) -> None:
    ids, _ = ExactSearch(vectors, "int8").search(vectors[:50], 1)
    assert (ids[:, 0] == np.arange(50)).all()


def test_rescoring_recovers_the_float_ranking(vectors: np.ndarray) -> None:
    queries = l2_normalize(vectors[:30] + 0.5 * vectors[30:60])
    exact, _ = ExactSearch(vectors).search(queries, 10)
    plain, _ = ExactSearch(vectors, "binary").search(queries, 10)
    rescored, _ = ExactSearch(vectors, "binary", rescore=True, oversample=60).search(queries, 10)
    assert (rescored == exact).all()  # all 600 docs are candidates: exact ranking
    assert not (plain == exact).all()


def test_search_chunks_queries(vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    whole, _ = ExactSearch(vectors).search(vectors[:40], 5)
    monkeypatch.setattr("lembed.evaluate.search._CHUNK", 1000)  # fewer than 2 queries a chunk
    chunked, _ = ExactSearch(vectors).search(vectors[:40], 5)
    assert (whole == chunked).all()


def test_bytes_and_errors(vectors: np.ndarray) -> None:
    assert [bytes_per_vector(768, d) for d in ("float32", "int8", "binary")] == [3072, 768, 96]
    assert ExactSearch(vectors, "binary").bytes_per_vector == 8
    with pytest.raises(ValidationError, match="dtype must be one of"):
        ExactSearch(vectors, "ubinary")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="queries must be"):
        ExactSearch(vectors).search(vectors[:, :8], 3)
    ids, scores = top_k(np.array([[0.1, 0.5, 0.5, 0.2]]), 9)
    assert ids.tolist() == [[1, 2, 3, 0]] and scores[0, 0] == 0.5
