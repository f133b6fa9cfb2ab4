"""The Ray execution engine of :func:`lembed.ingest.api.index` (``lembed index --engine ray``).

>>> from lembed.ingest import index
>>> from lembed.scale.api import RayEngine
>>> from lembed.scale.ray_index import RayOptions
>>> ray = RayEngine(RayOptions(address="auto", workers=8, gpus_per_worker=1))
>>> index(["./docs"], store="qdrant+http://qdrant:6333", engine=ray)  # doctest: +SKIP

The orchestration (writer lock, store, collection model check, BM25 sidecar, report) is
``lembed.ingest``'s; this engine only resolves the model on the driver (the workers load it,
never the driver) and runs :func:`lembed.scale.ray_index.index_ray`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.ingest.api import index as run_index
from lembed.ingest.engine import IndexRun
from lembed.ingest.pipeline import IndexReport
from lembed.models.resolve import resolve
from lembed.scale.ray_index import ModelArgs, RayOptions, index_ray
from lembed.settings import Settings


@dataclass(frozen=True)
class RayEngine:
    """Ray workers (:mod:`lembed.scale.ray_index`): ``ray`` says where and how wide."""

    ray: RayOptions = field(default_factory=RayOptions)
    backend: str | None = None  # the workers'; default: the settings'
    device: str | None = None

    def prepare(self, model: str | EmbeddingModel | None, settings: Settings) -> RayIndexer:
        if isinstance(model, EmbeddingModel):
            raise ValidationError(
                "the Ray engine loads its model in the workers: pass the model's name",
                param="model",
            )
        resolved = resolve(model or settings.model, allow_paths=settings.allow_model_paths)
        name = str(resolved.path) if resolved.source == "folder" else resolved.spec.name
        return RayIndexer(self, name, resolved.spec.name, resolved.spec.dim, settings)


@dataclass(frozen=True)
class RayIndexer:
    """:class:`RayEngine` with its model resolved (the workers load ``load_as``)."""

    engine: RayEngine
    load_as: str
    model: str
    dim: int
    settings: Settings

    def run(self, run: IndexRun) -> IndexReport:
        engine = self.engine
        args = ModelArgs(self.load_as, engine.backend, engine.device, self.settings)
        return index_ray(
            run.paths,
            run.target,
            args,
            engine.ray,
            run.options,
            progress=run.progress,
            on_written=run.on_written,
        )


def index(
    paths: Sequence[str | Path],
    *,
    ray: RayOptions | None = None,
    backend: str | None = None,
    device: str | None = None,
    **options: Any,
) -> IndexReport:
    """:func:`lembed.ingest.api.index` (same arguments, same report) on Ray workers."""
    engine = RayEngine(ray or RayOptions(), backend=backend, device=device)
    return run_index(paths, engine=engine, **options)
