"""A cross-encoder ready to use: tokenizer + backend (the logits head) + the pair window.

``CrossEncoder.score`` reads (query, passage) pairs and returns one relevance logit each:
pairs are tokenised by the runtime's tokenizer (token types 0 / 1), checked against the
model's window (error, or cut the longer member first), cut into batches by the same token
budget as embeddings (``plan_batches``), padded by ``Tokenizer.pad`` and run on the onnx or
torch backend with the :data:`~lembed.runtime.cross_encoder.LOGITS` head.
:class:`ServedCrossEncoder` puts it behind a :class:`~lembed.engine.batcher.Batcher`, so
concurrent rerank requests share forward passes under the embedding models' queue bounds.
``rank`` orders scores best first. Nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from tokenizers import Encoding

from lembed.engine.batcher import Batcher
from lembed.engine.batching import plan_batches
from lembed.engine.load import options, sizes
from lembed.errors import EmptyInputError, InputTooLongError, ValidationError
from lembed.models.rerankers import RerankerSpec, ResolvedReranker, resolve_reranker
from lembed.runtime import registry
from lembed.runtime.backends import Backend
from lembed.runtime.cross_encoder import LOGITS, relevance
from lembed.runtime.tokenizer import Direction, Tokenizer
from lembed.settings import Settings

# Requests with more text than this tokenise off the event loop.
INLINE_CHARS = 4096
DIRECTIONS: tuple[Direction, ...] = ("right", "left")


@dataclass(frozen=True)
class Ranked:
    """One reranked passage: its index in the input and its score."""

    index: int
    score: float


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def rank(scores: np.ndarray, *, top_n: int | None = None, normalize: bool = False) -> list[Ranked]:
    """Indices sorted by score, best first (ties keep input order), cut to ``top_n``;
    ``normalize`` maps the logits through a sigmoid into (0, 1)."""
    order = np.argsort(-scores, kind="stable")
    if top_n is not None:
        order = order[:top_n]
    return [
        Ranked(int(i), sigmoid(float(scores[i])) if normalize else float(scores[i])) for i in order
    ]


class CrossEncoder:
    """A loaded cross-encoder. ``score`` is thread-safe (one forward pass at a time)."""

    def __init__(
        self,
        resolved: ResolvedReranker,
        tokenizer: Tokenizer,
        backend: Backend,
        *,
        batch_tokens: int,
        max_batch_size: int,
        load_seconds: float = 0.0,
    ) -> None:
        self.resolved = resolved
        self.spec: RerankerSpec = resolved.spec
        self.path = resolved.path
        self.tokenizer = tokenizer
        self.backend = backend
        self.batch_tokens = batch_tokens
        self.max_batch_size = max_batch_size
        self.load_seconds = load_seconds
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def max_tokens(self) -> int:
        return self.tokenizer.max_tokens

    def __repr__(self) -> str:
        return (
            f"CrossEncoder({self.name!r}, backend={self.backend.name!r}, "
            f"device={self.backend.device!r}, max_tokens={self.max_tokens})"
        )

    def serves(self, name: str) -> bool:
        """Whether ``name`` (any of its aliases or its HF id) names this model."""
        key = name.strip().lower()
        return key == self.name.lower() or key in self.spec.names

    def encode(
        self, query: str, texts: Sequence[str], *, truncate: bool = True, direction: str = "right"
    ) -> list[Encoding]:
        """Validate and tokenise the ``(query, text)`` pairs. Pairs over the window are cut
        (the longer member first, from ``direction``) or, with ``truncate=False``, refused
        with :class:`InputTooLongError`."""
        if not isinstance(query, str) or not query.strip():
            raise EmptyInputError("the query is empty", param="query")
        if not texts:
            raise EmptyInputError("no texts to rerank", param="texts")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise EmptyInputError(f"text {i} is empty", param="texts")
        if direction not in DIRECTIONS:
            raise ValidationError("truncation direction must be right or left", param="direction")
        pairs = [(query, t) for t in texts]
        encodings = self.tokenizer.encode_pairs(pairs)
        long = [i for i, e in enumerate(encodings) if len(e.ids) > self.max_tokens]
        if long and not truncate:
            i = long[0]
            raise InputTooLongError(
                f"pair {i} has {len(encodings[i].ids)} tokens; {self.name} reads at most "
                f"{self.max_tokens} (send truncate: true to cut it)",
                index=i,
                tokens=len(encodings[i].ids),
                limit=self.max_tokens,
            )
        if long:
            side: Direction = "left" if direction == "left" else "right"
            cut = self.tokenizer.encode_pairs([pairs[i] for i in long], side)
            for i, enc in zip(long, cut, strict=True):
                encodings[i] = enc
        return encodings

    def forward(self, encodings: Sequence[Encoding]) -> np.ndarray:
        """Relevance logits of tokenised pairs, float32 ``[n, 1]``, batched by token budget
        (the shape a :class:`Batcher` of width 1 takes)."""
        out = np.empty((len(encodings), 1), dtype=np.float32)
        lengths = [len(e.ids) for e in encodings]
        for idx in plan_batches(lengths, self.batch_tokens, self.max_batch_size):
            batch = self.tokenizer.pad([encodings[i] for i in idx])
            out[idx, 0] = relevance(self.backend.forward(batch))
        return out

    def score(
        self, query: str, texts: Sequence[str], *, truncate: bool = True, direction: str = "right"
    ) -> np.ndarray:
        """Raw relevance logits of ``(query, text)`` for each text, in input order."""
        return self.score_counted(query, texts, truncate=truncate, direction=direction)[0]

    def score_counted(
        self, query: str, texts: Sequence[str], *, truncate: bool = True, direction: str = "right"
    ) -> tuple[np.ndarray, int]:
        """Like :meth:`score`, with the number of tokens the pairs took."""
        encodings = self.encode(query, texts, truncate=truncate, direction=direction)
        with self._lock:
            scores = self.forward(encodings)[:, 0]
        return scores, sum(len(e.ids) for e in encodings)


def load_cross_encoder(
    name: str, *, backend: str | None = None, settings: Settings | None = None
) -> CrossEncoder:
    """Load a cross-encoder by catalog name, HF id (in the HF cache) or folder path.

    It runs on ``backend`` (or ``settings.backend``) where that backend runs a logits head
    (:data:`lembed.runtime.registry.BACKENDS`: onnx, torch), else on ONNX Runtime (the fake
    embedding backend has no cross-encoder); onnx runs its fp32 graph, exported once from the
    HF weights and cached. Nothing is downloaded.
    """
    settings = settings or Settings()
    start = time.perf_counter()
    resolved = resolve_reranker(name, allow_paths=settings.allow_model_paths)
    tokenizer = Tokenizer.from_folder(resolved.path, resolved.spec.max_tokens)
    kind = registry.backend_kind(backend or settings.backend)
    if not kind.logits:
        kind = registry.BACKENDS["onnx"]
    opts = replace(options(settings), precision="fp32")  # fp32 weights and compute
    runtime = registry.build(resolved, kind.name, opts, head=LOGITS)
    return CrossEncoder(resolved, tokenizer, runtime, **sizes(settings, start))


class ServedCrossEncoder:
    """A cross-encoder behind its own dynamic batcher, with the queue bounds, overload
    answers, stall watchdog and health of an embedding model's (``like``'s bounds)."""

    def __init__(self, model: CrossEncoder, like: Batcher) -> None:
        self.model = model
        self.batcher = Batcher(
            model.forward,
            1,
            batch_tokens=model.batch_tokens,
            max_batch_size=model.max_batch_size,
            max_queue=like.max_queue,
            max_queue_tokens=like.max_queue_tokens,
            max_wait_s=like.max_wait_s,
            stall_s=like.stall_s,
        )
        self.loaded_at = time.time()

    def start(self) -> None:
        self.batcher.start()

    async def stop(self) -> None:
        await self.batcher.stop()

    @property
    def alive(self) -> bool:
        return self.batcher.alive

    async def score(
        self, query: str, texts: Sequence[str], *, truncate: bool = True, direction: str = "right"
    ) -> tuple[np.ndarray, int]:
        """Relevance logits of ``(query, text)`` for each text, computed in batches shared
        with concurrent requests; and the number of tokens the pairs took."""
        model = self.model
        if (
            isinstance(query, str)
            and sum(len(t) for t in texts if isinstance(t, str)) < INLINE_CHARS
        ):
            encodings = model.encode(query, texts, truncate=truncate, direction=direction)
        else:  # big requests tokenise off the event loop
            encodings = await asyncio.to_thread(
                model.encode, query, texts, truncate=truncate, direction=direction
            )
        scores = await self.batcher.submit(encodings)
        return scores[:, 0], sum(len(e.ids) for e in encodings)
