"""Model runtimes behind one contract: ``forward(batch) -> last hidden state``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from lembed.runtime.tokenizer import Batch


class Backend(Protocol):
    """Runs the transformer; pooling and everything after it happen in numpy."""

    name: str
    device: str

    def forward(self, batch: Batch) -> np.ndarray:
        """Return the last hidden state, float32 [batch, seq, hidden]."""
        ...


@runtime_checkable
class Copyable(Protocol):
    """A backend that can open a second session on its weights, to run passes side by side."""

    device: str

    @property
    def weights_bytes(self) -> int:
        """What a copy costs in memory."""
        ...

    def with_threads(self, threads: int) -> Backend:
        """A copy running on ``threads`` threads."""
        ...
