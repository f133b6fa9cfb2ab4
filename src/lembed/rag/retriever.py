"""Retrieval: dense (the vector store), lexical (BM25 beside it) or hybrid (weighted fusion
of max-normalised scores, see :mod:`lembed.rag.fusion`), timed per stage; a text found
twice (the same chunk stored under two ids) is returned once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.rag.fusion import DEFAULT_WEIGHT, MODES, Mode, fuse
from lembed.stores.base import Hit, StoreClient, VectorStore, Where, matches
from lembed.stores.dedupe import unique
from lembed.stores.lexical import BM25, LexicalIndex


@dataclass
class Retrieval:
    hits: list[Hit]
    mode: Mode
    embed_seconds: float = 0.0
    search_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    weight: float | None = None  # hybrid's dense share
    # per hit id, the scores it had before fusion: {"dense": cosine, "bm25": raw BM25}
    components: dict[str, dict[str, float]] = field(default_factory=dict)


class Retriever:
    """Finds the chunks for a question in one collection."""

    def __init__(
        self,
        *,
        model: EmbeddingModel | None = None,
        store: VectorStore | None = None,
        lexical: BM25 | LexicalIndex | None = None,
        mode: Mode = "dense",
        weight: float | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValidationError(f"mode must be dense, bm25 or hybrid, not {mode!r}", param="mode")
        if mode in ("dense", "hybrid") and (model is None or store is None):
            raise ValidationError(f"{mode} retrieval needs an embedding model and a store")
        if mode in ("bm25", "hybrid") and lexical is None:
            raise ValidationError(f"{mode} retrieval needs a BM25 index")
        if weight is not None and not 0.0 <= weight <= 1.0:
            raise ValidationError("the hybrid weight must be between 0 and 1", param="mode")
        self.model, self.store, self.lexical, self.mode = model, store, lexical, mode
        self.weight = (DEFAULT_WEIGHT if weight is None else weight) if mode == "hybrid" else None
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
        out = Retrieval([], self.mode, weight=self.weight)
        # over-fetch: repeats of a text are dropped, and filters apply after BM25 scoring
        depth = 2 * k
        dense: list[Hit] = []
        lexical: list[Hit] = []
        if self.mode in ("dense", "hybrid"):
            assert self.model is not None and self.store is not None
            t0 = time.perf_counter()
            vector = self.model.embed([question], input_type="query").vectors[0]
            t1 = time.perf_counter()
            dense = unique(self.store.query(vector, k=depth, where=where))
            out.embed_seconds = t1 - t0
            out.search_seconds += time.perf_counter() - t1
        if self.mode in ("bm25", "hybrid"):
            assert self.lexical is not None
            t0 = time.perf_counter()
            lexical = self.lexical.search(question, depth if not where else depth * 5)
            lexical = unique(h for h in lexical if matches(h.metadata, where))
            out.search_seconds += time.perf_counter() - t0
        for name, hits in (("dense", dense), ("bm25", lexical)):
            for h in hits:
                out.components.setdefault(h.id, {})[name] = h.score
        if self.mode == "dense":
            out.hits = dense[:k]
        elif self.mode == "bm25":
            out.hits = lexical[:k]
        else:
            t0 = time.perf_counter()
            assert self.weight is not None
            out.hits = unique(fuse(dense[:k], lexical[:k], 2 * k, self.weight))[:k]
            out.search_seconds += time.perf_counter() - t0
        return out
