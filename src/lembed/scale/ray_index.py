"""``lembed index --engine ray``: the indexing pipeline of :mod:`lembed.ingest.pipeline`, run
on Ray Data, with the same chunk ids, the same chunks and the same vectors.

1. **load** (Ray tasks): each file is read by :func:`lembed.ingest.loaders.load`; one row per
   document, plus one row per file saying what was skipped. The result is materialised in
   Ray's object store (spilled to disk when it is large).
2. **boilerplate** (Ray tasks + a group-by): each batch counts, per unit (a section), the
   normalised lines it holds; a distributed ``groupby(line).sum()`` gives the corpus counts
   and only the lines over the threshold come back to the driver. This is exactly what
   :class:`lembed.ingest.clean.Boilerplate` computes in one process.
3. **chunk + embed** (an actor pool, ``map_batches`` with ``ActorPoolStrategy(size=workers)``):
   each actor loads the model once; per batch of documents it strips boilerplate, chunks
   with :func:`lembed.ingest.pipeline.plan_chunks` (same ids: source + content hash +
   occurrence, all per document) and embeds the chunks the store does not hold yet.
4. **write** (the driver): batches stream out of Ray Data's executor into the store with
   ``iter_batches``; the executor stops producing while the writer is behind (its object
   store budget is the back-pressure), so a slow store never makes memory grow. Stale chunks
   are then deleted as the single-process path does.

Writing from the driver keeps embedded stores (a Qdrant or Chroma folder: one process may
hold it) working; for a Qdrant cluster the driver streams ~1.5 KiB per 384-d vector, which a
single machine sustains far past what the workers embed on CPUs (see docs/scale.md).
"""

from __future__ import annotations

import logging
import math
import pickle
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lembed import errors
from lembed.errors import BackendError, LembedError, StoreError, ValidationError, require
from lembed.ingest.clean import Boilerplate, candidates_of
from lembed.ingest.engine import IndexOptions, OnProgress, OnWritten
from lembed.ingest.loaders import MAX_FILE_MB, Document, Skipped, discover
from lembed.ingest.pipeline import (
    IndexReport,
    PendingChunk,
    Progress,
    finish,
    load_into,
    plan_chunks,
    stale_chunks,
)
from lembed.scale.ray_guard import ray_session
from lembed.settings import Settings
from lembed.stores.base import Metadata, VectorStore

