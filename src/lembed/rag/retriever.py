"""Retrieval: dense (the vector store), lexical (BM25 beside it) or hybrid (reciprocal rank
fusion of the two), timed per stage."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.stores.base import Hit, StoreClient, VectorStore, Where, matches
from lembed.stores.lexical import BM25, LexicalIndex

Mode = Literal["dense", "bm25", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "bm25", "hybrid")
RRF_K = 60  # the constant of Cormack et al. (2009); damps the head of each list


@dataclass
class Retrieval:
    hits: list[Hit]
    mode: Mode
    embed_seconds: float = 0.0
    search_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def rrf(rankings: Sequence[Sequence[Hit]], k: int, constant: int = RRF_K) -> list[Hit]:
    """Reciprocal rank fusion: score = Σ 1 / (constant + rank), best first, top ``k``."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (constant + rank)
            first.setdefault(hit.id, hit)
    order = sorted(scores, key=lambda i: -scores[i])[:k]
    return [Hit(i, scores[i], first[i].text, first[i].metadata) for i in order]


class Retriever:
    """Finds the chunks for a question in one collection."""

    def __init__(
        self,
        *,
        model: EmbeddingModel | None = None,
        store: VectorStore | None = None,
        lexical: BM25 | LexicalIndex | None = None,
        mode: Mode = "dense",
    ) -> None:
        if mode not in MODES:
            raise ValidationError(f"mode must be dense, bm25 or hybrid, not {mode!r}", param="mode")
        if mode in ("dense", "hybrid") and (model is None or store is None):
            raise ValidationError(f"{mode} retrieval needs an embedding model and a store")
        if mode in ("bm25", "hybrid") and lexical is None:
            raise ValidationError(f"{mode} retrieval needs a BM25 index")
        self.model, self.store, self.lexical, self.mode = model, store, lexical, mode
        self.client: StoreClient | None = None  # closed with the retriever when set

    def close(self) -> None:
        """Close the store (and the client it came from, if the retriever opened it)."""
        if self.store is not None:
            self.store.close()
        if self.client is not None:
            self.client.close()

    def retrieve(self, question: str, k: int = 20, where: Where | None = None) -> Retrieval:
        if not isinstance(question, str) or not question.strip():
            raise ValidationError("the question is empty", param="question")
        if k < 1:
            raise ValidationError("k must be at least 1", param="k")
        out = Retrieval([], self.mode)
        dense: list[Hit] = []
        lexical: list[Hit] = []
        if self.mode in ("dense", "hybrid"):
            assert self.model is not None and self.store is not None
            t0 = time.perf_counter()
            vector = self.model.embed([question], input_type="query").vectors[0]
            t1 = time.perf_counter()
            dense = self.store.query(vector, k=k, where=where)
            out.embed_seconds = t1 - t0
            out.search_seconds += time.perf_counter() - t1
        if self.mode in ("bm25", "hybrid"):
            assert self.lexical is not None
            t0 = time.perf_counter()
            # filters apply after scoring: over-fetch so k survive them
            lexical = self.lexical.search(question, k if not where else k * 10)
            lexical = [h for h in lexical if matches(h.metadata, where)][:k]
            out.search_seconds += time.perf_counter() - t0
        if self.mode == "dense":
            out.hits = dense
        elif self.mode == "bm25":
            out.hits = lexical
        else:
            t0 = time.perf_counter()
            out.hits = rrf([dense, lexical], k)
            out.search_seconds += time.perf_counter() - t0
        return out
