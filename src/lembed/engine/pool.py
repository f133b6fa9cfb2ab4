"""The models a server process serves, each with its own dynamic batcher.

``ModelPool.embed`` is the one async engine call every HTTP dialect makes: it validates,
tokenises (off the event loop), queues the inputs on the model's batcher, and shapes the
result. Nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import functools
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from lembed.engine.batcher import Batcher
from lembed.engine.model import (
    INPUT_TYPES,
    EmbeddingModel,
    Embeddings,
    InputType,
    MatryoshkaWarning,
    Truncate,
)
from lembed.errors import ModelNotFoundError, ValidationError
from lembed.models.catalog import normalize_name
from lembed.runtime.pooling import l2_normalize
from lembed.runtime.quantize import OutputDtype

# Requests smaller than this tokenise on the event loop: a thread hop costs more than that.
INLINE_CHARS = 4096

# Names clients use for query/document beyond ours (Cohere, NVIDIA, TEI prompt names).
INPUT_TYPE_ALIASES: dict[str, InputType] = {
    "query": "query",
    "search_query": "query",
    "document": "document",
    "passage": "document",
    "search_document": "document",
    "none": "none",
}


def parse_input_type(value: str | None, default: InputType) -> InputType:
    """Map a client's query/document label to ours (``None`` → ``default``)."""
    if value is None:
        return default
    found = INPUT_TYPE_ALIASES.get(value.strip().lower())
    if found is None:
        names = ", ".join(INPUT_TYPE_ALIASES)
        raise ValidationError(
            f"input_type must be one of {names}, not {value!r}", param="input_type"
        )
    return found


@dataclass
class ServedModel:
    model: EmbeddingModel
    batcher: Batcher
    input_type: InputType  # the server's default for requests that don't say
    loaded_at: float


class ModelPool:
    """Serves one or more loaded models; the first is the default."""

    def __init__(
        self,
        models: Sequence[EmbeddingModel],
        *,
        input_types: dict[str, InputType] | None = None,
        max_queue: int = 4096,
    ) -> None:
        if not models:
            raise ValidationError("serve at least one model")
        defaults = input_types or {}
        self.served: list[ServedModel] = []
        for model in models:
            kind = defaults.get(model.name, defaults.get("*", "document"))
            if kind not in INPUT_TYPES:
                raise ValidationError(f"input type for {model.name} must be one of {INPUT_TYPES}")
            batcher = Batcher(
                functools.partial(model.forward, normalize=False),
                model.dim,
                batch_tokens=model.batch_tokens,
                max_batch_size=model.max_batch_size,
                max_queue=max_queue,
            )
            self.served.append(ServedModel(model, batcher, kind, time.time()))

    async def start(self) -> None:
        for served in self.served:
            served.batcher.start()

    async def stop(self) -> None:
        for served in self.served:
            await served.batcher.stop()

    @property
    def healthy(self) -> bool:
        return all(s.batcher.alive for s in self.served)

    @property
    def default(self) -> ServedModel:
        return self.served[0]

    def get(self, name: str | None) -> ServedModel:
        """The served model called ``name`` (any of its aliases); ``None``/"" → the default."""
        if not name:
            return self.default
        key = normalize_name(name)
        for served in self.served:
            if key in served.model.spec.names or key == normalize_name(served.model.name):
                return served
        loaded = ", ".join(s.model.name for s in self.served)
        raise ModelNotFoundError(f"model {name!r} is not served here (serving: {loaded})")

    async def embed(
        self,
        name: str | None,
        texts: Sequence[str],
        *,
        input_type: str | None = None,
        truncate: Truncate | bool = "right",
        dimensions: int | None = None,
        dtype: OutputDtype = "float32",
        normalize: bool = True,
    ) -> Embeddings:
        """Embed ``texts`` with the served model ``name`` through its batcher."""
        start = time.perf_counter()
        served = self.get(name)
        model = served.model
        kind = parse_input_type(input_type, served.input_type)
        with warnings.catch_warnings():  # a server answers; it does not print per request
            warnings.simplefilter("ignore", MatryoshkaWarning)
            model.check_output(dimensions, dtype)
        if sum(len(t) for t in texts if isinstance(t, str)) < INLINE_CHARS:
            encoded = model.encode(texts, input_type=kind, truncate=truncate)
        else:  # big requests tokenise off the event loop
            encoded = await asyncio.to_thread(
                model.encode, texts, input_type=kind, truncate=truncate
            )
        pooled = await served.batcher.submit(encoded.encodings)
        vectors = l2_normalize(pooled) if normalize else pooled
        return model.result(encoded, vectors, dimensions=dimensions, dtype=dtype, start=start)
