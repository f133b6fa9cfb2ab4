"""A deterministic fake backend: real tokenizer, no network weights, millisecond fast.

Each token id maps to a fixed pseudo-random vector, so texts sharing tokens get similar
embeddings and the same text always gets the same one. Server, batching, ingest and CLI
tests run on it; numerical agreement is tested on the real backends.

For failure tests it can also be slow (``delay_s`` per forward pass) and inject faults
(``LEMBED_FAKE_FAULT``): ``nan`` returns a NaN in every batch, ``error`` raises like a
failing runtime, ``crash`` kills the inference worker (a ``BaseException`` the batcher
cannot recover from, as a segfaulting or wedged runtime would).
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from lembed.runtime.tokenizer import Batch

Fault = Literal["", "nan", "error", "crash"]


class InjectedCrash(BaseException):
    """Stands in for a runtime failure that takes the inference worker down."""


class FakeBackend:
    name = "fake"
    device = "cpu"

    def __init__(
        self,
        dim: int,
        vocab_size: int = 32_768,
        seed: int = 0,
        *,
        delay_s: float = 0.0,
        fault: Fault = "",
    ) -> None:
        rng = np.random.default_rng(seed)
        self._table = rng.standard_normal((vocab_size, dim), dtype=np.float32)
        self.delay_s = delay_s
        self.fault = fault

    def forward(self, batch: Batch) -> np.ndarray:
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fault == "error":
            raise RuntimeError("injected backend failure")
        if self.fault == "crash":
            raise InjectedCrash("injected worker crash")
        hidden = np.asarray(self._table[batch.input_ids % self._table.shape[0]])
        if self.fault == "nan":
            hidden[0, 0, 0] = np.nan
        return hidden
