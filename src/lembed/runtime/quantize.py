"""Output shaping: Matryoshka truncation and int8 / binary quantisation of unit vectors."""

from __future__ import annotations

from typing import Literal

import numpy as np

from lembed.runtime.pooling import l2_normalize

OutputDtype = Literal["float32", "int8", "uint8", "binary", "ubinary"]
OUTPUT_DTYPES: tuple[OutputDtype, ...] = ("float32", "int8", "uint8", "binary", "ubinary")


def truncate_dims(vectors: np.ndarray, dimensions: int) -> np.ndarray:
    """Keep the first ``dimensions`` components and re-normalise (Matryoshka)."""
    return l2_normalize(vectors[:, :dimensions])


def quantize(vectors: np.ndarray, dtype: OutputDtype) -> np.ndarray:
    """Convert float32 unit vectors to ``dtype``.

    - ``int8``: each vector scaled so its largest component is ±127, then rounded. The scale
      is per vector, so the result never depends on what else is in the batch, and cosine
      similarity between int8 vectors tracks the float one closely.
    - ``uint8``: ``int8`` shifted by +128.
    - ``binary`` / ``ubinary``: one bit per dimension (component > 0), packed 8 per byte
      (so ``dim / 8`` bytes); ``binary`` stores each byte minus 128 as int8, the convention
      of sentence-transformers and Cohere. Compare with Hamming distance.
    """
    if dtype == "float32":
        return vectors.astype(np.float32, copy=False)
    if dtype in ("int8", "uint8"):
        peak = np.clip(np.abs(vectors).max(axis=1, keepdims=True), 1e-12, None)
        q = np.asarray(np.clip(np.rint(vectors / peak * 127.0), -127, 127), dtype=np.int8)
        return q if dtype == "int8" else (q.astype(np.int16) + 128).astype(np.uint8)
    bits = np.packbits(vectors > 0, axis=1)
    if dtype == "ubinary":
        return np.asarray(bits)
    return (bits.astype(np.int16) - 128).astype(np.int8)
