"""The RAG pipeline: embed the question → retrieve top-k → rerank to top-n → answer from
those passages only, citing them, with the time each stage took (model loading included).

The answer is *extractive* (the passages' sentences closest to the question, see
:mod:`lembed.rag.extractive`) unless a generator is named; a local generator's answer that
cites no passage is replaced by the extractive one, with a note that says so."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lembed.engine.cross_encoder import CrossEncoder
from lembed.engine.model import EmbeddingModel
from lembed.errors import ModelNotFoundError, ValidationError
from lembed.models.rerankers import RERANKERS
from lembed.rag.extractive import extract
from lembed.rag.fusion import DEFAULT_MODE, Mode, parse_mode
from lembed.rag.generators import Generator, load_generator
from lembed.rag.prompt import REFUSAL, Passage, build_prompt, cited
from lembed.rag.reranker import Reranker, load_reranker
from lembed.rag.retriever import Retrieval, Retriever
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


STAGES = ("load", "embed", "search", "rerank", "generate")


@dataclass
class Timings:
    load: float = 0.0  # loading the embedding model, reranker and generator
    embed: float = 0.0
    search: float = 0.0
    rerank: float = 0.0
    generate: float = 0.0  # writing the answer (generated or extracted)

    def line(self) -> str:
        """``load X ms · embed X ms · search X ms · rerank X ms · generate X ms``"""
        return " · ".join(f"{stage} {getattr(self, stage) * 1000:.0f} ms" for stage in STAGES)

    def as_ms(self) -> dict[str, float]:
        return {stage: round(getattr(self, stage) * 1000, 2) for stage in STAGES}


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
    # how the answer was made: extractive, generated, fallback (generated, then replaced by
    # the extractive answer) or None (context only)
    answer_kind: str | None = None
    draft: str | None = None  # the generated text a fallback replaced
    score_kind: str = "cosine"  # what a passage's score is: cosine, fused, bm25 or rerank
    weight: float | None = None  # hybrid's dense share
    components: dict[str, dict[str, float]] = field(default_factory=dict)

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
                    "scores": {
                        n: round(v, 6) for n, v in self.components.get(p.hit.id, {}).items()
                    },
                    "cited": p.number in self.citations,
                    "text": p.text,
                    "metadata": p.hit.metadata,
                }
                for p in self.passages
            ],
            "mode": self.mode,
            "weight": self.weight,
            "score_kind": self.score_kind,
            "answer_kind": self.answer_kind,
            "draft": self.draft,
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
    retriever: Retriever | Retrieval,
    *,
    k: int = 20,
    top_n: int = 5,
    reranker: Reranker | CrossEncoder | None = None,
    generator: Generator | None = None,
    max_tokens: int = 256,
    where: Where | None = None,
    on_text: Callable[[str], None] | None = None,
    extractive: EmbeddingModel | None = None,
) -> AskResult:
    """Run the pipeline. With a ``generator`` it writes the answer (``on_text`` receives it
    as it streams); else with ``extractive`` (an embedding model) it extracts one; with
    neither it stops at the ranked, numbered context. A generator that asks for it
    (``check_citations``) gets its uncited answers replaced by the extractive one.
    ``reranker``: a :class:`Reranker`, or a loaded cross-encoder it wraps. ``retriever`` may
    be a :class:`Retrieval` already made (a server retrieves under its store's lock and
    generates without it)."""
    if isinstance(reranker, CrossEncoder):
        reranker = Reranker(reranker)
    if top_n < 1 or k < 1:
        raise ValidationError("k and top-n must be at least 1", param="top_n")
    if max_tokens < 1:
        raise ValidationError("max tokens must be at least 1", param="max_tokens")
    found = (
        retriever if isinstance(retriever, Retrieval) else retriever.retrieve(question, k, where)
    )
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
        found.mode,
        prompt.passages,
        timings=timings,
        retrieved=len(found.hits),
        reranker=reranker.name if reranker else None,
        generator=generator.name if generator else None,
        messages=prompt.messages,
        notes=notes + prompt.notes,
        score_kind="rerank" if timings.rerank else _SCORE_KIND[found.mode],
        weight=found.weight,
        components=found.components,
    )
    if generator is None:
        if extractive is not None:
            t0 = time.perf_counter()
            got = extract(question, prompt.passages, extractive)
            result.answer, result.citations = got.answer, got.citations
            result.answer_kind = "extractive"
            timings.generate = time.perf_counter() - t0
            if on_text:
                on_text(got.answer)
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
    result.answer = "".join(pieces).strip()
    result.answer_kind = "generated"
    result.answer_tokens = generator.count_tokens(result.answer) if result.answer else 0
    result.citations = cited(result.answer, prompt.passages)
    check = getattr(generator, "check_citations", False)
    if check and prompt.passages and not result.citations and extractive is not None:
        got = extract(question, prompt.passages, extractive)
        result.draft, result.answer, result.citations = result.answer, got.answer, got.citations
        result.answer_kind = "fallback"
        result.notes.append(
            f"{generator.name}'s answer cited no passage: this is the extractive answer instead "
            "(--json shows the generated draft)"
        )
    timings.generate = time.perf_counter() - t0
    return result


_SCORE_KIND = {"dense": "cosine", "hybrid": "fused", "bm25": "bm25"}


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
    mode: str | None,
    model: str | EmbeddingModel | None,
    backend: str | None,
    settings: Settings,
) -> tuple[Retriever, list[str]]:
    """A retriever over ``collection`` of ``store`` with the model it was indexed with.

    ``mode``: dense, bm25, hybrid or hybrid:W (see :func:`lembed.rag.fusion.parse_mode`);
    None picks :data:`lembed.rag.fusion.DEFAULT_MODE` (hybrid only where a BM25 index is
    beside the collection) and says so when it had to fall back."""
    from lembed.stores import check_collection

    check_collection(collection)
    notes: list[str] = []
    if mode is None:
        chosen, weight = parse_mode(DEFAULT_MODE)
        folder = lexical_folder(store, collection, settings.cache_dir)
        if chosen != "dense" and (folder is None or not LexicalIndex(folder).exists()):
            chosen, weight = "dense", None
            notes.append("no BM25 index beside this collection: dense retrieval only")
    else:
        chosen, weight = parse_mode(mode)
    client = open_client(store) if chosen in ("dense", "hybrid") else None
    try:
        retriever = _retriever(client, store, collection, chosen, model, backend, settings, notes)
    except BaseException:
        if client is not None:
            client.close()
        raise
    retriever.weight = weight if chosen == "hybrid" else None
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
    mode: str | None = None,
    k: int = 20,
    top_n: int = 5,
    reranker: str | None = "auto",
    llm: str | None = "extractive",
    llm_url: str | None = None,
    llm_key: str | None = None,
    max_tokens: int = 256,
    where: Where | None = None,
    settings: Settings | None = None,
    on_text: Callable[[str], None] | None = None,
) -> AskResult:
    """Answer ``question`` from a collection indexed by ``lembed index`` (the Python API of
    ``lembed ask``). ``mode``: dense, bm25, hybrid, hybrid:W or None (the default mode, see
    :func:`open_retriever`). ``reranker``: a name, ``"auto"`` (the first catalog reranker
    present) or ``None``/``"none"``; ``llm``: ``extractive`` (no language model), ``local``
    (SmolLM2-135M), ``local:PATH.gguf``, ``ollama:MODEL``, ``openai:MODEL`` or ``None`` to
    stop at the ranked context. The timing's ``load`` counts loading every model."""
    settings = settings or Settings()
    t0 = time.perf_counter()
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
        kind = (llm or "").strip().lower()
        generator = None
        if kind and kind != "extractive":
            generator = load_generator(kind, url=llm_url, api_key=llm_key, settings=settings)
        embedder = None
        if kind == "extractive" or getattr(generator, "check_citations", False):
            embedder = retriever.model or _embedding_model(model, backend, settings)
        load_seconds = time.perf_counter() - t0
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
            extractive=embedder,
        )
        result.timings.load = load_seconds
    finally:
        retriever.close()
    if note:  # the auto note says more than the generic one
        result.notes = [n for n in result.notes if not n.startswith("no reranker:")]
    result.notes[:0] = notes + ([note] if note else [])
    return result


def _embedding_model(
    model: str | EmbeddingModel | None, backend: str | None, settings: Settings
) -> EmbeddingModel:
    """The model for extractive answers when retrieval needed none (``--mode bm25``)."""
    if isinstance(model, EmbeddingModel):
        return model
    from lembed.engine.load import load_model

    return load_model(model, backend=backend, settings=settings)
