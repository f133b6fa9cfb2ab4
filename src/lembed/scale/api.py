"""``index`` on Ray from a store URI, as :func:`lembed.ingest.api.index` is for one process.

>>> from lembed.scale.api import index
>>> from lembed.scale.ray_index import RayOptions
>>> index(["./docs"], store="qdrant+http://qdrant:6333", collection="docs",
...       ray=RayOptions(address="auto", workers=8, gpus_per_worker=1))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from lembed.errors import ValidationError
from lembed.ingest.api import _lexical_sidecar
from lembed.ingest.pipeline import IndexReport, Progress
from lembed.models.resolve import resolve
from lembed.scale.ray_index import ModelArgs, RayOptions, index_ray
from lembed.settings import Settings
from lembed.stores import DEFAULT_COLLECTION, DEFAULT_STORE, check_collection, open_client


def index(
    paths: Sequence[str | Path],
    *,
    store: str = DEFAULT_STORE,
    collection: str = DEFAULT_COLLECTION,
    model: str | None = None,
    backend: str | None = None,
    device: str | None = None,
    chunk_tokens: int | None = None,
    overlap: int | None = None,
    prune: bool = False,
    boilerplate_share: float = 0.3,
    text_field: str = "text",
    batch_size: int = 256,
    quantization: str = "none",
    ray: RayOptions | None = None,
    settings: Settings | None = None,
    progress: Callable[[Progress], None] | None = None,
    lexical: bool = True,
) -> IndexReport:
    """Index ``paths`` into ``collection`` of ``store`` with Ray workers; see
    :mod:`lembed.scale.ray_index`. The model is loaded by the workers, never here. As
    :func:`lembed.ingest.api.index`: the collection's model is checked, and with ``lexical``
    the BM25 index beside it is kept up to date."""
    check_collection(collection)
    settings = settings or Settings()
    resolved = resolve(model or settings.model, allow_paths=settings.allow_model_paths)
    args = ModelArgs(
        name=str(resolved.path) if resolved.source == "folder" else resolved.spec.name,
        backend=backend,
        device=device,
        settings=settings,
        chunk_tokens=chunk_tokens,
        overlap=overlap,
        share=boilerplate_share,
    )
    sidecar = _lexical_sidecar(store, collection, settings) if lexical else None
    client = open_client(store, quantization=quantization)
    try:
        have = {c.name: c.model for c in client.collections()}.get(collection)
        if have and have != resolved.spec.name:
            raise ValidationError(
                f"collection {collection!r} was indexed with {have}; vectors of "
                f"{resolved.spec.name} are not comparable with them",
                param="model",
            )
        target = client.open(collection, resolved.spec.dim, model=resolved.spec.name)
        try:
            return index_ray(
                paths,
                target,
                args,
                ray or RayOptions(),
                prune=prune,
                text_field=text_field,
                batch_size=batch_size,
                progress=progress,
                on_written=sidecar(target) if sidecar else None,
            )
        finally:
            target.close()
    finally:
        client.close()
