"""Exact nearest-neighbour search over stored vectors of one output dtype.

This is the evaluation's default retriever: every query is scored against every document
(no index approximation), so quality differences come from the embeddings alone. Documents
are stored as they would be in a vector store of that dtype:

- ``float32``: unit vectors, cosine = dot product.
- ``int8``: lembed's per-vector int8 codes; cosine between the codes (query coded too).
- ``binary``: one sign bit per dimension; score = agreement of the bits (Hamming).
- ``rescore=True``: take ``oversample * k`` candidates from the compact codes, then re-rank
  them with the float32 query against the float32 documents (kept on disk in practice, as
  Qdrant's quantisation with rescoring does); memory per vector stays the code's.

A :class:`Searcher` is the seam for other retrievers: a vector store adapter only has to
answer ``search(queries, k)`` with row indices and scores.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

from lembed.errors import ValidationError
from lembed.runtime.pooling import l2_normalize
from lembed.runtime.quantize import quantize

StoreDtype = Literal["float32", "int8", "binary"]
STORE_DTYPES: tuple[StoreDtype, ...] = ("float32", "int8", "binary")
_CHUNK = 1 << 24  # score-matrix entries computed at once (64 MiB of float32)


class Searcher(Protocol):
    """Anything that finds the ``k`` best documents for each query vector."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Row indices ``[n, k]`` into the indexed documents and their scores, best first."""
        ...


def bytes_per_vector(dim: int, dtype: StoreDtype) -> int:
    """Bytes one stored vector takes: 4 per dimension, 1 for int8, 1 bit for binary."""
    return {"float32": 4 * dim, "int8": dim, "binary": -(-dim // 8)}[dtype]


def codes(vectors: np.ndarray, dtype: StoreDtype) -> np.ndarray:
    """Float32 arrays whose dot products rank like the stored codes' similarity."""
    if dtype == "float32":
        return np.ascontiguousarray(vectors, dtype=np.float32)
    if dtype == "int8":
        return l2_normalize(quantize(vectors, "int8").astype(np.float32))
    bits = np.unpackbits(quantize(vectors, "ubinary"), axis=1)[:, : vectors.shape[1]]
    # ±1 per bit, scaled so a code's dot product with itself is 1: (dim - 2 * hamming) / dim
    return (bits.astype(np.float32) * 2.0 - 1.0) / np.float32(np.sqrt(vectors.shape[1]))


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest entries of each row, best first (ties: lower index first)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    rows = np.arange(scores.shape[0])[:, None]
    part_scores = scores[rows, part]
    order = np.lexsort((part, -part_scores), axis=1)
    return part[rows, order], part_scores[rows, order]


class ExactSearch:
    """Brute-force search over documents stored as ``dtype``, optionally rescored in float."""

    def __init__(
        self,
        documents: np.ndarray,
        dtype: StoreDtype = "float32",
        *,
        rescore: bool = False,
        oversample: int = 4,
    ) -> None:
        if dtype not in STORE_DTYPES:
            raise ValidationError(f"dtype must be one of {', '.join(STORE_DTYPES)}, not {dtype!r}")
        if documents.ndim != 2 or not len(documents):
            raise ValidationError("documents must be a non-empty [n, dim] array")
        if oversample < 1:
            raise ValidationError("oversample must be at least 1")
        self.dtype = dtype
        self.rescore = rescore and dtype != "float32"
        self.oversample = oversample
        self.dim = documents.shape[1]
        self._codes = codes(documents, dtype)
        self._full = np.asarray(documents, dtype=np.float32) if self.rescore else None

    @property
    def bytes_per_vector(self) -> int:
        return bytes_per_vector(self.dim, self.dtype)

    def __len__(self) -> int:
        return int(self._codes.shape[0])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValidationError(f"queries must be [n, {self.dim}], not {list(queries.shape)}")
        if k < 1:
            raise ValidationError("k must be at least 1")
        wide = k * self.oversample if self.rescore else k
        q_codes = codes(queries, self.dtype)
        step = max(1, _CHUNK // len(self))
        ids, scores = [], []
        for start in range(0, len(queries), step):
            i, s = top_k(q_codes[start : start + step] @ self._codes.T, wide)
            if self._full is not None:
                exact = np.einsum("qd,qkd->qk", queries[start : start + step], self._full[i])
                j, s = top_k(exact, k)
                i = np.take_along_axis(i, j, axis=1)
            ids.append(i)
            scores.append(s)
        return np.concatenate(ids), np.concatenate(scores)
