"""Search and ask over HTTP: ``POST /v1/search`` (dense, bm25 or hybrid ranked chunks, each
with its best sentence) and ``POST /v1/ask`` (an answer streamed as NDJSON, with citations).

Both read the server's store (``lembed serve --store``) with the model the collection was
indexed with, which the server must serve.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from lembed.engine.pool import ModelPool
from lembed.errors import LembedError
from lembed.rag.pipeline import AskResult, answer, open_retriever
from lembed.server.collections import (
    COLLECTION_LIMITS,
    StoreConfig,
    chunk_json,
    client_of,
    info_of,
    served_for,
    store_config,
    store_lock,
)
from lembed.server.errors import OPENAI_ERRORS
from lembed.server.state import STRICT, FastJSON, Integer, State
from lembed.stores import DEFAULT_COLLECTION, CollectionInfo, Hit

router = APIRouter(tags=["collections"], responses=OPENAI_ERRORS)

Mode = Literal["dense", "bm25", "hybrid"]
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n{2,}")


class SearchRequest(BaseModel):
    model_config = STRICT

    query: str = Field(min_length=1, pattern=r"\S", description="what to look for")
    collection: str = Field(DEFAULT_COLLECTION, **COLLECTION_LIMITS)
    mode: Mode = "dense"
    k: Integer = Field(10, ge=1, le=100, description="number of hits")


class SearchHit(BaseModel):
    rank: int
    id: str
    score: float
    source: str
    page: int | str | None = None
    chunk: int | None = None
    text: str
    best_sentence: str | None = Field(None, description="the sentence closest to the query")
    metadata: dict[str, str | int | float | bool]


class SearchResponse(BaseModel):
    collection: str
    model: str
    mode: Mode
    hits: list[SearchHit]
    notes: list[str]
    timings_ms: dict[str, float]


class AskRequest(BaseModel):
    model_config = STRICT

    question: str = Field(min_length=1, pattern=r"\S")
    collection: str = Field(DEFAULT_COLLECTION, **COLLECTION_LIMITS)
    mode: Mode = "dense"
    k: Integer = Field(20, ge=1, le=100, description="passages retrieved")
    top_n: Integer = Field(5, ge=1, le=20, description="passages the answer is drawn from")
    max_tokens: Integer = Field(256, ge=1, le=2048)


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (on . ! ? before a capital, or a blank line), as they are
    written (so a client can find them in the text); pieces under 3 words (headings) only
    when there is nothing else."""
    pieces = [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]
    long = [s for s in pieces if len(s.split()) >= 3]
    return long or pieces


async def best_sentences(
    pool: ModelPool, model: str, query: str, texts: Sequence[str]
) -> list[tuple[str, float]]:
    """For each text, its sentence most similar to ``query`` and that cosine."""
    pieces = [sentences(t) or [t] for t in texts]
    flat = [s for group in pieces for s in group]
    if not flat:
        return []
    q = await pool.embed(model, [query], input_type="query", truncate="right")
    docs = await pool.embed(model, flat, input_type="document", truncate="right")
    sims = np.asarray(docs.vectors, dtype=np.float32) @ np.asarray(q.vectors[0], np.float32)
    out: list[tuple[str, float]] = []
    start = 0
    for group in pieces:
        part = sims[start : start + len(group)]
        best = int(np.argmax(part))
        out.append((group[best], float(part[best])))
        start += len(group)
    return out


def _retrieve(
    config: StoreConfig, state: Any, collection: str, mode: Mode, query: str, k: int
) -> tuple[str, list[Hit], list[str], dict[str, float]]:
    with store_lock(config):
        with client_of(config) as client:
            info = info_of(client, collection)
        served = served_for(state, info)
        retriever, notes = open_retriever(
            store=config.store,
            collection=collection,
            mode=mode,
            model=served.model,
            backend=None,
            settings=config.settings,
        )
        try:
            found = retriever.retrieve(query, k)
        finally:
            retriever.close()
    timings = {"embed": found.embed_seconds * 1000, "search": found.search_seconds * 1000}
    return served.model.name, found.hits, notes + found.notes, timings


