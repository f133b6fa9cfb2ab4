"""The indexing pipeline: load → strip boilerplate → chunk → embed what is new → upsert →
delete what is stale.

Idempotent by construction: a chunk's id is derived from its source and the hash of its
text (:func:`chunk_id`), so an unchanged corpus maps to the ids already stored and nothing
is embedded again; a changed file gets new ids and its old chunks are deleted once the new
ones are written; ``prune`` removes the chunks of files under the given paths that are gone.
Work is written batch by batch, so a run killed midway leaves a subset of the final chunks
and the next run embeds only the rest, ending exactly where a clean run would.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.ingest.chunking import Chunk, Chunker
from lembed.ingest.clean import Boilerplate, BoilerplateReport, unwrap
from lembed.ingest.loaders import MAX_FILE_MB, Document, Skipped, discover, load, source_id
from lembed.stores.base import Metadata, VectorStore


@dataclass(frozen=True)
class PendingChunk:
    """A chunk ready to embed: id, text, metadata, token count."""

    id: str
    text: str
    metadata: Metadata
    tokens: int


@dataclass(frozen=True)
class Progress:
    """Where a run is: ``stage`` is "load", "chunk", "embed" or "done"; during "load" and
    "chunk" ``documents`` counts files read / documents chunked."""

    stage: str
    documents: int
    documents_total: int
    chunks: int
    chunks_total: int
    tokens: int
    seconds: float


@dataclass
class IndexReport:
    """What one run did."""

    documents: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    chunks: int = 0  # chunks the corpus has now
    embedded: int = 0  # chunks embedded and written in this run
    unchanged: int = 0  # chunks already stored
    deleted: int = 0  # stale chunks of changed files
    pruned: int = 0  # chunks of files that are gone (prune=True)
    tokens: int = 0  # tokens embedded
    seconds: float = 0.0
    embed_seconds: float = 0.0
    boilerplate: BoilerplateReport = field(default_factory=BoilerplateReport)
    model: str = ""  # the model the chunks are embedded with

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0


def chunk_id(source: str, text: str, occurrence: int = 0) -> str:
    """A stable id from the source and the chunk's content (a UUID string, valid everywhere)."""
    content = hashlib.sha256(text.encode("utf-8")).hexdigest()
    digest = hashlib.sha256(f"{source}\0{content}\0{occurrence}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16]))


CHUNK_GROUP_CHARS = 1_000_000  # chunk documents in groups of about this much text


def _split_in_groups(
    chunker: Chunker,
    docs: Sequence[Document],
    texts: list[str],
    flags: list[bool],
    progress: Callable[[int], None] | None,
) -> list[list[Chunk]]:
    """``chunker.split_many`` over groups of whole documents (~1 MB of text each), calling
    ``progress(documents_done)`` after each group: long runs report as they go."""
    out: list[list[Chunk]] = []
    begin = end = size = 0  # the current group: sections texts[begin:end]
    for done, doc in enumerate(docs, start=1):
        n = len(doc.sections)
        size += sum(len(t) for t in texts[end : end + n])
        end += n
        if size >= CHUNK_GROUP_CHARS or done == len(docs):
            out += chunker.split_many(texts[begin:end], flags[begin:end])
            begin, size = end, 0
            if progress is not None:
                progress(done)
    return out


def plan_chunks(
    docs: Sequence[Document],
    chunker: Chunker,
    share: float,
    cleaner: Boilerplate | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[PendingChunk], BoilerplateReport]:
    """Every chunk of ``docs`` after boilerplate stripping, with ids and metadata.

    ``cleaner`` defaults to one counted over ``docs``; pass one counted over the whole corpus
    to plan a part of it (``lembed.scale`` does, per Ray batch). ``progress(documents_done)``
    is called as groups of documents are chunked."""
    if cleaner is None:
        cleaner = Boilerplate([[s.text for s in d.sections] for d in docs], share)
    texts: list[str] = []
    for doc in docs:
        cleaned = cleaner.strip([s.text for s in doc.sections])
        texts += [unwrap(t) for t in cleaned] if doc.kind == "pdf" else cleaned
    flags = [d.kind in ("markdown", "html") for d in docs for _ in d.sections]  # html: as md
    pieces = iter(_split_in_groups(chunker, docs, texts, flags, progress))
    out: list[PendingChunk] = []
    for doc in docs:
        seen: Counter[str] = Counter()
        ordinal = 0
        for section in doc.sections:
            for piece in next(pieces):
                if seen[piece.text]:  # the same text twice in one source is stored once
                    continue
                meta: Metadata = {
                    **doc.metadata,
                    **section.metadata,
                    "source": doc.source,
                    "kind": doc.kind,
                    "chunk": ordinal,
                    "start": piece.start,
                }
                out.append(
                    PendingChunk(
                        chunk_id(doc.source, piece.text, seen[piece.text]),
                        piece.text,
                        meta,
                        piece.tokens,
                    )
                )
                seen[piece.text] += 1
                ordinal += 1
    return out, cleaner.report


def load_into(
    path: Path,
    docs: list[Document],
    skipped: list[Skipped],
    unreadable: set[str],
    emptied: set[str],
    text_field: str,
    max_file_mb: float | None,
) -> None:
    """Load one file as every index engine does: documents with text go to ``docs``; a
    file that failed to load goes to ``unreadable`` (its chunks are kept), one whose text is
    empty to ``emptied`` (it keeps none); each reason to ``skipped``."""
    loaded, problems = load(path, text_field=text_field, max_mb=max_file_mb)
    skipped += problems
    unreadable.update(s.source.split("#", 1)[0] for s in problems if "#" not in s.source)
    for doc in loaded:
        if any(s.text.strip() for s in doc.sections):
            docs.append(doc)
        else:  # an emptied file keeps no chunks
            skipped.append(Skipped(doc.source, "no text", failed=False))
            emptied.add(doc.source)


def _under(source: str, roots: Sequence[str]) -> bool:
    path = source.split("#", 1)[0]
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def stale_chunks(
    existing: dict[str, Metadata],
    current: set[str],
    sources: set[str],
    unreadable: set[str],
    paths: Sequence[str | Path],
    prune: bool,
) -> tuple[list[str], list[str]]:
    """Ids to delete after a run: chunks of ``sources`` indexed now that are not ``current``
    (stale), and with ``prune`` chunks of files under ``paths`` that are gone. Files that
    failed to load (``unreadable``) keep their chunks."""
    roots = [source_id(Path(p)) for p in paths]
    stale, gone = [], []
    for id_, meta in existing.items():
        source = str(meta.get("source", ""))
        if id_ in current or source.split("#", 1)[0] in unreadable:
            continue
        if source in sources:
            stale.append(id_)
        elif prune and _under(source, roots):
            gone.append(id_)
    return stale, gone


def index(
    paths: Sequence[str | Path],
    store: VectorStore,
    model: EmbeddingModel,
    *,
    chunk_tokens: int | None = None,
    overlap: int | None = None,
    prune: bool = False,
    boilerplate_share: float = 0.3,
    text_field: str = "text",
    batch_size: int = 256,
    progress: Callable[[Progress], None] | None = None,
    on_written: Callable[[Sequence[PendingChunk], Sequence[str]], None] | None = None,
    max_file_mb: float | None = MAX_FILE_MB,
) -> IndexReport:
    """Index files and folders ``paths`` into ``store`` with ``model``; see the module doc.

    ``on_written(chunks, deleted_ids)``, if given, is called once the store is up to date
    with every current chunk of the indexed files and the ids removed (e.g. to keep a BM25
    index beside the collection). Files over ``max_file_mb`` are skipped (None: no limit).
    """
    if not paths:
        raise ValidationError("give at least one file or folder to index", param="paths")
    if store.dim != model.dim:
        raise ValidationError(
            f"collection {store.name!r} holds {store.dim}-d vectors; {model.name} makes "
            f"{model.dim}-d ones",
            param="collection",
        )
    if batch_size < 1:
        raise ValidationError("batch size must be at least 1", param="batch_size")
    start = time.perf_counter()
    chunker = Chunker(model, chunk_tokens, overlap)
    report = IndexReport(model=model.name)
    notify = progress or (lambda _: None)

    files = list(discover(paths))
    docs: list[Document] = []
    unreadable: set[str] = set()  # files that failed to load: their chunks are kept
    emptied: set[str] = set()
    for n, path in enumerate(files, start=1):
        load_into(path, docs, report.skipped, unreadable, emptied, text_field, max_file_mb)
        notify(Progress("load", n, len(files), 0, 0, 0, time.perf_counter() - start))
    report.documents = len(docs)

    def chunked(done: int) -> None:
        notify(Progress("chunk", done, len(docs), 0, 0, 0, time.perf_counter() - start))

    chunks, report.boilerplate = plan_chunks(docs, chunker, boilerplate_share, progress=chunked)
    report.chunks = len(chunks)
    existing = store.scan()
    todo = [c for c in chunks if c.id not in existing]
    report.unchanged = len(chunks) - len(todo)

    done_sources: set[str] = set()
    doc_total = len({c.metadata["source"] for c in todo})
    for first in range(0, len(todo), batch_size):
        batch = todo[first : first + batch_size]
        t0 = time.perf_counter()
        result = model.embed([c.text for c in batch], input_type="document", truncate="error")
        report.embed_seconds += time.perf_counter() - t0
        store.upsert(
            [c.id for c in batch],
            result.vectors,
            [c.text for c in batch],
            [c.metadata for c in batch],
        )
        report.embedded += len(batch)
        report.tokens += result.prompt_tokens
        done_sources.update(str(c.metadata["source"]) for c in batch)
        notify(
            Progress(
                "embed",
                len(done_sources),
                doc_total,
                report.embedded,
                len(todo),
                report.tokens,
                time.perf_counter() - start,
            )
        )

    current = {c.id for c in chunks}
    removed = stale_chunks(
        existing, current, {d.source for d in docs} | emptied, unreadable, paths, prune
    )
    return finish(report, store, removed, chunks, on_written, notify, start, doc_total)


def finish(
    report: IndexReport,
    store: VectorStore,
    removed: tuple[list[str], list[str]],
    chunks: Sequence[PendingChunk],
    on_written: Callable[[Sequence[PendingChunk], Sequence[str]], None] | None,
    notify: Callable[[Progress], None],
    start: float,
    documents: int,
) -> IndexReport:
    """End a run as every index engine does, once every new chunk is written: delete the
    ``removed`` ids (:func:`stale_chunks`), call ``on_written`` with every current chunk,
    time the run and report "done" (``documents`` embedded in it)."""
    stale, gone = removed
    store.delete(ids=stale + gone)
    report.deleted, report.pruned = len(stale), len(gone)
    if on_written is not None:
        on_written(chunks, stale + gone)
    report.seconds = time.perf_counter() - start
    notify(
        Progress(
            "done",
            documents,
            documents,
            report.embedded,
            report.embedded,
            report.tokens,
            report.seconds,
        )
    )
    return report
