"""Build an :class:`EmbeddingModel` from a name: resolve files, pick the backend, load."""

from __future__ import annotations

import time
from typing import TypedDict

from lembed.engine.model import EmbeddingModel
from lembed.models.resolve import resolve
from lembed.runtime import registry
from lembed.runtime.backends import Backend
from lembed.runtime.tokenizer import Tokenizer
from lembed.settings import Settings


def options(
    settings: Settings, *, quantize: str = "none", device: str | None = None
) -> registry.Options:
    """The run options ``settings`` give a backend (``device`` overrides its device)."""
    return registry.Options(
        cache_dir=settings.cache_dir,
        threads=settings.threads,
        device=device or settings.device,
        quantize=quantize,
        precision=settings.precision,
        fake_delay_s=settings.fake_delay_ms / 1000,
        fake_fault=settings.fake_fault,
    )


class Sizes(TypedDict):
    """What every loaded model (embedding or cross-encoder) takes from the settings."""

    batch_tokens: int
    max_batch_size: int
    load_seconds: float


def sizes(settings: Settings, started: float) -> Sizes:
    """The batch sizes of ``settings``, and the seconds since ``started`` (perf_counter)."""
    return Sizes(
        batch_tokens=settings.batch_tokens,
        max_batch_size=settings.max_batch_size,
        load_seconds=time.perf_counter() - started,
    )


def load_model(
    name: str | None = None,
    *,
    backend: str | None = None,
    quantize: str | None = None,
    device: str | None = None,
    settings: Settings | None = None,
) -> EmbeddingModel:
    """Load an embedding model by catalog name, alias, HF id or folder path.

    Arguments left as ``None`` come from ``settings`` (by default ``Settings()``, which reads
    ``LEMBED_*`` environment variables). Nothing is downloaded: a model that is not on this
    machine raises :class:`lembed.errors.ModelNotFoundError` saying how to get it.
    """
    settings = settings or Settings()
    start = time.perf_counter()
    resolved = resolve(name or settings.model, allow_paths=settings.allow_model_paths)
    tokenizer = Tokenizer.from_folder(resolved.path, resolved.spec.max_tokens)
    kind = backend or settings.backend
    opts = options(settings, quantize=quantize or settings.quantize, device=device)
    registry.check(kind, opts.quantize, opts.precision)

    def make(task: str | None) -> Backend:
        """The backend running ``task``'s adapter (task models get one per task used)."""
        return registry.build(resolved, kind, opts, task=task)

    first = resolved.spec.task("document")  # the default input type's adapter
    runtime = make(first)
    return EmbeddingModel(
        resolved,
        tokenizer,
        runtime,
        task=first,
        backend_for_task=make if resolved.spec.tasks else None,
        **sizes(settings, start),
    )