@router.post("/v1/search", response_model=SearchResponse)
async def search(body: SearchRequest, request: Request, state: State) -> FastJSON:
    """The ``k`` chunks of a collection that best match ``query`` (best first)."""
    config = store_config(request)
    model, hits, notes, timings = await asyncio.to_thread(
        _retrieve, config, state, body.collection, body.mode, body.query, body.k
    )
    t0 = time.perf_counter()
    best = await best_sentences(state.pool, model, body.query, [h.text for h in hits])
    timings["best_sentence"] = (time.perf_counter() - t0) * 1000
    out = []
    for rank, (hit, (sentence, _)) in enumerate(zip(hits, best, strict=True), start=1):
        item = chunk_json(hit)
        item.update(rank=rank, score=round(hit.score, 6), best_sentence=sentence)
        out.append(item)
    return FastJSON(
        {
            "collection": body.collection,
            "model": model,
            "mode": body.mode,
            "hits": out,
            "notes": notes,
            "timings_ms": {k: round(v, 2) for k, v in timings.items()},
        }
    )


def _line(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE)


@router.post(
    "/v1/ask",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {}},
            "description": 'NDJSON events: {"type": "text", "text"} pieces of the answer as '
            'they come, then {"type": "done", "answer", "citations", "sources", ...} '
            '(or {"type": "error", "error"})',
        }
    },
)
async def ask(body: AskRequest, request: Request, state: State) -> StreamingResponse:
    """Answer ``question`` from a collection, citing passages as [n]. Without a generator
    (``lembed serve --llm``) the answer is extractive (:mod:`lembed.rag.extractive`): the
    retrieved passages' sentences closest to the question, each with its citation."""
    config = store_config(request)

    def lookup() -> CollectionInfo:
        with client_of(config) as client:
            return info_of(client, body.collection)

    info = await asyncio.to_thread(lookup)  # errors before the stream starts keep their status
    served = served_for(state, info)
    reranker = state.reranker.model if state.reranker is not None else None
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def push(piece: str) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, piece)

    def run() -> AskResult:
        try:
            with store_lock(config):  # the store while retrieving, not while generating
                retriever, notes = open_retriever(
                    store=config.store,
                    collection=body.collection,
                    mode=body.mode,
                    model=served.model,
                    backend=None,
                    settings=config.settings,
                )
                try:
                    found = retriever.retrieve(body.question, body.k)
                finally:
                    retriever.close()
            result = answer(
                body.question,
                found,
                k=body.k,
                top_n=body.top_n,
                reranker=reranker,
                generator=_generator(config),
                max_tokens=body.max_tokens,
                on_text=push,
                extractive=served.model,  # the answer without a generator, or its fallback
            )
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)
        result.notes[:0] = notes
        return result

    async def events() -> AsyncIterator[bytes]:
        task = asyncio.ensure_future(asyncio.to_thread(run))
        while (piece := await queue.get()) is not None:
            yield _line({"type": "text", "text": piece})
        try:
            result = await task
            done = result.to_json()
            done.pop("prompt", None)
            yield _line({"type": "done", "model": served.model.name, **done})
        except LembedError as exc:
            yield _line({"type": "error", "error": exc.message})
        except Exception:  # never a stack trace to the client
            yield _line({"type": "error", "error": "internal server error"})

    return StreamingResponse(events(), media_type="application/x-ndjson")


_GENERATORS: dict[str, Any] = {}
_GENERATORS_LOCK = threading.Lock()  # two first asks load the model once


def _generator(config: StoreConfig) -> Any:
    if not config.llm or config.llm == "extractive":
        return None
    with _GENERATORS_LOCK:
        if config.llm not in _GENERATORS:
            from lembed.rag.generators import load_generator

            _GENERATORS[config.llm] = load_generator(config.llm, settings=config.settings)
        return _GENERATORS[config.llm]
