"""Semantic textual similarity: Spearman correlation of cosine similarity with gold scores.

Each distinct sentence is embedded once per backend; dimension and dtype variants are
derived from those vectors (cosine between int8 codes, bit agreement for binary), as in
retrieval.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from itertools import product
from typing import Any

import numpy as np

from lembed.engine.model import EmbeddingModel, InputType
from lembed.errors import ValidationError
from lembed.evaluate.datasets import StsDataset
from lembed.evaluate.metrics import spearman
from lembed.evaluate.report import add_deltas
from lembed.evaluate.retrieval import BACKENDS, Loader, Progress, embed_texts
from lembed.evaluate.search import STORE_DTYPES, StoreDtype, bytes_per_vector, codes
from lembed.runtime.quantize import truncate_dims


def pair_cosines(a: np.ndarray, b: np.ndarray, dtype: StoreDtype = "float32") -> np.ndarray:
    """Similarity of row ``i`` of ``a`` with row ``i`` of ``b`` under the stored ``dtype``."""
    ca, cb = codes(a, dtype), codes(b, dtype)
    return np.asarray(np.einsum("nd,nd->n", ca, cb), dtype=np.float64)


def evaluate_sts(
    dataset: StsDataset,
    load: Loader,
    *,
    backends: Sequence[str] = ("onnx",),
    dimensions: Sequence[int | None] = (None,),
    dtypes: Sequence[str] = ("float32",),
    input_type: InputType = "none",
    reference: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score every (backend, dimensions, dtype) combination; return the report document."""
    for d in dtypes:
        if d not in STORE_DTYPES:
            raise ValidationError(f"dtype must be one of {', '.join(STORE_DTYPES)}, not {d!r}")
    for b in backends:
        if b not in BACKENDS:
            raise ValidationError(f"backend must be one of {', '.join(BACKENDS)}, not {b!r}")
    sentences = list(dict.fromkeys(s for pair in dataset.pairs for s in pair))
    where = {s: i for i, s in enumerate(sentences)}
    left = [where[a] for a, _ in dataset.pairs]
    right = [where[b] for _, b in dataset.pairs]
    results: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    notes: list[str] = []
    model: EmbeddingModel | None = None
    for backend in backends:
        model = load(*BACKENDS[backend])
        start = time.perf_counter()
        vectors, _ = embed_texts(model, sentences, input_type, progress, f"{backend} sentences")
        timings[f"embed {backend}"] = time.perf_counter() - start
        for dims, dtype in product(dimensions, dtypes):
            full = dims or model.dim
            if dims is not None:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    model.check_output(dims, "binary" if dtype == "binary" else "float32")
                notes += [str(w.message) for w in caught if str(w.message) not in notes]
            cut = truncate_dims(vectors, full) if dims else vectors
            sims = pair_cosines(cut[left], cut[right], dtype)  # type: ignore[arg-type]
            results.append(
                {
                    "label": f"{backend} {full}d {dtype}",
                    "backend": backend,
                    "prefixes": input_type != "none",
                    "dimensions": full,
                    "dtype": dtype,
                    "rescore": False,
                    "bytes_per_vector": bytes_per_vector(full, dtype),  # type: ignore[arg-type]
                    "scores": {"spearman": spearman(sims, dataset.scores)},
                    "embed_seconds": timings[f"embed {backend}"],
                }
            )
    assert model is not None
    return add_deltas(
        {
            "task": "sts",
            "dataset": dataset.name,
            "model": model.name,
            "hf_id": model.spec.hf_id,
            "size": f"{len(dataset.pairs):,} pairs, {len(sentences):,} distinct sentences, "
            f"input type {input_type}",
            "main_metric": "spearman",
            "metrics": ["spearman"],
            "reference": reference,
            "results": results,
            "notes": notes,
            "timings": timings,
        }
    )
