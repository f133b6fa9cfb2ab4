"""Routes other servers have and clients call: Ollama's ``POST /api/pull``, Infinity's
unprefixed ``/embeddings`` and ``/models``, TEI's ``/embed_all`` and ``/similarity``.

- ``/api/pull`` runs ``lembed pull`` (the Hugging Face hub, into its cache) and streams
  Ollama's status lines (``pulling manifest`` … ``success``) as NDJSON, or one JSON object
  with ``"stream": false``; a failed download (offline, unknown repo) is Ollama's
  ``{"error": ...}`` — a status line in the stream, the HTTP status otherwise. A model
  already on this machine answers ``success`` at once. A pulled model is served after a
  restart with ``-m NAME``.
- ``/embeddings``, ``/models``: the OpenAI routes under the paths Infinity also answers.
- ``/embed_all``: TEI's token embeddings, the model's last hidden state per token
  (special tokens included, no pooling, no normalisation).
- ``/similarity``: TEI's sentence similarity, the cosine of ``source_sentence`` with each
  of ``sentences``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from lembed.engine.batching import check_texts
from lembed.engine.pool import parse_input_type
from lembed.errors import LembedError, ValidationError
from lembed.server import openai
from lembed.server.errors import OLLAMA_ERRORS, OPENAI_ERRORS, TEI_ERRORS
from lembed.server.state import (
    PY_SPACE,
    STRICT,
    FastJSON,
    InputTypeName,
    ModelName,
    State,
    Text,
    Texts,
)
from lembed.server.tei import Direction, truncation

router = APIRouter()

router.add_api_route(
    "/embeddings",
    openai.embeddings,
    methods=["POST"],
    response_model=openai.EmbeddingsResponse,
    tags=["openai"],
    responses=OPENAI_ERRORS,
    summary="Embeddings (Infinity's path, without /v1)",
)
router.add_api_route(
    "/models", openai.models, methods=["GET"], tags=["openai"], summary="Models (Infinity)"
)


# -- Ollama: POST /api/pull -----------------------------------------------------------------


def _pull_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise ValueError("a model name must not be blank")
    if name.startswith((".", "/", "~")):
        raise ValueError(f"{name!r} is a path: pull takes a model name or an HF id")
    return name


# A name to pull, in either field: not blank, and not a path once stripped.
PullName = Annotated[
    str,
    AfterValidator(_pull_name),
    WithJsonSchema({"type": "string", "pattern": f"^[{PY_SPACE}]*[^./~{PY_SPACE}]"}),
]


class PullRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        json_schema_extra={  # one of the two names is required
            "anyOf": [
                {"required": [key], "properties": {key: {"type": "string"}}}
                for key in ("model", "name")
            ]
        },
    )

    model: PullName | None = None
    name: PullName | None = Field(None, description="older clients' name for model")
    insecure: bool = False
    stream: bool = True


def _pull(name: str) -> str:
    """Pull ``name`` unless it is already here; the folder it is in."""
    from lembed.errors import ModelNotFoundError
    from lembed.models.pull import pull
    from lembed.models.resolve import resolve

    if name.startswith((".", "/", "~")):
        raise ValidationError(f"{name!r} is a path: pull takes a model name or an HF id")
    try:
        return str(resolve(name, allow_paths=False).path)
    except ModelNotFoundError:
        return str(pull(name))


def _line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj) + b"\n"


@router.post(
    "/api/pull",
    tags=["ollama"],
    responses={
        **OLLAMA_ERRORS,
        200: {
            "content": {"application/json": {}, "application/x-ndjson": {}},
            "description": 'with "stream" (the default) NDJSON status lines, as Ollama streams '
            'them; else one {"status": "success"}',
        },
    },
)
async def pull_model(body: PullRequest, state: State) -> Any:
    name = (body.model or body.name or "").strip()
    if not name:
        raise ValidationError("model is required", param="model")
    if not body.stream:
        await asyncio.to_thread(_pull, name)
        return {"status": "success"}

    async def lines() -> AsyncIterator[bytes]:
        yield _line({"status": "pulling manifest"})
        try:
            await asyncio.to_thread(_pull, name)
        except LembedError as exc:
            yield _line({"error": exc.message})
            return
        yield _line({"status": "verifying sha256 digest"})
        yield _line({"status": "writing manifest"})
        yield _line({"status": "success"})

    return StreamingResponse(lines(), media_type="application/x-ndjson")


# -- TEI: POST /embed_all, POST /similarity --------------------------------------------------


class EmbedAllRequest(BaseModel):
    model_config = STRICT

    inputs: Text | Texts
    truncate: bool | None = None
    truncation_direction: Direction = "Right"
    prompt_name: InputTypeName = None
    model: ModelName | None = Field(None, description="lembed extension: a served model name")


class SimilarityInputs(BaseModel):
    model_config = STRICT

    source_sentence: Text
    sentences: Texts


class SimilarityRequest(BaseModel):
    model_config = STRICT

    inputs: SimilarityInputs
    truncate: bool | None = None
    truncation_direction: Direction = "Right"
    prompt_name: InputTypeName = None
    model: ModelName | None = Field(None, description="lembed extension: a served model name")


TokenVectors = list[list[list[float]]]


@router.post("/embed_all", tags=["tei"], responses=TEI_ERRORS, response_model=TokenVectors)
async def embed_all(body: EmbedAllRequest, state: State) -> FastJSON:
    served = state.pool.get(body.model)
    model = served.model
    texts = check_texts(body.inputs)
    state.check_count(texts)
    encoded = model.encode(
        texts,
        input_type=parse_input_type(body.prompt_name, served.input_type),
        truncate=truncation(body.truncate, body.truncation_direction, state),
    )

    def hidden_states() -> list[np.ndarray]:
        backend = model.backend_for(encoded.task)
        out = []
        for enc in encoded.encodings:  # one at a time: no padding rows to cut off
            hidden = backend.forward(model.tokenizer.pad([enc]))
            out.append(np.asarray(hidden[0, : len(enc.ids)], dtype=np.float32))
        return out

    rows = await asyncio.to_thread(hidden_states)
    if state.pool.on_embedded is not None:  # counted where the pool counts its embeddings
        state.pool.on_embedded(model.name, sum(len(enc.ids) for enc in encoded.encodings))
    return FastJSON(rows)


@router.post("/similarity", tags=["tei"], responses=TEI_ERRORS, response_model=list[float])
async def similarity(body: SimilarityRequest, state: State) -> FastJSON:
    sentences = check_texts(body.inputs.sentences)
    texts = [body.inputs.source_sentence, *sentences]
    state.check_count(texts)
    result = await state.pool.embed(
        body.model,
        texts,
        input_type=body.prompt_name,
        truncate=truncation(body.truncate, body.truncation_direction, state),
    )
    vectors = np.asarray(result.vectors, dtype=np.float32)  # unit length
    return FastJSON([float(s) for s in vectors[1:] @ vectors[0]])
