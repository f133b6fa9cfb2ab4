"""A deterministic fake backend: real tokenizer, no network weights, millisecond fast.

Each token id maps to a fixed pseudo-random vector, so texts sharing tokens get similar
embeddings and the same text always gets the same one. Server, batching, ingest and CLI
tests run on it; numerical agreement is tested on the real backends.

For failure tests it can also be slow (``delay_s`` per forward pass) and inject faults
(``LEMBED_FAKE_FAULT``): ``nan`` returns a NaN in every batch, ``error`` raises like a
failing runtime, ``crash`` kills the inference worker (a ``BaseException`` the batcher
cannot recover from, as a segfaulting runtime would), ``hang`` blocks the forward pass
until :meth:`FakeBackend.release` (a wedged runtime: the batcher's stall watchdog must
notice).
"""

from __future__ import annotations

import threading
import time
from typing import Literal

import numpy as np

from lembed.runtime.tokenizer import Batch

Fault = Literal["", "nan", "error", "crash", "hang"]


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
        self._released = threading.Event()

    def release(self) -> None:
        """End every hung forward pass (and the ``hang`` fault)."""
        self.fault = ""
        self._released.set()

    def forward(self, batch: Batch) -> np.ndarray:
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fault == "error":
            raise RuntimeError("injected backend failure")
        if self.fault == "crash":
            raise InjectedCrash("injected worker crash")
        if self.fault == "hang":
            self._released.wait()
        hidden = np.asarray(self._table[batch.input_ids % self._table.shape[0]])
        if self.fault == "nan":
            hidden[0, 0, 0] = np.nan
        return hidden
