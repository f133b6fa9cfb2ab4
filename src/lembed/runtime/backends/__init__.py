"""Model runtimes behind one contract: ``forward(batch) -> last hidden state``."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from lembed.runtime.tokenizer import Batch


class Backend(Protocol):
    """Runs the transformer; pooling and everything after it happen in numpy."""

    name: str
    device: str

    def forward(self, batch: Batch) -> np.ndarray:
        """Return the last hidden state, float32 [batch, seq, hidden]."""
        ...
