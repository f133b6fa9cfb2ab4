"""A deterministic fake backend: real tokenizer, no network weights, millisecond fast.

Each token id maps to a fixed pseudo-random vector, so texts sharing tokens get similar
embeddings and the same text always gets the same one. Server, batching, ingest and CLI
tests run on it; numerical agreement is tested on the real backends.
"""

from __future__ import annotations

import numpy as np

from lembed.runtime.tokenizer import Batch


class FakeBackend:
    name = "fake"
    device = "cpu"

    def __init__(self, dim: int, vocab_size: int = 32_768, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self._table = rng.standard_normal((vocab_size, dim), dtype=np.float32)

    def forward(self, batch: Batch) -> np.ndarray:
        ids = batch.input_ids % self._table.shape[0]
        return np.asarray(self._table[ids])