log = logging.getLogger(__name__)
MIN_UNITS = 3  # as lembed.ingest.clean.repeated_lines
LOAD_BATCH = 16  # files per load task


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run: ``address`` None starts a guarded local Ray."""

    address: str | None = None
    workers: int = 1  # embedding actors (one model load each)
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    docs_per_batch: int = 32  # documents handed to an actor at once
    num_cpus: int | None = None  # size of a local Ray (default: what Ray detects)
    num_gpus: int | None = None
    object_store_mb: int | None = None

    def check(self) -> None:
        if self.workers < 1:
            raise ValidationError("--workers must be at least 1", param="workers")
        if self.cpus_per_worker <= 0 or self.gpus_per_worker < 0:
            raise ValidationError("CPUs per worker must be > 0 and GPUs per worker >= 0")
        if self.docs_per_batch < 1:
            raise ValidationError("documents per batch must be at least 1")


@dataclass(frozen=True)
class ModelArgs:
    """How each actor loads its model (the driver never loads the real backend)."""

    name: str
    backend: str | None
    device: str | None
    settings: Settings


@dataclass
class _Loaded:
    skipped: list[Skipped] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    emptied: set[str] = field(default_factory=set)
    candidates: set[str] = field(default_factory=set)  # boilerplate candidates
    documents: int = 0
    units: int = 0


def is_frequent(n: int, units: int, share: float) -> bool:
    """Whether a line found in ``n`` of ``units`` units is boilerplate (as ``repeated_lines``)."""
    if units < MIN_UNITS:
        return False
    return n >= max(MIN_UNITS, int(share * units) + 1) and n > share * units


def unit_counts(docs: Sequence[Document], only: set[str] | None = None) -> Counter[str]:
    """In how many units (sections) of ``docs`` each normalised line appears."""
    counts: Counter[str] = Counter()
    for doc in docs:
        for section in doc.sections:
            lines = candidates_of(section.text)
            counts.update(lines if only is None else lines & only)
    return counts


def candidates(docs: Sequence[Document], share: float) -> set[str]:
    """Lines frequent enough in this part of the corpus to be frequent in the whole of it.

    A line in more than ``share`` of all units is in more than ``share`` of the units of at
    least one part (else the parts' counts would sum to at most ``share`` of the total), so
    the union of the parts' candidates holds every corpus-wide boilerplate line; each part
    sends at most (lines per unit) / ``share`` of them."""
    units = sum(len(d.sections) for d in docs)
    return {line for line, n in unit_counts(docs).items() if n > share * units}


def load_rows(
    paths: Sequence[str], text_field: str, share: float, max_file_mb: float | None = MAX_FILE_MB
) -> dict[str, list[Any]]:
    """Load files like the pipeline does: a ``doc`` row per document with text, an ``info``
    row per batch with what was skipped, emptied or unreadable, and the boilerplate
    candidates of the batch."""
    rows: dict[str, list[Any]] = {"kind": [], "source": [], "data": []}
    info = _Loaded()
    docs: list[Document] = []
    for raw in paths:
        load_into(
            Path(raw), docs, info.skipped, info.unreadable, info.emptied, text_field, max_file_mb
        )
    for doc in docs:
        rows["kind"].append("doc")
        rows["source"].append(doc.source)
        rows["data"].append(pickle.dumps(doc))
    info.candidates = candidates(docs, share)
    info.documents = len(docs)
    info.units = sum(len(d.sections) for d in docs)
    rows["kind"].append("info")
    rows["source"].append("")
    rows["data"].append(pickle.dumps(info))
    return rows


def _load_batch(
    batch: dict[str, np.ndarray], text_field: str, share: float, max_file_mb: float | None
) -> dict[str, list[Any]]:
    return load_rows([str(p) for p in batch["path"] if p], text_field, share, max_file_mb)


def _count_batch(batch: dict[str, np.ndarray], only: set[str]) -> dict[str, list[Any]]:
    counts = unit_counts([pickle.loads(d) for d in batch["data"]], only)
    return {"line": list(counts), "n": list(counts.values())}


class EmbedDocs:
    """The actor: one model per actor; documents in, chunks with vectors out."""

    def __init__(
        self, args: ModelArgs, how: IndexOptions, corpus: dict[str, int], units: int, existing: Any
    ):
        from lembed.engine.load import load_model
        from lembed.ingest.chunking import Chunker

        settings = args.settings
        self.model = load_model(
            args.name, backend=args.backend, device=args.device, settings=settings
        )
        self.chunker = Chunker(self.model, how.chunk_tokens, how.overlap)
        self.share = how.boilerplate_share
        self.corpus, self.units = corpus, units
        self.existing: frozenset[str] = existing

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        docs: list[Document] = [pickle.loads(d) for d in batch["data"]]
        cleaner = Boilerplate.known(self.corpus, self.units, self.share)
        chunks, report = plan_chunks(docs, self.chunker, self.share, cleaner)
        new = [c for c in chunks if c.id not in self.existing]
        dim = self.model.dim
        vectors = np.zeros((len(chunks), dim), dtype=np.float32)
        tokens = np.zeros(len(chunks), dtype=np.int64)
        if new:
            result = self.model.embed(
                [c.text for c in new], input_type="document", truncate="error"
            )
            where = [i for i, c in enumerate(chunks) if c.id not in self.existing]
            vectors[where] = result.vectors
            tokens[where] = result.token_counts
        # what this batch stripped rides on its first row (lines per document, lines removed)
        cleaned = np.full(len(chunks), b"", dtype=object)
        if len(chunks):
            cleaned[0] = pickle.dumps((report.lines, report.removed))
        return {
            "id": np.array([c.id for c in chunks], dtype=object),
            "text": np.array([c.text for c in chunks], dtype=object),
            "meta": np.array([pickle.dumps(c.metadata) for c in chunks], dtype=object),
            "source": np.array([str(c.metadata["source"]) for c in chunks], dtype=object),
            "new": np.array([c.id not in self.existing for c in chunks], dtype=bool),
            "tokens": tokens,
            "chunk_tokens": np.array([c.tokens for c in chunks], dtype=np.int64),
            "cleaned": cleaned,
            "vector": vectors,
        }


def _quiet(ray: Any) -> None:
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)


def index_ray(
    paths: Sequence[str | Path],
    store: VectorStore,
    model: ModelArgs,
    options: RayOptions,
    how: IndexOptions | None = None,
    *,
    progress: OnProgress | None = None,
    on_written: OnWritten | None = None,
) -> IndexReport:
    """Index ``paths`` into ``store`` on Ray (see the module doc), chunked, loaded and
    written as ``how`` says; the report of :func:`lembed.ingest.pipeline.index`.

    ``on_written(chunks, deleted_ids)`` is called as that ``index`` calls it: every current
    chunk (text and metadata collected on the driver), ids removed. Takes no writer lock:
    :func:`lembed.ingest.api.index` with ``lembed.scale.api.RayEngine`` does."""
    from lembed.engine.load import load_model
    from lembed.ingest.chunking import Chunker

    how = how or IndexOptions()
    options.check()
    if not paths:
        raise ValidationError("give at least one file or folder to index", param="paths")
    if how.batch_size < 1:
        raise ValidationError("batch size must be at least 1", param="batch_size")
    # validate model, chunk size and dimensions here, before any Ray work (tokenizer only)
    probe = load_model(model.name, backend="fake", settings=model.settings)
    Chunker(probe, how.chunk_tokens, how.overlap)
    Boilerplate([], how.boilerplate_share)
    if store.dim != probe.dim:
        raise ValidationError(
            f"collection {store.name!r} holds {store.dim}-d vectors; {probe.name} makes "
            f"{probe.dim}-d ones",
            param="collection",
        )
    threads = model.settings.threads or max(1, math.floor(options.cpus_per_worker))
    args = replace(model, settings=model.settings.model_copy(update={"threads": threads}))
    files = [str(p) for p in discover(paths)]
    with ray_session(
        options.address,
        num_cpus=options.num_cpus,
        num_gpus=options.num_gpus,
        object_store_mb=options.object_store_mb,
    ):
        try:
            return _run(paths, files, store, args, options, how, progress, on_written)
        except LembedError:
            raise
        except Exception as exc:  # a worker's error arrives wrapped by Ray
            raise worker_error(exc) from exc


_LEMBED_ERROR = re.compile(r"^lembed\.errors\.(\w+): (.+)$", re.MULTILINE)


def worker_error(exc: BaseException) -> LembedError:
    """The lembed error a Ray worker raised, out of Ray's wrappers (an actor that failed to
    start keeps only its message), else a :class:`BackendError` naming Ray's."""
    seen: BaseException | None = exc
    while seen is not None:
        cause = getattr(seen, "cause", None)
        for candidate in (seen, cause):
            if isinstance(candidate, LembedError):
                return candidate
        seen = seen.__cause__ or seen.__context__
    found = _LEMBED_ERROR.findall(str(exc))
    if found:
        name, message = found[-1]
        kind = getattr(errors, name, None)
        if kind in (BackendError, ValidationError, StoreError, errors.ModelNotFoundError):
            made: LembedError = kind(message)
            return made
        return BackendError(message)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return BackendError(f"Ray indexing failed: {type(exc).__name__}: {first}")


