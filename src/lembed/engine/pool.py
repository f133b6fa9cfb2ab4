"""The models a server process serves, each with its own dynamic batcher.

``ModelPool.embed`` is the one async engine call every HTTP dialect makes: it validates and
prefixes the texts, queues them on the model's batcher — whose worker thread tokenises them
together with the other requests' in one batch call, fits them to the window, and runs the
forward pass — and shapes the result. Every embedding the pool makes is reported once to
``ModelPool.on_embedded`` (the server counts tokens there). Nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lembed.engine.batcher import Batcher, Forward
from lembed.engine.batching import Truncate, check_texts, truncate_mode
from lembed.engine.model import (
    INPUT_TYPES,
    EmbeddingModel,
    Embeddings,
    InputType,
)
from lembed.errors import ModelNotFoundError, ValidationError
from lembed.models.catalog import Output, normalize_name
from lembed.runtime.backends import Copyable, padding_cost
from lembed.runtime.quantize import OutputDtype
from lembed.settings import default

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
    # Models with task adapters (jina-embeddings-v3) run each task's weights in their own
    # batches: one more batcher per task beside ``batcher`` (which runs ``model.task``).
    task_batchers: dict[str | None, Batcher] = field(default_factory=dict)

    def batcher_for(self, task: str | None) -> Batcher:
        if task == self.model.task or task not in self.task_batchers:
            return self.batcher
        return self.task_batchers[task]

    @property
    def batchers(self) -> list[Batcher]:
        return [self.batcher, *self.task_batchers.values()]


COPY_MAX_BYTES = 1 << 30  # larger weights are not copied for side-by-side passes


def side_by_side(model: EmbeddingModel, workers: int, threads: int) -> tuple[Forward | None, int]:
    """The forward for passes run side by side on ``model``'s own task, and how many run at
    once. ``workers`` 0 is auto: 2 on a multi-core CPU when the backend can open a second
    session on weights under :data:`COPY_MAX_BYTES` (the copy's memory), else 1. Each copy
    runs on its share of ``threads`` (0: every core)."""
    backend = model.backend
    copyable = backend if isinstance(backend, Copyable) and backend.device == "cpu" else None
    cores = threads or _cores()
    if workers == 0:
        small = copyable is not None and copyable.weights_bytes <= COPY_MAX_BYTES
        workers = 2 if cores >= 2 and small else 1
    if workers == 1:
        return None, 1
    if copyable is None:
        raise ValidationError(
            f"batch workers {workers}: the {backend.name} backend on {backend.device} runs one "
            "forward pass at a time; use 1 (or 0, auto)"
        )
    copy = copyable.with_threads(max(1, cores // workers))
    forward = functools.partial(model.forward, normalize=False, task=model.task, backend=copy)
    return forward, workers


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Told of every embedding made: (model name, tokens embedded).
EmbeddedHook = Callable[[str, int], None]


class ModelPool:
    """Serves one or more loaded models; the first is the default."""

    def __init__(
        self,
        models: Sequence[EmbeddingModel],
        *,
        input_types: dict[str, InputType] | None = None,
        max_queue: int = default("max_queue"),
        max_queue_tokens: int | None = None,
        max_wait_s: float | None = None,
        stall_s: float | None = None,
        workers: int = default("batch_workers"),
        threads: int = default("threads"),
    ) -> None:
        if not models:
            raise ValidationError("serve at least one model")
        self.on_embedded: EmbeddedHook | None = None
        defaults = input_types or {}
        self.served: list[ServedModel] = []
        for model in models:
            kind = defaults.get(model.name, defaults.get("*", "document"))
            if kind not in INPUT_TYPES:
                raise ValidationError(f"input type for {model.name} must be one of {INPUT_TYPES}")

            def batcher(model: EmbeddingModel, task: str | None) -> Batcher:
                # other tasks' adapters load on first use: they run one pass at a time
                own = task == model.task
                parallel, n = side_by_side(model, workers, threads) if own else (None, 1)
                return Batcher(
                    functools.partial(model.forward, normalize=False, task=task),
                    model.dim,
                    parallel=parallel,
                    workers=n,
                    tokenize=model.tokenizer.encode,
                    batch_tokens=model.batch_tokens,
                    max_batch_size=model.max_batch_size,
                    max_queue=max_queue,
                    max_queue_tokens=max_queue_tokens,
                    max_wait_s=max_wait_s,
                    stall_s=stall_s,
                    padding_cost=padding_cost(model.backend),
                )

            others = [t for t in (None, *model.spec.tasks) if model.spec.tasks and t != model.task]
            self.served.append(
                ServedModel(
                    model,
                    batcher(model, model.task),
                    kind,
                    time.time(),
                    {t: batcher(model, t) for t in others},
                )
            )

    async def start(self) -> None:
        for served in self.served:
            for batcher in served.batchers:
                batcher.start()

    async def stop(self) -> None:
        for served in self.served:
            for batcher in served.batchers:
                await batcher.stop()

    @property
    def healthy(self) -> bool:
        return all(b.alive for s in self.served for b in s.batchers)

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
        kind: str = (
            input_type  # the model's own named input types: nomic's "clustering", jina's tasks
            if input_type in model.spec.input_types
            else parse_input_type(input_type, served.input_type)
        )
        mode = truncate_mode(truncate)
        model.check_output(dimensions, dtype, warn=False)  # a server answers, it does not print
        prefixed = model.with_prefix(check_texts(texts), kind)
        fit = functools.partial(model.fit, mode=mode, input_type=kind)
        batcher = served.batcher_for(model.spec.task(kind))
        vectors, encoded = await batcher.submit_texts(prefixed, fit, normalize=normalize)
        result = model.result(encoded, vectors, dimensions=dimensions, dtype=dtype, start=start)
        return self._embedded(result)

    async def embed_outputs(
        self,
        name: str | None,
        texts: Sequence[str],
        *,
        input_type: str,
        truncate: Truncate | bool,
        output: Output | Sequence[Output],
    ) -> Embeddings:
        """``EmbeddingModel.embed`` with the model's extra heads (``output``: sparse,
        multivector), off the event loop (not batched across requests)."""
        model = self.get(name).model
        result = await asyncio.to_thread(
            model.embed, texts, input_type=input_type, truncate=truncate, output=output
        )
        return self._embedded(result)

    def _embedded(self, result: Embeddings) -> Embeddings:
        if self.on_embedded is not None:
            self.on_embedded(result.model, result.prompt_tokens)
        return result
