"""Pooling and normalisation: pure numpy functions over a model's last hidden state."""

from __future__ import annotations

import numpy as np

from lembed.models.catalog import Pooling


def pool(hidden: np.ndarray, attention_mask: np.ndarray, mode: Pooling) -> np.ndarray:
    """Reduce ``hidden`` [batch, seq, dim] to [batch, dim] over the non-padding tokens.

    Padding is assumed on the right (as :meth:`Tokenizer.pad` produces).
    """
    if mode == "cls":
        return np.asarray(hidden[:, 0, :], dtype=np.float32)
    if mode == "last":
        last = attention_mask.sum(axis=1).astype(np.int64) - 1
        return np.asarray(hidden[np.arange(hidden.shape[0]), last, :], dtype=np.float32)
    mask = attention_mask[:, :, None].astype(np.float32)
    summed = (hidden * mask).sum(axis=1)
    counts = np.clip(mask.sum(axis=1), 1e-9, None)
    return np.asarray(summed / counts, dtype=np.float32)


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.clip(norms, 1e-12, None), dtype=np.float32)
