"""What :func:`lembed.ingest.api.index` hands the work to: an execution engine.

``index()`` is the one orchestration of a run, whatever runs it: it checks the collection
name, takes the collection's writer lock (:mod:`lembed.ingest.lock`), asks the engine to
*prepare* (load or resolve the model: only once the lock is held), opens the store, refuses a
collection indexed with another model, keeps the BM25 sidecar up to date and returns the
:class:`~lembed.ingest.pipeline.IndexReport`. An engine only turns files into stored chunks:

- :class:`LocalEngine`: this process (:func:`lembed.ingest.pipeline.index`);
- ``lembed.scale.api.RayEngine``: Ray workers (:mod:`lembed.scale.ray_index`), ``lembed[ray]``.

A new engine is one class with a ``prepare`` method returning an :class:`Indexer`;
``index(..., engine=MyEngine())`` then runs it with the lock, the checks and the sidecar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from lembed.engine.model import EmbeddingModel
from lembed.ingest.loaders import MAX_FILE_MB
from lembed.ingest.pipeline import IndexReport, PendingChunk, Progress
from lembed.ingest.pipeline import index as run_pipeline
from lembed.settings import Settings
from lembed.stores.base import VectorStore

OnWritten = Callable[[Sequence[PendingChunk], Sequence[str]], None]
OnProgress = Callable[[Progress], None]


@dataclass(frozen=True)
class IndexOptions:
    """How a run loads, chunks and writes: the options of ``lembed index``, every engine's."""

    chunk_tokens: int | None = None  # default: the model's window
    overlap: int | None = None  # default: 1/8 of a chunk
    prune: bool = False  # remove chunks of files under the paths that are gone
    boilerplate_share: float = 0.3
    text_field: str = "text"  # of JSON Lines records
    batch_size: int = 256  # chunks per embed-and-write batch
    max_file_mb: float | None = MAX_FILE_MB  # None: no limit


@dataclass(frozen=True)
class IndexRun:
    """One run handed to an engine: the files, the open collection, options and callbacks
    (``on_written(chunks, deleted_ids)`` as :func:`lembed.ingest.pipeline.index` has it)."""

    paths: Sequence[str | Path]
    target: VectorStore
    options: IndexOptions = field(default_factory=IndexOptions)
    progress: OnProgress | None = None
    on_written: OnWritten | None = None


class Indexer(Protocol):
    """An engine whose model is known: ``model`` (its name, which tags the collection),
    ``dim``, and ``run``, which indexes a run's files into its open collection."""

    @property
    def model(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def run(self, run: IndexRun) -> IndexReport: ...


class Engine(Protocol):
    """What runs an index: ``prepare`` is called under the writer lock, before the store is
    opened, with ``index()``'s ``model`` argument (a name, a loaded model or None for the
    settings' default)."""

    def prepare(self, model: str | EmbeddingModel | None, settings: Settings) -> Indexer: ...


@dataclass(frozen=True)
class LocalEngine:
    """This process: the model is loaded here (unless a loaded one is given)."""

    backend: str | None = None  # default: the settings'
    device: str | None = None

    def prepare(self, model: str | EmbeddingModel | None, settings: Settings) -> LocalIndexer:
        if isinstance(model, EmbeddingModel):
            return LocalIndexer(model)
        from lembed.engine.load import load_model

        return LocalIndexer(
            load_model(model, backend=self.backend, device=self.device, settings=settings)
        )


@dataclass(frozen=True)
class LocalIndexer:
    """:class:`LocalEngine` with its model loaded."""

    loaded: EmbeddingModel

    @property
    def model(self) -> str:
        return self.loaded.name

    @property
    def dim(self) -> int:
        return self.loaded.dim

    def run(self, run: IndexRun) -> IndexReport:
        return run_pipeline(
            run.paths,
            run.target,
            self.loaded,
            progress=run.progress,
            on_written=run.on_written,
            **asdict(run.options),
        )
