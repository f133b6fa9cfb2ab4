"""TEI's ``POST /embed_sparse``: a model's sparse lexical weights, ``[[{"index", "value"}]]``.

TEI serves SPLADE models here; lembed serves the models whose catalog entry has a
``sparse`` head (bge-m3: its lexical weights, ``relu(sparse_linear(hidden))`` max-pooled
per token id, special tokens dropped). ``index`` is a token id of the model's tokenizer,
``value`` its weight; pairs come in ascending ``index`` order and only with ``value > 0``.
The score of two sparse embeddings is their dot product.

A model without a sparse head answers TEI's 424 (as TEI does for non-SPLADE models). The
inputs run outside the dense batcher, one request at a time per thread, in the model's
own token-budget batches.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from lembed.engine.pool import parse_input_type
from lembed.errors import BackendError
from lembed.server.errors import TEI_ERRORS
from lembed.server.state import (
    FastJSON,
    State,
    timing_headers,
)
from lembed.server.tei import TeiInputs, served_texts, truncation

router = APIRouter(tags=["tei"], responses=TEI_ERRORS)


class EmbedSparseRequest(TeiInputs):
    pass  # /embed's fields without its dense options (a docstring would enter the schema)


class SparseValue(BaseModel):
    index: int = Field(description="a token id of the model's tokenizer")
    value: float = Field(description="its lexical weight (> 0)")


class NoSparseHeadError(BackendError):
    """The served model has no sparse output (TEI: 424, as for a non-SPLADE model)."""

    code = "no_sparse_output"


@router.post("/embed_sparse", response_model=list[list[SparseValue]])
async def embed_sparse(body: EmbedSparseRequest, state: State) -> FastJSON:
    served, texts = served_texts(state, body.model, body.inputs)
    model = served.model
    if "sparse" not in model.spec.outputs:
        with_sparse = [s.model.name for s in state.pool.served if "sparse" in s.model.spec.outputs]
        raise NoSparseHeadError(
            f"{model.name} has no sparse output; models with one: bge-m3"
            + (f" (served here: {', '.join(with_sparse)})" if with_sparse else "")
        )
    result = await state.pool.embed_outputs(
        body.model,
        texts,
        input_type=parse_input_type(body.prompt_name, served.input_type),
        truncate=truncation(body.truncate, body.truncation_direction, state),
        output="sparse",
    )
    out = [
        [{"index": int(i), "value": float(v)} for i, v in zip(s.indices, s.values, strict=True)]
        for s in result.sparse or []
    ]
    return FastJSON(out, headers=timing_headers(result.seconds, result.prompt_tokens))
