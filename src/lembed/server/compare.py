"""``POST /v1/compare``: embed a few texts and answer their similarity matrix, with each
text's token count and whether it was cut to the model's window (the console's playground).

Similarity is computed on the vectors as a client would receive them: ``float32`` and
``int8`` by cosine, ``binary`` by Hamming similarity (1 - 2 * differing bits / bits), so the
matrix shows what a smaller Matryoshka size or a coarser dtype does to the ranking.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from lembed.server.errors import OPENAI_ERRORS
from lembed.server.state import (
    TEXTS_SCHEMA,
    Dimensions,
    FastJSON,
    InputTypeName,
    ModelName,
    State,
)

router = APIRouter(tags=["collections"], responses=OPENAI_ERRORS)

CompareDtype = Literal["float32", "int8", "binary"]
MAX_TEXTS = 64
# Texts' schema plus the upper bound (Texts' WithJsonSchema would hide a max_length)
CompareTexts = Annotated[
    list[str],
    Field(max_length=MAX_TEXTS),
    WithJsonSchema({**TEXTS_SCHEMA, "maxItems": MAX_TEXTS}),
]


class CompareRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        json_schema_extra={  # binary packs 8 dimensions a byte (the engine refuses others)
            "anyOf": [
                {"properties": {"dtype": {"enum": ["float32", "int8"]}}},
                {"properties": {"dimensions": {"anyOf": [{"multipleOf": 8}, {"type": "null"}]}}},
            ]
        },
    )

    input: CompareTexts = Field(description=f"1 to {MAX_TEXTS} texts")
    model: ModelName | None = Field(None, description="a served model (default: the first)")
    input_type: InputTypeName = Field(None, description="query | document | none (prefix)")
    dimensions: Dimensions = Field(None, description="Matryoshka dimensions")
    dtype: CompareDtype = "float32"
    truncate: bool = Field(True, description="cut inputs to the window (else an error)")


class CompareResponse(BaseModel):
    model: str
    dimensions: int
    dtype: CompareDtype
    window: int = Field(description="the model's context window in tokens")
    matrix: list[list[float]]
    tokens: list[int] = Field(description="tokens of each input as embedded")
    truncated: list[bool]


def similarity(vectors: np.ndarray, dtype: CompareDtype, dims: int) -> np.ndarray:
    """Pairwise similarity of ``vectors`` in their output ``dtype``."""
    if dtype == "binary":
        bits = np.unpackbits((vectors.astype(np.int16) + 128).astype(np.uint8), axis=1)[:, :dims]
        signs = bits.astype(np.float32) * 2 - 1  # agreement - disagreement, over dims
        return np.asarray(signs @ signs.T / dims, dtype=np.float32)
    x = vectors.astype(np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.clip(norms, 1e-12, None)
    return np.asarray(x @ x.T, dtype=np.float32)


@router.post("/v1/compare", response_model=CompareResponse)
async def compare(body: CompareRequest, state: State) -> FastJSON:
    """The similarity matrix of ``input`` under one model, dimensions and dtype."""
    served = state.pool.get(body.model)
    result = await state.pool.embed(
        served.model.name,
        body.input,
        input_type=body.input_type,
        truncate="right" if body.truncate else "error",
        dimensions=body.dimensions,
        dtype=body.dtype,
    )
    dims = body.dimensions or served.model.dim
    matrix = similarity(np.asarray(result.vectors), body.dtype, dims)
    cut = set(result.truncated)
    return FastJSON(
        {
            "model": served.model.name,
            "dimensions": dims,
            "dtype": body.dtype,
            "window": served.model.spec.max_tokens,
            "matrix": np.round(matrix.astype(np.float64), 5).tolist(),
            "tokens": result.token_counts,
            "truncated": [i in cut for i in range(len(body.input))],
        }
    )
