"""The Ollama dialect: /api/embed, /api/embeddings, /api/tags, /api/show, /api/ps, /api/version."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from lembed import __version__
from lembed.engine.model import EmbeddingModel
from lembed.models.architecture import architecture
from lembed.server.errors import OLLAMA_ERRORS
from lembed.server.state import (
    STRICT,
    Dimensions,
    FastJSON,
    InputTypeName,
    ModelName,
    State,
    Text,
    Texts,
    timing_headers,
)

router = APIRouter(tags=["ollama"], responses=OLLAMA_ERRORS)


class EmbedRequest(BaseModel):
    model_config = STRICT

    model: ModelName
    input: Text | Texts
    truncate: bool = Field(True, description="cut inputs to the model's window (else error)")
    dimensions: Dimensions = Field(None, description="Matryoshka dimensions")
    keep_alive: str | float | None = Field(None, description="accepted; models stay loaded")
    options: dict[str, Any] | None = Field(
        None, description="accepted; `input_type` here also picks the prefix"
    )
    input_type: InputTypeName = Field(
        None, description="lembed extension: query | document | none (prefix to apply)"
    )


class EmbedResponse(BaseModel):
    model: str
    embeddings: list[list[float]]
    total_duration: int
    load_duration: int
    prompt_eval_count: int


class LegacyEmbedRequest(BaseModel):
    model_config = STRICT

    model: ModelName
    prompt: Text
    keep_alive: str | float | None = None
    options: dict[str, Any] | None = None
    input_type: InputTypeName = None


class LegacyEmbedResponse(BaseModel):
    embedding: list[float]


class ShowRequest(BaseModel):
    model_config = STRICT

    model: ModelName | None = None
    name: ModelName | None = Field(None, description="older clients send `name`")


def _input_type(explicit: str | None, options: dict[str, Any] | None) -> str | None:
    if explicit is not None:
        return explicit
    value = (options or {}).get("input_type")
    return str(value) if value is not None else None


@router.post("/api/embed", response_model=EmbedResponse)
async def embed(body: EmbedRequest, state: State) -> FastJSON:
    start = time.perf_counter()
    texts = [body.input] if isinstance(body.input, str) else body.input
    state.check_count(texts)
    result = await state.pool.embed(
        body.model,
        texts,
        input_type=_input_type(body.input_type, body.options),
        truncate="right" if body.truncate else "error",
        dimensions=body.dimensions,
    )
    content = {
        "model": body.model,
        "embeddings": result.vectors,
        "total_duration": int((time.perf_counter() - start) * 1e9),
        "load_duration": 0,
        "prompt_eval_count": result.prompt_tokens,
    }
    return FastJSON(content, headers=timing_headers(result.seconds, result.prompt_tokens))


@router.post("/api/embeddings", response_model=LegacyEmbedResponse)
async def embeddings(body: LegacyEmbedRequest, state: State) -> FastJSON:
    result = await state.pool.embed(
        body.model, [body.prompt], input_type=_input_type(body.input_type, body.options)
    )
    return FastJSON(
        {"embedding": result.vectors[0]},
        headers=timing_headers(result.seconds, result.prompt_tokens),
    )


def _family(model: EmbeddingModel) -> str:
    """The architecture (``bert`` for all-minilm, ``nomic-bert``...), as Ollama reports it."""
    return architecture(model.resolved.path) or model.spec.name.split("-")[0]


def _details(model: EmbeddingModel) -> dict[str, Any]:
    spec = model.spec
    return {
        "parent_model": "",
        "format": model.backend.name,
        "family": _family(model),
        "families": [_family(model)],
        "parameter_size": f"{spec.params_m:g}M" if spec.params_m else "",
        "quantization_level": "F32",
    }


def _entry(model: EmbeddingModel, loaded_at: float) -> dict[str, Any]:
    return {
        "name": model.name,
        "model": model.name,
        "modified_at": datetime.fromtimestamp(loaded_at, UTC).isoformat(),
        "size": model.spec.size_mb * 1_000_000,
        "digest": model.resolved.path.name,
        "details": _details(model),
    }


@router.get("/api/tags")
async def tags(state: State) -> dict[str, Any]:
    return {"models": [_entry(s.model, s.loaded_at) for s in state.pool.served]}


@router.get("/api/ps")
async def ps(state: State) -> dict[str, Any]:
    models = []
    for served in state.pool.served:
        entry = _entry(served.model, served.loaded_at)
        entry.update(expires_at="9999-12-31T23:59:59Z", size_vram=0)
        models.append(entry)
    return {"models": models}


@router.post("/api/show")
async def show(body: ShowRequest, state: State) -> dict[str, Any]:
    served = state.pool.get(body.model or body.name or "")
    model = served.model
    spec = model.spec
    return {
        "license": spec.license,
        "modelfile": f"# served by lembed\nFROM {spec.hf_id}\n",
        "parameters": f"num_ctx {model.max_tokens}",
        "template": "",
        "details": _details(model),
        "model_info": {
            "general.architecture": _family(model),
            "general.basename": spec.hf_id,
            "embedding_length": model.dim,
            "context_length": model.max_tokens,
            "pooling_type": spec.pooling,
            "lembed.query_prefix": spec.query_prefix,
            "lembed.document_prefix": spec.document_prefix,
            "lembed.default_input_type": served.input_type,
            "lembed.matryoshka_dims": list(spec.matryoshka_dims),
        },
        "capabilities": ["embedding"],
        "modified_at": datetime.fromtimestamp(served.loaded_at, UTC).isoformat(),
    }


@router.get("/api/version")
async def version() -> dict[str, str]:
    return {"version": __version__}
