"""Reranking for RAG: sort retrieved passages by a cross-encoder's relevance, best first.

The cross-encoder itself (resolution, tokenizer, onnx/torch backend with the logits head,
batching) is the engine's :class:`~lembed.engine.cross_encoder.CrossEncoder`; this module
keeps the ranking policy the pipeline applies: which reranker (a name, or none), scores
in (0, 1) through a sigmoid when asked, and the cut to ``top_n``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lembed.engine.cross_encoder import CrossEncoder, Ranked, load_cross_encoder, rank, sigmoid
from lembed.models.rerankers import RerankerSpec
from lembed.settings import Settings

__all__ = ["Ranked", "Reranker", "load_reranker", "sigmoid"]


class Reranker:
    """A loaded cross-encoder with the ranking policy. Thread-safe."""

    def __init__(
        self,
        name: str | CrossEncoder,
        *,
        backend: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.model = (
            name
            if isinstance(name, CrossEncoder)
            else load_cross_encoder(name, backend=backend, settings=settings)
        )

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def spec(self) -> RerankerSpec:
        return self.model.spec

    @property
    def backend(self) -> str:
        return self.model.backend.name

    @property
    def load_seconds(self) -> float:
        return self.model.load_seconds

    def score(
        self, query: str, texts: Sequence[str], *, truncate: bool = True, direction: str = "right"
    ) -> np.ndarray:
        """Raw relevance logits of ``(query, text)`` for each text, in input order."""
        return self.model.score(query, texts, truncate=truncate, direction=direction)

    def rerank(
        self,
        query: str,
        texts: Sequence[str],
        *,
        top_n: int | None = None,
        normalize: bool = False,
        truncate: bool = True,
        direction: str = "right",
    ) -> list[Ranked]:
        """``texts`` sorted by relevance to ``query``, best first, cut to ``top_n``;
        ``normalize`` maps the logits through a sigmoid."""
        scores = self.model.score(query, texts, truncate=truncate, direction=direction)
        return rank(scores, top_n=top_n, normalize=normalize)


def load_reranker(
    name: str | None, *, backend: str | None = None, settings: Settings | None = None
) -> Reranker | None:
    """A reranker by name, or ``None`` for ``"none"`` / no name."""
    if name is None or name.strip().lower() in ("", "none", "off"):
        return None
    return Reranker(name, backend=backend, settings=settings)
