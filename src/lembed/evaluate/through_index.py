"""Retrieval measured on the path users run: ``lembed index`` then ``lembed ask``'s search.

The data set's corpus is written as a BEIR ``corpus.jsonl`` and indexed by the real
:func:`lembed.ingest.index` (loader, cleaning, chunking, the BM25 sidecar) into a scratch
collection; each query then goes through :class:`lembed.rag.retriever.Retriever` in every
requested mode, 100 chunks deep, and a document scores as its best chunk (BEIR documents
are split into several chunks when they pass the chunk size). The scratch store is removed
afterwards.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from lembed.errors import ValidationError
from lembed.evaluate.datasets import RetrievalDataset
from lembed.evaluate.metrics import retrieval_scores
from lembed.evaluate.retrieval import (
    BACKENDS,
    DEPTH,
    Loader,
    Progress,
    RetrievalReport,
    Variant,
    VariantResult,
)
from lembed.settings import Settings

COLLECTION = "eval-through-index"


def _write_corpus(dataset: RetrievalDataset, folder: Path) -> Path:
    path = folder / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for doc_id, text in dataset.corpus.items():
            fh.write(json.dumps({"_id": doc_id, "title": "", "text": text}) + "\n")
    return path


def evaluate_through_index(
    dataset: RetrievalDataset,
    variants: Sequence[Variant],
    load: Loader,
    *,
    store: str | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> RetrievalReport:
    """Index ``dataset`` with ``lembed index`` and score each variant's mode through it
    (one backend: the first variant's)."""
    from lembed.ingest.api import index
    from lembed.rag.retriever import Retriever
    from lembed.stores import open_client
    from lembed.stores.lexical import LexicalIndex, lexical_folder

    if not variants:
        raise ValidationError("no variant to evaluate (--through-index keeps full float32)")
    settings = settings or Settings()
    backend = variants[0].backend
    model = load(*BACKENDS[backend])
    report = RetrievalReport(
        dataset.name, model.name, model.spec.hf_id, len(dataset.corpus), len(dataset.queries)
    )
    with tempfile.TemporaryDirectory(prefix="lembed-eval-index-") as tmp:
        root = Path(tmp)
        uri = store or f"qdrant+local:{root / 'store'}"
        start = time.perf_counter()
        done = index(
            [_write_corpus(dataset, root)],
            store=uri,
            collection=COLLECTION,
            model=model,
            settings=settings,
        )
        index_seconds = time.perf_counter() - start
        report.timings["lembed index"] = index_seconds
        report.notes.append(
            f"through `lembed index` into {uri.split(':')[0]}: {done.chunks:,} chunks from "
            f"{len(dataset.corpus):,} documents; a document scores as its best chunk"
        )
        client = open_client(uri)
        try:
            vectors = client.get(COLLECTION)
            folder = lexical_folder(uri, COLLECTION, settings.cache_dir)
            lexical = LexicalIndex(folder) if folder is not None else None
            for variant in variants:
                if variant.mode != "dense" and lexical is None:
                    raise ValidationError(f"{uri} keeps no BM25 index: use --mode dense")
                retriever = Retriever(
                    model=model,
                    store=vectors,
                    lexical=lexical,
                    mode=variant.mode,
                    weight=variant.weight,
                )
                t0 = time.perf_counter()
                found: dict[str, dict[str, float]] = {}
                for n, (qid, text) in enumerate(dataset.queries.items(), 1):
                    best: dict[str, float] = {}
                    for hit in retriever.retrieve(text, k=DEPTH).hits:
                        doc = str(hit.metadata.get("doc_id", hit.id))
                        if doc != qid and hit.score > best.get(doc, float("-inf")):
                            best[doc] = hit.score
                    found[qid] = best
                    if progress:
                        progress(f"{variant.mode} queries", n, len(dataset.queries))
                report.results.append(
                    VariantResult(
                        label=f"index {variant.label(model.dim)}",
                        variant=variant,
                        dim=model.dim,
                        bytes_per_vector=4 * model.dim,
                        scores=retrieval_scores(dataset.qrels, found),
                        search_seconds=time.perf_counter() - t0,
                        embed_seconds=index_seconds,
                    )
                )
            vectors.close()
            client.drop(COLLECTION)
        finally:
            client.close()
    return report
