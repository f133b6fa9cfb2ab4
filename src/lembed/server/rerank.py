"""Reranking over HTTP: TEI's ``POST /rerank`` and the Cohere/Infinity ``POST /v1/rerank``.

Both score (query, text) pairs with the server's cross-encoder (``lembed serve
--reranker NAME``) through its dynamic batcher — concurrent requests share forward passes,
under the same queue bounds as the embedding models, so overload is answered at once — and
answer best first. Errors come out in the route's dialect like every other route's (TEI
``{"error", "error_type"}``, OpenAI-style ``{"error": {...}}`` under ``/v1``); a server
started without a reranker answers 404.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, WithJsonSchema

from lembed.engine.cross_encoder import Ranked, ServedCrossEncoder, rank
from lembed.errors import ModelNotFoundError
from lembed.runtime.tokenizer import check_unicode
from lembed.server.errors import OPENAI_ERRORS, TEI_ERRORS
from lembed.server.state import STRICT, FastJSON, Integer, State, Text, Texts, timing_headers

router = APIRouter(tags=["rerank"])


class TEIRerankRequest(BaseModel):
    model_config = STRICT

    query: Text
    texts: Texts
    raw_scores: bool = Field(False, description="logits instead of sigmoid scores in (0, 1)")
    return_text: bool = False
    truncate: bool = Field(False, description="cut pairs over the window instead of a 413")
    truncation_direction: Literal["Right", "Left", "right", "left"] = "Right"
    model: str | None = Field(None, description="lembed extension: the served reranker's name")


class TEIRank(BaseModel):
    index: int
    score: float
    text: str | None = None


class RerankRequest(BaseModel):
    model_config = STRICT

    query: Text
    documents: Texts
    top_n: (
        Annotated[Integer, Field(ge=1), WithJsonSchema({"type": "integer", "minimum": 1})] | None
    ) = Field(None, description="keep the best N (default: all)")
    return_documents: bool = False
    model: str | None = None
    raw_scores: bool = Field(False, description="lembed extension: logits, not (0, 1) scores")
    truncate: bool = Field(True, description="lembed extension: false refuses over-long pairs")


class RerankDocument(BaseModel):
    text: str


class RerankResult(BaseModel):
    index: int
    relevance_score: float
    document: RerankDocument | None = None


class RerankUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class RerankResponse(BaseModel):
    object: Literal["rerank"] = "rerank"
    id: str
    model: str
    results: list[RerankResult]
    usage: RerankUsage
    created: int


def reranker_of(state: State, model: str | None) -> ServedCrossEncoder:
    served = state.reranker
    if served is None:
        raise ModelNotFoundError(
            "this server has no reranker: start it with `lembed serve --reranker NAME`"
        )
    if model is not None and not served.model.serves(model):
        raise ModelNotFoundError(f"reranker {model!r} is not served here; {served.model.name} is")
    return served


async def _rank(
    state: State,
    served: ServedCrossEncoder,
    query: str,
    texts: list[str],
    *,
    top_n: int | None = None,
    normalize: bool,
    **kw: Any,
) -> tuple[list[Ranked], float, int]:
    state.check_count(texts)
    check_unicode([query], "query")
    check_unicode(texts, "texts")
    start = time.perf_counter()
    scores, tokens = await served.score(query, texts, **kw)
    ranked = rank(scores, top_n=top_n, normalize=normalize)
    return ranked, time.perf_counter() - start, tokens


@router.post("/rerank", response_model=list[TEIRank], responses=TEI_ERRORS)
async def rerank_tei(body: TEIRerankRequest, state: State) -> FastJSON:
    reranker = reranker_of(state, body.model)
    ranked, seconds, tokens = await _rank(
        state,
        reranker,
        body.query,
        body.texts,
        normalize=not body.raw_scores,
        truncate=body.truncate,
        direction=body.truncation_direction.lower(),
    )
    rows = [
        {"index": r.index, "score": r.score}
        | ({"text": body.texts[r.index]} if body.return_text else {})
        for r in ranked
    ]
    return FastJSON(rows, headers=timing_headers(seconds, tokens))


@router.post("/v1/rerank", response_model=RerankResponse, responses=OPENAI_ERRORS)
async def rerank_v1(body: RerankRequest, state: State) -> FastJSON:
    reranker = reranker_of(state, body.model)
    ranked, seconds, tokens = await _rank(
        state,
        reranker,
        body.query,
        body.documents,
        top_n=body.top_n,
        normalize=not body.raw_scores,
        truncate=body.truncate,
    )
    results = [
        {"index": r.index, "relevance_score": r.score}
        | ({"document": {"text": body.documents[r.index]}} if body.return_documents else {})
        for r in ranked
    ]
    out = {
        "object": "rerank",
        "id": f"rerank-{uuid.uuid4().hex}",
        "model": reranker.model.name,
        "results": results,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        "created": int(time.time()),
    }
    return FastJSON(out, headers=timing_headers(seconds, tokens))
