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


# What a padding slot costs a pass on an unpadded graph (:mod:`lembed.runtime.unpadded`),
# relative to a real token: only attention sees padding there. Measured on all-MiniLM-L6-v2,
# one thread, 8 rows of 16 tokens padded to 32 and to 64: 0.28 and 0.26.
UNPADDED_PADDING_COST = 0.27


def padding_cost(backend: Backend) -> float:
    """What a padding slot costs ``backend``'s forward pass relative to a real token: 1 on a
    padded graph, :data:`UNPADDED_PADDING_COST` where the backend says it is ``unpadded``."""
    return UNPADDED_PADDING_COST if getattr(backend, "unpadded", False) else 1.0
