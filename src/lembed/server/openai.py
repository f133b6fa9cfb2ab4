"""The OpenAI (and Infinity) dialect: POST /v1/embeddings, GET /v1/models."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from lembed.server.errors import OPENAI_ERRORS
from lembed.server.state import (
    TEXT_SCHEMA,
    TEXTS_SCHEMA,
    Dimensions,
    FastJSON,
    InputTypeName,
    Integer,
    ModelName,
    State,
    Text,
    Texts,
    timing_headers,
)
from lembed.server.token_ids import texts_of

_IDS = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1}
TokenIds = Annotated[list[Integer], WithJsonSchema(_IDS)]
TokenIdRows = Annotated[
    list[TokenIds], WithJsonSchema({"type": "array", "items": _IDS, "minItems": 1})
]

router = APIRouter(tags=["openai"], responses=OPENAI_ERRORS)


class EmbeddingsRequest(BaseModel):
    # strict, and token ids only with "tokenizer" (texts_of refuses them without it)
    model_config = ConfigDict(
        strict=True,
        json_schema_extra={
            "anyOf": [
                {"properties": {"input": {"anyOf": [TEXT_SCHEMA, TEXTS_SCHEMA]}}},
                {"required": ["tokenizer"], "properties": {"tokenizer": {"type": "string"}}},
            ]
        },
    )

    input: Text | Texts | TokenIds | TokenIdRows = Field(
        description="a text, texts, or token ids of this model's tokenizer"
    )
    model: ModelName
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Dimensions = None
    user: str | None = None
    input_type: InputTypeName = Field(
        None, description="lembed extension: query | document | none (prefix to apply)"
    )
    truncate: bool = Field(
        False, description="lembed extension: cut over-long inputs instead of an error"
    )
    tokenizer: str | None = Field(
        None,
        description="lembed extension: the model whose tokenizer made token-id inputs; they "
        "are refused without it (tiktoken ids would embed the wrong text)",
    )


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: Usage


@router.post("/v1/embeddings", response_model=EmbeddingsResponse)
async def embeddings(body: EmbeddingsRequest, state: State) -> FastJSON:
    served = state.pool.get(body.model)
    texts = texts_of(served, body.input, body.tokenizer, state.pool)
    state.check_count(texts)
    result = await state.pool.embed(
        body.model,
        texts,
        input_type=body.input_type,
        truncate="right" if body.truncate else "error",
        dimensions=body.dimensions,
    )
    vectors = result.vectors
    data: list[dict[str, Any]]
    if body.encoding_format == "base64":
        raw = np.ascontiguousarray(vectors, dtype="<f4")
        data = [
            {"object": "embedding", "index": i, "embedding": base64.b64encode(row).decode()}
            for i, row in enumerate(raw)
        ]
    else:
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    content = {
        "object": "list",
        "data": data,
        "model": body.model,
        "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
    }
    return FastJSON(content, headers=timing_headers(result.seconds, result.prompt_tokens))


@router.get("/v1/models")
async def models(state: State) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": s.model.name,
                "object": "model",
                "created": int(s.loaded_at),
                "owned_by": "lembed",
            }
            for s in state.pool.served
        ],
    }
