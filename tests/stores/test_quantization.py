"""Quantisation is offered only where the store applies it: embedded Qdrant (edge) really
searches int8/binary codes (scores without rescoring are not the float cosines) and rescoring
restores exact cosines; stores that would silently drop it refuse it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lembed.errors import ValidationError
from lembed.stores import open_client
from lembed.stores.qdrant_edge import EdgeStore

pytestmark = pytest.mark.store


def data(n: int = 600, dim: int = 64) -> np.ndarray:
    vecs = np.random.default_rng(7).standard_normal((n, dim)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


@pytest.mark.parametrize("quantization", ["int8", "binary"])
def test_edge_searches_the_quantised_codes(quantization: str, tmp_path: Path) -> None:
    vecs = data()
    client = open_client(f"qdrant:{tmp_path}", quantization=quantization)
    store = client.open("codes", vecs.shape[1])
    assert isinstance(store, EdgeStore)
    ids = [f"v{i}" for i in range(len(vecs))]
    store.upsert(ids, vecs, ids, [{} for _ in ids])
    store.optimize()
    queries = data(20)[::-1] + 0.3 * vecs[:20]

    def scores(rescore: bool) -> tuple[list[str], np.ndarray, np.ndarray]:
        store.rescore = rescore
        got_ids, got, want = [], [], []
        for q in queries:
            q = q / np.linalg.norm(q)
            for hit in store.query(q, k=5):
                got_ids.append(hit.id)
                got.append(hit.score)
                want.append(float(vecs[int(hit.id[1:])] @ q))
        return got_ids, np.array(got), np.array(want)

    _, raw, exact = scores(rescore=False)
    assert np.max(np.abs(raw - exact)) > 1e-3  # the codes were searched, not the floats
    _, rescored, exact = scores(rescore=True)
    np.testing.assert_allclose(rescored, exact, atol=1e-5)  # rescoring uses the originals
    client.close()


def test_stores_that_would_ignore_quantisation_refuse_it(tmp_path: Path) -> None:
    for uri in ("memory:", f"chroma:{tmp_path / 'c'}", f"qdrant+local:{tmp_path / 'q'}"):
        with pytest.raises(ValidationError, match="quantis"):
            open_client(uri, quantization="int8")
    with pytest.raises(ValidationError, match="quantization must be"):
        open_client(f"qdrant:{tmp_path / 'e'}", quantization="pq")
