"""The RAG pipeline: embed the question → retrieve top-k → rerank to top-n → generate an
answer from those passages only, citing them, with the time each stage took."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lembed.engine.model import EmbeddingModel
from lembed.errors import ModelNotFoundError, ValidationError
from lembed.models.rerankers import RERANKERS
from lembed.rag.generators import Generator, load_generator
from lembed.rag.prompt import REFUSAL, Passage, build_prompt, cited
from lembed.rag.reranker import Reranker, load_reranker
from lembed.rag.retriever import Mode, Retriever
from lembed.settings import Settings
from lembed.stores import (
    DEFAULT_COLLECTION,
    DEFAULT_STORE,
    Hit,
    StoreClient,
    Where,
    open_client,
)
from lembed.stores.lexical import LexicalIndex, lexical_folder

DEFAULT_BUDGET = 2048  # prompt tokens when there is no generator to ask


@dataclass
class Timings:
    embed: float = 0.0
    search: float = 0.0
    rerank: float = 0.0
    generate: float = 0.0

    def line(self) -> str:
        """``embed X ms · search X ms · rerank X ms · generate X ms``"""
        return " · ".join(
            f"{stage} {getattr(self, stage) * 1000:.0f} ms"
            for stage in ("embed", "search", "rerank", "generate")
        )

    def as_ms(self) -> dict[str, float]:
        stages = ("embed", "search", "rerank", "generate")
        return {stage: round(getattr(self, stage) * 1000, 2) for stage in stages}


@dataclass
class AskResult:
    question: str
    mode: Mode
    passages: list[Passage]  # the context, numbered as the model saw it
    answer: str | None = None  # None with generate=False
    citations: list[int] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    retrieved: int = 0
    reranker: str | None = None
    generator: str | None = None
    answer_tokens: int = 0
    messages: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "citations": self.citations,
            "sources": [
                {
                    "n": p.number,
                    "id": p.hit.id,
                    "source": p.source,
                    "score": round(p.hit.score, 6),
                    "cited": p.number in self.citations,
                    "text": p.text,
                    "metadata": p.hit.metadata,
                }
                for p in self.passages
            ],
            "mode": self.mode,
            "retrieved": self.retrieved,
            "reranker": self.reranker,
            "generator": self.generator,
            "answer_tokens": self.answer_tokens,
            "timings_ms": self.timings.as_ms(),
            "notes": self.notes,
            "prompt": self.messages,
        }


def answer(
    question: str,
    retriever: Retriever,
    *,
    k: int = 20,
    top_n: int = 5,
    reranker: Reranker | None = None,
    generator: Generator | None = None,
    max_tokens: int = 256,
    where: Where | None = None,
    on_text: Callable[[str], None] | None = None,
) -> AskResult:
    """Run the pipeline; without a generator it stops at the ranked, numbered context.
    ``on_text`` receives the answer as it streams."""
    if top_n < 1 or k < 1:
        raise ValidationError("k and top-n must be at least 1", param="top_n")
    if max_tokens < 1:
        raise ValidationError("max tokens must be at least 1", param="max_tokens")
    found = retriever.retrieve(question, k, where)
    timings = Timings(embed=found.embed_seconds, search=found.search_seconds)
    notes = list(found.notes)
    hits = found.hits
    if reranker is not None and hits:
        t0 = time.perf_counter()
        ranked = reranker.rerank(question, [h.text for h in hits], top_n=top_n, normalize=True)
        hits = [
            Hit(hits[r.index].id, r.score, hits[r.index].text, hits[r.index].metadata)
            for r in ranked
        ]
        timings.rerank = time.perf_counter() - t0
    else:
        hits = hits[:top_n]
        if reranker is None:
            notes.append("no reranker: passages are in retrieval order")
    if generator is not None:
        budget = generator.context_tokens - max_tokens
        count = generator.count_tokens
    else:
        budget, count = DEFAULT_BUDGET, _approx_tokens
    prompt = build_prompt(question, hits, count_tokens=count, budget=budget)
    result = AskResult(
        question,
        retriever.mode,
        prompt.passages,
        timings=timings,
        retrieved=len(found.hits),
        reranker=reranker.name if reranker else None,
        generator=generator.name if generator else None,
        messages=prompt.messages,
        notes=notes + prompt.notes,
    )
    if generator is None:
        return result
    t0 = time.perf_counter()
    if not prompt.passages:  # nothing to answer from: no need to ask the model
        result.notes.append("nothing retrieved: the answer is the refusal, not generated")
        pieces = [REFUSAL]
        if on_text:
            on_text(REFUSAL)
    else:
        pieces = []
        for piece in generator.stream(prompt.messages, max_tokens=max_tokens):
            pieces.append(piece)
            if on_text:
                on_text(piece)
    timings.generate = time.perf_counter() - t0
    result.answer = "".join(pieces).strip()
    result.answer_tokens = generator.count_tokens(result.answer) if result.answer else 0
    result.citations = cited(result.answer, prompt.passages)
    return result


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def auto_reranker(settings: Settings) -> tuple[Reranker | None, str | None]:
    """The first catalog reranker on this machine, or None and a note saying how to get one."""
    for spec in RERANKERS:
        try:
            return Reranker(spec.name, settings=settings), None
        except ModelNotFoundError:
            continue
    names = " or ".join(f"`lembed pull {s.name}`" for s in RERANKERS)
    return None, f"no reranker on this machine, passages are in retrieval order ({names} adds one)"


def open_retriever(
    *,
    store: str,
    collection: str,
    mode: Mode | None,
    model: str | EmbeddingModel | None,
    backend: str | None,
    settings: Settings,
) -> tuple[Retriever, list[str]]:
    """A retriever over ``collection`` of ``store`` with the model it was indexed with.

    ``mode=None`` picks hybrid when the collection has a BM25 index beside it (the best mode
    on SciFact: NDCG@10 0.717 vs dense 0.645 and BM25 0.686 with all-MiniLM-L6-v2; see
    benchmarks/rag_retrieval.py), dense otherwise, and says so."""
    from lembed.stores import check_collection

    check_collection(collection)
    notes: list[str] = []
    if mode is None:
        folder = lexical_folder(store, collection, settings.cache_dir)
        mode = "hybrid" if folder is not None and LexicalIndex(folder).exists() else "dense"
        if mode == "dense":
            notes.append("no BM25 index beside this collection: dense retrieval only")
    client = open_client(store) if mode in ("dense", "hybrid") else None
    try:
        retriever = _retriever(client, store, collection, mode, model, backend, settings, notes)
    except BaseException:
        if client is not None:
            client.close()
        raise
    retriever.client = client
    return retriever, notes


def _retriever(
    client: StoreClient | None,
    store: str,
    collection: str,
    mode: Mode,
    model: str | EmbeddingModel | None,
    backend: str | None,
    settings: Settings,
    notes: list[str],
) -> Retriever:
    from lembed.engine.load import load_model

    vector_store = None
    loaded = model if isinstance(model, EmbeddingModel) else None
    if client is not None:
        vector_store = client.get(collection)
        if loaded is None:
            info = {c.name: c for c in client.collections()}.get(collection)
            name = model if isinstance(model, str) else (info.model if info else None)
            loaded = load_model(name, backend=backend, settings=settings)
        if loaded.dim != vector_store.dim:
            raise ValidationError(
                f"collection {collection!r} holds {vector_store.dim}-d vectors; {loaded.name} "
                f"makes {loaded.dim}-d ones: use the model it was indexed with",
                param="model",
            )
    lexical = None
    if mode in ("bm25", "hybrid"):
        folder = lexical_folder(store, collection, settings.cache_dir)
        if folder is None:
            raise ValidationError(f"{store} keeps no BM25 index: use --mode dense", param="mode")
        lexical = LexicalIndex(Path(folder))
        if vector_store is not None and lexical.exists():
            have, want = lexical.count(), vector_store.count()
            if have != want:
                notes.append(
                    f"the BM25 index holds {have} chunks, the collection {want}: "
                    "re-run `lembed index` to bring them in step"
                )
    return Retriever(model=loaded, store=vector_store, lexical=lexical, mode=mode)


def ask(
    question: str,
    *,
    store: str = DEFAULT_STORE,
    collection: str = DEFAULT_COLLECTION,
    model: str | EmbeddingModel | None = None,
    backend: str | None = None,
    mode: Mode | None = None,
    k: int = 20,
    top_n: int = 5,
    reranker: str | None = "auto",
    llm: str | None = "local",
    llm_url: str | None = None,
    llm_key: str | None = None,
    max_tokens: int = 256,
    where: Where | None = None,
    settings: Settings | None = None,
    on_text: Callable[[str], None] | None = None,
) -> AskResult:
    """Answer ``question`` from a collection indexed by ``lembed index`` (the Python API of
    ``lembed ask``). ``mode``: dense, bm25, hybrid or None (hybrid when the BM25 index is
    there, else dense). ``reranker``: a name, ``"auto"`` (the first catalog reranker present)
    or ``None``/``"none"``; ``llm``: ``local``, ``ollama:MODEL``, ``openai:MODEL`` or
    ``None`` to stop at the ranked context."""
    settings = settings or Settings()
    retriever, notes = open_retriever(
        store=store,
        collection=collection,
        mode=mode,
        model=model,
        backend=backend,
        settings=settings,
    )
    try:
        note = None
        if reranker == "auto":
            cross, note = auto_reranker(settings)
        else:
            cross = load_reranker(reranker, settings=settings)
        generator = (
            load_generator(llm, url=llm_url, api_key=llm_key, settings=settings) if llm else None
        )
        result = answer(
            question,
            retriever,
            k=k,
            top_n=top_n,
            reranker=cross,
            generator=generator,
            max_tokens=max_tokens,
            where=where,
            on_text=on_text,
        )
    finally:
        retriever.close()
    if note:  # the auto note says more than the generic one
        result.notes = [n for n in result.notes if not n.startswith("no reranker:")]
    result.notes[:0] = notes + ([note] if note else [])
    return result
