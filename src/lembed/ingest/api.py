"""The Python API that mirrors ``lembed index`` / ``search`` / ``collections``.

>>> from lembed.ingest import index, search
>>> report = index(["./docs"], store="chroma:./.lembed/chroma")        # doctest: +SKIP
>>> hits = search("how do I reset it?", store="chroma:./.lembed/chroma", k=5)  # doctest: +SKIP
>>> hits[0].score, hits[0].metadata["source"], hits[0].text             # doctest: +SKIP

A store is a URI (see :mod:`lembed.stores`) or an open :class:`~lembed.stores.StoreClient`;
a model is a name (default: the settings' model) or a loaded
:class:`~lembed.engine.model.EmbeddingModel`. ``search`` embeds the query with
``input_type="query"`` and, without a model, uses the one the collection was indexed with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.ingest.engine import Engine, IndexOptions, IndexRun, LocalEngine
from lembed.ingest.loaders import MAX_FILE_MB
from lembed.ingest.lock import writer_lock
from lembed.ingest.pipeline import IndexReport, PendingChunk, Progress
from lembed.settings import Settings
from lembed.stores import (
    DEFAULT_COLLECTION,
    DEFAULT_STORE,
    CollectionInfo,
    Hit,
    StoreClient,
    VectorStore,
    Where,
    check_collection,
    open_client,
)
from lembed.stores.dedupe import unique


def _client(store: str | StoreClient, quantization: str = "none") -> tuple[StoreClient, bool]:
    if isinstance(store, str):
        return open_client(store, quantization=quantization), True
    return store, False


def _model(
    model: str | EmbeddingModel | None, settings: Settings | None, backend: str | None = None
) -> EmbeddingModel:
    if isinstance(model, EmbeddingModel):
        return model
    from lembed.engine.load import load_model

    return load_model(model, backend=backend, settings=settings)


def index(
    paths: Sequence[str | Path],
    *,
    store: str | StoreClient = DEFAULT_STORE,
    collection: str = DEFAULT_COLLECTION,
    model: str | EmbeddingModel | None = None,
    chunk_tokens: int | None = None,
    overlap: int | None = None,
    prune: bool = False,
    boilerplate_share: float = 0.3,
    text_field: str = "text",
    batch_size: int = 256,
    quantization: str = "none",
    settings: Settings | None = None,
    progress: Callable[[Progress], None] | None = None,
    lexical: bool = True,
    max_file_mb: float | None = MAX_FILE_MB,
    engine: Engine | None = None,
) -> IndexReport:
    """Index ``paths`` into ``collection`` of ``store``; returns what was done.

    ``engine`` runs the work: :class:`~lembed.ingest.engine.LocalEngine` (the default: this
    process) or ``lembed.scale.api.RayEngine`` (Ray workers); see :mod:`lembed.ingest.engine`.
    With ``lexical`` (and ``lembed[rag]`` installed) a BM25 index of the collection is kept
    beside it for ``lembed ask --mode bm25|hybrid`` (see :mod:`lembed.stores.lexical`).
    Files over ``max_file_mb`` are skipped. One writer per collection: a second run into
    the same one raises :class:`~lembed.errors.StoreBusyError` before loading its model.
    """
    check_collection(collection)
    settings = settings or Settings()
    options = IndexOptions(
        chunk_tokens=chunk_tokens,
        overlap=overlap,
        prune=prune,
        boilerplate_share=boilerplate_share,
        text_field=text_field,
        batch_size=batch_size,
        max_file_mb=max_file_mb,
    )
    with ExitStack() as held:
        if isinstance(store, str):  # an open client is the caller's to coordinate
            held.enter_context(writer_lock(store, collection, settings.cache_dir))
        indexer = (engine or LocalEngine()).prepare(model, settings)
        sidecar = _lexical_sidecar(store, collection, settings) if lexical else None
        client, owned = _client(store, quantization)
        if owned:
            held.callback(client.close)
        have = {c.name: c.model for c in client.collections()}.get(collection)
        if have and have != indexer.model:
            raise ValidationError(
                f"collection {collection!r} was indexed with {have}; vectors of "
                f"{indexer.model} are not comparable with them: index with that model, or "
                "into another collection",
                param="model",
            )
        target = client.open(collection, indexer.dim, model=indexer.model)
        held.callback(target.close)
        written = sidecar(target) if sidecar else None
        report = indexer.run(IndexRun(paths, target, options, progress, written))
        report.model = indexer.model
        return report


def _lexical_sidecar(
    store: str | StoreClient, collection: str, settings: Settings | None
) -> Callable[[VectorStore], Callable[[Sequence[PendingChunk], Sequence[str]], None]] | None:
    """The BM25 index kept beside a collection (lembed.stores.lexical), if this store has a place
    for one and lembed[rag] is installed."""
    import importlib.util

    if not isinstance(store, str) or importlib.util.find_spec("bm25s") is None:
        return None
    from lembed.stores.lexical import LexicalIndex, lexical_folder

    folder = lexical_folder(store, collection, (settings or Settings()).cache_dir)
    if folder is None:
        return None
    lexical = LexicalIndex(folder)

    def hook(target: VectorStore) -> Callable[[Sequence[PendingChunk], Sequence[str]], None]:
        def written(chunks: Sequence[PendingChunk], deleted: Sequence[str]) -> None:
            rows = ((c.id, c.text, c.metadata) for c in chunks)
            lexical.update(rows, deleted, keep=set(target.scan()))

        return written

    return hook


def search(
    query: str,
    *,
    store: str | StoreClient = DEFAULT_STORE,
    collection: str = DEFAULT_COLLECTION,
    model: str | EmbeddingModel | None = None,
    k: int = 10,
    where: Where | None = None,
    settings: Settings | None = None,
) -> list[Hit]:
    """The ``k`` chunks most similar to ``query`` (best first), optionally filtered."""
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("the query is empty", param="query")
    check_collection(collection)
    client, owned = _client(store)
    try:
        target = client.get(collection)
        if model is None:
            info = {c.name: c for c in client.collections()}.get(collection)
            model = info.model if info and info.model else None
        loaded = _model(model, settings)
        if loaded.dim != target.dim:
            raise ValidationError(
                f"collection {collection!r} holds {target.dim}-d vectors; {loaded.name} makes "
                f"{loaded.dim}-d ones: search with the model it was indexed with",
                param="model",
            )
        vector = loaded.embed([query], input_type="query").vectors[0]
        return unique(target.query(vector, k=2 * k, where=where))[:k]  # a text once
    finally:
        if owned:
            client.close()


def collections(store: str | StoreClient = DEFAULT_STORE) -> list[CollectionInfo]:
    """The collections of ``store``."""
    client, owned = _client(store)
    try:
        return client.collections()
    finally:
        if owned:
            client.close()


def drop(collection: str, store: str | StoreClient = DEFAULT_STORE) -> bool:
    """Delete ``collection``; False if there was none."""
    client, owned = _client(store)
    try:
        return client.drop(collection)
    finally:
        if owned:
            client.close()
