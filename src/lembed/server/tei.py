"""The Hugging Face TEI dialect: /embed, /tokenize, /decode, /info."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, WithJsonSchema

from lembed import __version__
from lembed.engine.batching import Truncate, check_texts
from lembed.engine.pool import ServedModel, parse_input_type
from lembed.errors import ValidationError
from lembed.runtime.tokenizer import check_unicode
from lembed.server.errors import TEI_ERRORS
from lembed.server.state import (
    STRICT,
    Dimensions,
    FastJSON,
    InputTypeName,
    Integer,
    ModelName,
    ServerState,
    State,
    Text,
    Texts,
    timing_headers,
)

router = APIRouter(tags=["tei"], responses=TEI_ERRORS)

Direction = Literal["Right", "Left", "right", "left"]
TokenIds = Annotated[
    list[Integer], WithJsonSchema({"type": "array", "items": {"type": "integer", "minimum": 0}})
]


class TeiInputs(BaseModel):
    # The fields TEI's embedding routes share (/embed, /embed_sparse): the texts, their
    # truncation, the prompt and lembed's model choice. (No docstring: it would be the
    # subclasses' schema description.)
    model_config = STRICT

    inputs: Text | Texts
    truncate: bool | None = Field(
        None, description="default: false, or the server's --auto-truncate"
    )
    truncation_direction: Direction = "Right"
    prompt_name: InputTypeName = Field(
        None, description="query | document (passage): which of the model's prefixes to apply"
    )
    model: ModelName | None = Field(None, description="lembed extension: a served model name")


class EmbedRequest(TeiInputs):
    normalize: bool = True
    dimensions: Dimensions = None


class TokenizeRequest(BaseModel):
    model_config = STRICT

    inputs: Text | Texts
    add_special_tokens: bool = True
    prompt_name: InputTypeName = None
    model: ModelName | None = None


class SimpleToken(BaseModel):
    id: int
    text: str
    special: bool
    start: int | None
    stop: int | None


class DecodeRequest(BaseModel):
    model_config = STRICT

    ids: TokenIds | list[TokenIds]
    skip_special_tokens: bool = True
    model: ModelName | None = None


def truncation(truncate: bool | None, direction: Direction, state: ServerState) -> Truncate:
    """The engine's ``truncate`` for a TEI request: cut from ``direction`` when the request
    says so (else when the server runs with ``--auto-truncate``), otherwise refuse."""
    if state.config.auto_truncate if truncate is None else truncate:
        return "left" if direction.lower() == "left" else "right"
    return "error"


def served_texts(
    state: ServerState, name: str | None, inputs: object
) -> tuple[ServedModel, list[str]]:
    """The served model a TEI request names, and its texts checked (non-blank strings,
    within the server's count limit)."""
    served = state.pool.get(name)
    texts = check_texts(inputs)
    state.check_count(texts)
    return served, texts


@router.post("/embed", response_model=list[list[float]])
async def embed(body: EmbedRequest, state: State) -> FastJSON:
    texts = [body.inputs] if isinstance(body.inputs, str) else body.inputs
    state.check_count(texts)
    result = await state.pool.embed(
        body.model,
        texts,
        input_type=body.prompt_name,
        truncate=truncation(body.truncate, body.truncation_direction, state),
        dimensions=body.dimensions,
        normalize=body.normalize,
    )
    return FastJSON(result.vectors, headers=timing_headers(result.seconds, result.prompt_tokens))


@router.post("/tokenize", response_model=list[list[SimpleToken]])
async def tokenize(body: TokenizeRequest, state: State) -> FastJSON:
    served, texts = served_texts(state, body.model, body.inputs)
    model = served.model
    check_unicode(texts, "input")
    if body.prompt_name is not None:
        texts = model.with_prefix(texts, parse_input_type(body.prompt_name, "none"))
    out = []
    for text in texts:
        enc = model.tokenizer.tokens(text, add_special_tokens=body.add_special_tokens)
        special = {i for i, flag in enumerate(enc.special_tokens_mask) if flag}
        out.append(
            [
                {
                    "id": tid,
                    "text": tok,
                    "special": i in special,
                    "start": None if i in special else start,
                    "stop": None if i in special else stop,
                }
                for i, (tid, tok, (start, stop)) in enumerate(
                    zip(enc.ids, enc.tokens, enc.offsets, strict=True)
                )
            ]
        )
    return FastJSON(out)


@router.post("/decode", response_model=list[str])
async def decode(body: DecodeRequest, state: State) -> list[str]:
    model = state.pool.get(body.model).model
    rows: list[list[int]] = body.ids if body.ids and isinstance(body.ids[0], list) else [body.ids]  # type: ignore[list-item]
    vocab = model.tokenizer.vocab_size
    for i, ids in enumerate(rows):
        if any(not 0 <= t < vocab for t in ids):
            raise ValidationError(f"ids[{i}] has a token id outside 0..{vocab - 1}", param="ids")
    return [
        model.tokenizer.decode(ids, skip_special_tokens=body.skip_special_tokens) for ids in rows
    ]


@router.get("/info")
async def info(state: State) -> dict[str, Any]:
    served = state.pool.default
    model = served.model
    return {
        "model_id": model.spec.hf_id,
        "model_sha": None,
        "model_dtype": "float32",
        "backend": model.backend.name,
        "model_type": {"embedding": {"pooling": model.spec.pooling}},
        "max_concurrent_requests": state.pool.default.batcher.max_queue,
        "max_input_length": model.max_tokens,
        "max_batch_tokens": model.batch_tokens,
        "max_batch_requests": model.max_batch_size,
        "max_client_batch_size": state.config.max_inputs,
        "auto_truncate": state.config.auto_truncate,
        "tokenization_workers": 1,
        "version": __version__,
        "served_models": [s.model.name for s in state.pool.served],
        "default_input_type": served.input_type,
    }
