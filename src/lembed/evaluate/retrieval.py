"""Retrieval evaluation: embed a BEIR set once per model setup, then score every variant.

A *variant* is one way of running retrieval: which backend computes the vectors (onnx fp32,
onnx with int8 weights, torch), whether the model's query/document prefixes are applied,
how many Matryoshka dimensions are kept, and how documents are stored (float32, int8,
binary, each compact code with or without float rescoring). Vectors are computed once per
(backend, prefixes) and every dimension / dtype variant is derived from them, so a sweep
costs one embedding pass per backend.

A variant also names a retrieval *mode*: ``dense`` (the vectors), ``bm25`` (the lexical
index ``lembed index`` keeps beside a collection) or ``hybrid:W`` (their fusion with
dense share W, :func:`lembed.rag.fusion.fuse`, as ``lembed ask`` runs it). With a
``cache`` folder, embeddings are kept on disk per (model, setup, texts), so a second run of
the same data set embeds nothing.
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np

from lembed.engine.model import EmbeddingModel, InputType
from lembed.errors import ValidationError
from lembed.evaluate.datasets import RetrievalDataset
from lembed.evaluate.metrics import RECALL_AT, retrieval_scores
from lembed.evaluate.search import STORE_DTYPES, ExactSearch, Searcher, StoreDtype
from lembed.rag.fusion import Mode, fuse, mode_label, parse_mode
from lembed.runtime.quantize import truncate_dims
from lembed.runtime.registry import variants

# name -> (backend, quantize): onnx, onnx-int8, torch, ... (the runtime registry's)
BACKENDS: dict[str, tuple[str, str]] = variants()
DTYPE_CHOICES: tuple[str, ...] = ("float32", "int8", "int8+rescore", "binary", "binary+rescore")
DEPTH = max(RECALL_AT)  # documents retrieved per query

Loader = Callable[[str, str], EmbeddingModel]  # (backend, quantize) -> model
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class Variant:
    """One retrieval configuration to evaluate."""

    backend: str = "onnx"
    dimensions: int | None = None  # None: the model's full dimension
    dtype: StoreDtype = "float32"
    rescore: bool = False
    prefixes: bool = True
    mode: Mode = "dense"
    weight: float | None = None  # hybrid's dense share

    def label(self, full_dim: int) -> str:
        dims = self.dimensions or full_dim
        dtype = self.dtype + ("+rescore" if self.rescore else "")
        if self.mode == "bm25":
            return "bm25" + ("" if self.prefixes else " no-prefix")
        mode = "" if self.mode == "dense" else f" {mode_label(self.mode, self.weight)}"
        return f"{self.backend} {dims}d {dtype}" + ("" if self.prefixes else " no-prefix") + mode


def parse_dtype(choice: str) -> tuple[StoreDtype, bool]:
    """``"binary+rescore"`` -> ``("binary", True)``; raise on anything unknown."""
    base, _, suffix = choice.partition("+")
    if base not in STORE_DTYPES or suffix not in ("", "rescore") or choice == "float32+rescore":
        raise ValidationError(f"dtype must be one of {', '.join(DTYPE_CHOICES)}, not {choice!r}")
    return base, bool(suffix)


def sweep(
    backends: Sequence[str] = ("onnx",),
    dimensions: Sequence[int | None] = (None,),
    dtypes: Sequence[str] = ("float32",),
    prefixes: Sequence[bool] = (True,),
    modes: Sequence[str] = ("dense",),
) -> list[Variant]:
    """Every combination of the given choices, in a stable order (``bm25`` once per
    backend and prefix setting: it uses no vectors)."""
    for b in backends:
        if b not in BACKENDS:
            raise ValidationError(f"backend must be one of {', '.join(BACKENDS)}, not {b!r}")
    parsed = [parse_dtype(d) for d in dtypes]
    chosen = [parse_mode(m) for m in modes]
    out: list[Variant] = []
    for b, pre, (mode, weight), dims, (dtype, rescore) in product(
        backends, prefixes, chosen, dimensions, parsed
    ):
        variant = Variant(b, dims, dtype, rescore, pre, mode, weight)
        if mode == "bm25":
            variant = Variant(b, None, "float32", False, pre, mode, None)
        if variant not in out:
            out.append(variant)
    return out


@dataclass
class VariantResult:
    """The scores of one variant and what it costs."""

    label: str
    variant: Variant
    dim: int
    bytes_per_vector: int
    scores: dict[str, float]
    search_seconds: float
    embed_seconds: float  # embedding pass shared by variants of the same backend / prefixes


@dataclass
class RetrievalReport:
    dataset: str
    model: str
    hf_id: str
    docs: int
    queries: int
    results: list[VariantResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Pass:
    model: EmbeddingModel
    docs: np.ndarray
    queries: np.ndarray
    seconds: float
    truncated: int


def embed_texts(
    model: EmbeddingModel,
    texts: Sequence[str],
    input_type: InputType,
    progress: Progress | None = None,
    what: str = "",
    chunk: int = 256,
) -> tuple[np.ndarray, int]:
    """Unit float32 vectors for ``texts`` (in order) and how many were truncated.

    Texts go longest first in chunks, so each forward batch pads little and progress moves.
    """
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.empty((len(texts), model.dim), dtype=np.float32)
    cut = 0
    for start in range(0, len(order), chunk):
        idx = order[start : start + chunk]
        result = model.embed([texts[i] for i in idx], input_type=input_type)
        out[idx] = result.vectors
        cut += len(result.truncated)
        if progress:
            progress(what, min(start + chunk, len(order)), len(order))
    return out, cut


def exact_searcher(documents: np.ndarray, variant: Variant) -> Searcher:
    return ExactSearch(documents, variant.dtype, rescore=variant.rescore)


def evaluate_retrieval(
    dataset: RetrievalDataset,
    variants: Iterable[Variant],
    load: Loader,
    *,
    searcher: Callable[[np.ndarray, Variant], Searcher] = exact_searcher,
    progress: Progress | None = None,
    cache: Path | None = None,
) -> RetrievalReport:
    """Embed ``dataset`` with each needed model setup and score every variant
    (embeddings kept in ``cache`` when given)."""
    variants = list(variants)
    if not variants:
        raise ValidationError("no variant to evaluate")
    doc_ids, doc_texts = list(dataset.corpus), list(dataset.corpus.values())
    query_ids, query_texts = list(dataset.queries), list(dataset.queries.values())
    passes: dict[tuple[str, bool], _Pass] = {}
    models: dict[str, EmbeddingModel] = {}
    report: RetrievalReport | None = None
    lexical: list[list[tuple[str, float]]] | None = None
    for variant in variants:
        if variant.backend not in models:
            models[variant.backend] = load(*BACKENDS[variant.backend])
        model = models[variant.backend]
        if report is None:
            report = RetrievalReport(
                dataset.name, model.name, model.spec.hf_id, len(doc_ids), len(query_ids)
            )
        key = (variant.backend, variant.prefixes)
        if key not in passes:
            start = time.perf_counter()
            q_type: InputType = "query" if variant.prefixes else "none"
            d_type: InputType = "document" if variant.prefixes else "none"
            label = f"{variant.backend}{'' if variant.prefixes else ' no-prefix'}"
            setup = f"{model.name}|{BACKENDS[variant.backend]}|{model.max_tokens}"
            docs, cut = _cached(
                cache, setup, model, doc_texts, d_type, progress, f"{label} documents"
            )
            queries, _ = _cached(
                cache, setup, model, query_texts, q_type, progress, f"{label} queries"
            )
            passes[key] = _Pass(model, docs, queries, time.perf_counter() - start, cut)
            report.timings[f"embed {label}"] = passes[key].seconds
            if cache is not None and passes[key].seconds < 1.0:
                report.notes.append(f"{label}: embeddings read from the cache in {cache}")
            if cut:
                report.notes.append(
                    f"{label}: {cut} of {len(doc_texts)} documents cut to the "
                    f"{model.max_tokens}-token window"
                )
        if variant.mode != "dense" and lexical is None:
            lexical = _bm25_run(dataset, doc_ids, query_ids, progress)
        report.results.append(
            _score(dataset, passes[key], variant, searcher, doc_ids, query_ids, lexical)
        )
        if variant.dimensions and variant.dimensions not in model.spec.matryoshka_dims:
            note = f"{model.name} is not trained for {variant.dimensions} dimensions (Matryoshka)"
            if variant.dimensions != model.dim and note not in report.notes:
                report.notes.append(note)
    assert report is not None
    return report


def _score(
    dataset: RetrievalDataset,
    run: _Pass,
    variant: Variant,
    searcher: Callable[[np.ndarray, Variant], Searcher],
    doc_ids: list[str],
    query_ids: list[str],
    lexical: list[list[tuple[str, float]]] | None = None,
) -> VariantResult:
    if variant.mode != "dense":
        assert lexical is not None
        return _score_mode(dataset, run, variant, searcher, doc_ids, query_ids, lexical)
    docs, queries = run.docs, run.queries
    dims = variant.dimensions or run.model.dim
    if variant.dimensions is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # reported once in the notes instead
            run.model.check_output(
                variant.dimensions, "binary" if variant.dtype == "binary" else "float32"
            )
        docs, queries = truncate_dims(docs, dims), truncate_dims(queries, dims)
    start = time.perf_counter()
    index = searcher(docs, variant)
    try:
        rows, scores = index.search(queries, DEPTH + 1)
    finally:
        close = getattr(index, "close", None)
        if callable(close):
            close()
    found: dict[str, dict[str, float]] = {}
    for qid, row, srow in zip(query_ids, rows, scores, strict=True):
        # BEIR / MTEB ignore a document whose id is the query's own id; -1 pads short results
        hits = [(doc_ids[r], float(s)) for r, s in zip(row, srow, strict=True) if r >= 0]
        found[qid] = dict([h for h in hits if h[0] != qid][:DEPTH])
    seconds = time.perf_counter() - start
    return VariantResult(
        label=variant.label(run.model.dim),
        variant=variant,
        dim=dims,
        bytes_per_vector=getattr(index, "bytes_per_vector", 4 * dims),
        scores=retrieval_scores(dataset.qrels, found),
        search_seconds=seconds,
        embed_seconds=run.seconds,
    )


def _cached(
    cache: Path | None,
    setup: str,
    model: EmbeddingModel,
    texts: Sequence[str],
    input_type: InputType,
    progress: Progress | None,
    what: str,
) -> tuple[np.ndarray, int]:
    """:func:`embed_texts`, or its earlier result from ``cache`` (keyed by the model setup,
    the input type and every text); the truncation count is cached beside the vectors."""
    if cache is None:
        return embed_texts(model, texts, input_type, progress, what)
    digest = hashlib.sha256(f"{setup}|{input_type}|{len(texts)}".encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    path = cache / f"{digest.hexdigest()[:24]}.npz"
    if path.is_file():
        try:
            with np.load(path) as saved:
                vectors, cut = saved["vectors"], int(saved["truncated"])
            if vectors.shape == (len(texts), model.dim):
                return vectors, cut
        except (OSError, ValueError, KeyError):
            pass  # damaged: embed again
    vectors, cut = embed_texts(model, texts, input_type, progress, what)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, vectors=vectors, truncated=np.int64(cut))
    os.replace(tmp, path)
    return vectors, cut


def _bm25_run(
    dataset: RetrievalDataset,
    doc_ids: list[str],
    query_ids: list[str],
    progress: Progress | None,
) -> list[list[tuple[str, float]]]:
    """Each query's ``DEPTH + 1`` best documents by BM25 (the index ``lembed index``
    keeps), as (doc id, score)."""
    from lembed.stores.lexical import BM25

    index = BM25([(d, t, {}) for d, t in zip(doc_ids, dataset.corpus.values(), strict=True)])
    out: list[list[tuple[str, float]]] = []
    for n, qid in enumerate(query_ids, 1):
        out.append([(h.id, h.score) for h in index.search(dataset.queries[qid], DEPTH + 1)])
        if progress and (n % 50 == 0 or n == len(query_ids)):
            progress("bm25 queries", n, len(query_ids))
    return out


def _score_mode(
    dataset: RetrievalDataset,
    run: _Pass,
    variant: Variant,
    searcher: Callable[[np.ndarray, Variant], Searcher],
    doc_ids: list[str],
    query_ids: list[str],
    lexical: list[list[tuple[str, float]]],
) -> VariantResult:
    """A bm25 or hybrid variant: the lexical ranking, or its fusion with the dense one."""
    from lembed.stores.base import Hit

    start = time.perf_counter()
    dims = variant.dimensions or run.model.dim
    dense_rows: list[list[tuple[str, float]]] = [[] for _ in query_ids]
    nbytes = 0
    if variant.mode == "hybrid":
        docs, queries = truncate_dims(run.docs, dims), truncate_dims(run.queries, dims)
        index = searcher(docs, variant)
        try:
            rows, scores = index.search(queries, DEPTH + 1)
            nbytes = getattr(index, "bytes_per_vector", 4 * dims)
        finally:
            close = getattr(index, "close", None)
            if callable(close):
                close()
        dense_rows = [
            [(doc_ids[r], float(s)) for r, s in zip(row, srow, strict=True) if r >= 0]
            for row, srow in zip(rows, scores, strict=True)
        ]
    found: dict[str, dict[str, float]] = {}
    for qid, dense, lex in zip(query_ids, dense_rows, lexical, strict=True):
        if variant.mode == "bm25":
            hits = lex
        else:
            assert variant.weight is not None
            fused = fuse(
                [Hit(d, s, "") for d, s in dense if d != qid][:DEPTH],
                [Hit(d, s, "") for d, s in lex if d != qid][:DEPTH],
                DEPTH,
                variant.weight,
            )
            hits = [(h.id, h.score) for h in fused]
        found[qid] = dict([h for h in hits if h[0] != qid][:DEPTH])
    return VariantResult(
        label=variant.label(run.model.dim),
        variant=variant,
        dim=dims,  # bm25 too: its Δ is against the dense row of the same setup
        bytes_per_vector=nbytes,
        scores=retrieval_scores(dataset.qrels, found),
        search_seconds=time.perf_counter() - start,
        embed_seconds=run.seconds if variant.mode == "hybrid" else 0.0,
    )


def report_doc(
    report: RetrievalReport, reference: dict[str, object] | None = None
) -> dict[str, object]:
    """The JSON document of a retrieval run (see :mod:`lembed.evaluate.report`)."""
    from lembed.evaluate.metrics import METRICS
    from lembed.evaluate.report import add_deltas

    return add_deltas(
        {
            "task": "retrieval",
            "dataset": report.dataset,
            "model": report.model,
            "hf_id": report.hf_id,
            "size": f"{report.docs:,} documents, {report.queries:,} queries",
            "main_metric": "ndcg@10",
            "metrics": list(METRICS),
            "reference": reference,
            "results": [
                {
                    "label": r.label,
                    "backend": r.variant.backend,
                    "prefixes": r.variant.prefixes,
                    "dimensions": r.dim,
                    "dtype": r.variant.dtype,
                    "rescore": r.variant.rescore,
                    "mode": mode_label(r.variant.mode, r.variant.weight),
                    "bytes_per_vector": r.bytes_per_vector,
                    "scores": r.scores,
                    "search_seconds": r.search_seconds,
                    "embed_seconds": r.embed_seconds,
                }
                for r in report.results
            ],
            "notes": report.notes,
            "timings": report.timings,
        }
    )