def _run(
    paths: Sequence[str | Path],
    files: list[str],
    store: VectorStore,
    args: ModelArgs,
    options: RayOptions,
    how: IndexOptions,
    progress: OnProgress | None,
    on_written: OnWritten | None,
) -> IndexReport:
    ray: Any = require("ray", "ray", "--engine ray")
    from ray.data.expressions import col

    _quiet(ray)
    start = time.perf_counter()
    notify = progress or (lambda _: None)
    report = IndexReport(model=args.name)
    existing = store.scan()

    blocks = max(1, min(len(files), 4 * options.workers))
    loaded = (
        ray.data.from_items(
            [{"path": f} for f in files] or [{"path": ""}], override_num_blocks=blocks
        )
        .map_batches(
            _load_batch,
            fn_kwargs={
                "text_field": how.text_field,
                "share": how.boilerplate_share,
                "max_file_mb": how.max_file_mb,
            },
            batch_size=LOAD_BATCH,
        )
        .materialize()
    )
    info = _gather(loaded)
    report.skipped = info.skipped
    # materialised: no task stage may sit upstream of actors that can hold every CPU
    docs = loaded.filter(expr=col("kind") == "doc").materialize()
    report.documents = info.documents
    log.debug("load: %.2f s", time.perf_counter() - start)
    notify(Progress("load", len(files), len(files), 0, 0, 0, time.perf_counter() - start))
    units, share = info.units, how.boilerplate_share
    corpus: dict[str, int] = {}
    if units >= MIN_UNITS and info.candidates:
        totals: Counter[str] = Counter()
        counted = docs.map_batches(_count_batch, fn_kwargs={"only": info.candidates})
        for row in counted.iter_rows():
            totals[str(row["line"])] += int(row["n"])
        corpus = {line: n for line, n in totals.items() if is_frequent(n, units, share)}
    report.boilerplate = Boilerplate.known(corpus, units, share).report
    log.debug("boilerplate: %.2f s", time.perf_counter() - start)

    current: set[str] = set()
    everything: list[PendingChunk] = []  # for on_written only
    done_sources: set[str] = set()
    if report.documents:
        embedded = docs.map_batches(
            EmbedDocs,
            fn_constructor_kwargs={
                "args": args,
                "how": how,
                "corpus": corpus,
                "units": units,
                "existing": frozenset(existing),
            },
            compute=ray.data.ActorPoolStrategy(size=options.workers),
            batch_size=options.docs_per_batch,
            num_cpus=options.cpus_per_worker,
            num_gpus=options.gpus_per_worker or None,
        )
        for batch in _batches(embedded, how.batch_size):
            t0 = time.perf_counter()
            new = batch["new"]
            ids = [str(i) for i in batch["id"]]
            current.update(ids)
            if on_written is not None:
                everything += [
                    PendingChunk(id_, str(text), pickle.loads(meta), int(n))
                    for id_, text, meta, n in zip(
                        ids, batch["text"], batch["meta"], batch["chunk_tokens"], strict=True
                    )
                ]
            report.chunks += len(ids)
            for data in batch["cleaned"]:
                if data:
                    lines, removed = pickle.loads(data)
                    report.boilerplate.removed += removed
                    for line, n in lines.items():
                        report.boilerplate.lines[line] = max(
                            report.boilerplate.lines.get(line, 0), n
                        )
            if new.any():
                picked = np.flatnonzero(new)
                metas: list[Metadata] = [pickle.loads(batch["meta"][i]) for i in picked]
                store.upsert(
                    [ids[i] for i in picked],
                    batch["vector"][picked],
                    [str(batch["text"][i]) for i in picked],
                    metas,
                )
                report.embedded += len(picked)
                report.tokens += int(batch["tokens"][picked].sum())
                done_sources.update(str(s) for s in batch["source"][picked])
            report.embed_seconds += time.perf_counter() - t0
            notify(
                Progress(
                    "embed",
                    len(done_sources),
                    report.documents,
                    report.embedded,
                    report.chunks,
                    report.tokens,
                    time.perf_counter() - start,
                )
            )
    report.unchanged = report.chunks - report.embedded
    sources = info.emptied | (set(docs.unique("source")) if report.documents else set())
    removed = stale_chunks(existing, current, sources, info.unreadable, paths, how.prune)
    return finish(report, store, removed, everything, on_written, notify, start, len(done_sources))


def _gather(loaded: Any) -> _Loaded:
    from ray.data.expressions import col

    out = _Loaded()
    for row in loaded.filter(expr=col("kind") == "info").iter_rows():
        part: _Loaded = pickle.loads(row["data"])
        out.skipped += part.skipped
        out.unreadable |= part.unreadable
        out.emptied |= part.emptied
        out.candidates |= part.candidates
        out.documents += part.documents
        out.units += part.units
    return out


def _batches(ds: Any, size: int) -> Iterator[dict[str, np.ndarray]]:
    yield from ds.iter_batches(batch_size=size, batch_format="numpy", prefetch_batches=1)
