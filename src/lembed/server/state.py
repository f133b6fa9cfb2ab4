"""What every route needs: the model pool, the limits, the metrics."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema

from lembed.engine.batcher import Batcher
from lembed.engine.cross_encoder import ServedCrossEncoder
from lembed.engine.pool import INPUT_TYPE_ALIASES, ModelPool
from lembed.errors import PayloadTooLargeError
from lembed.server.metrics import Metrics
from lembed.settings import default

# Request field types. The schema documents what the server accepts (non-blank texts, at
# least one input); validation of those rules happens in the engine, with its own messages.
# "Not blank" as Python's str.strip() sees it (ECMA's \S differs: it counts U+FEFF as space
# and U+001C-U+001F, U+0085 as text), so the schema and the server agree on every string.
PY_SPACE = (
    "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
)
TEXT_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "pattern": f"[^{PY_SPACE}]"}
Text = Annotated[str, WithJsonSchema(TEXT_SCHEMA)]
TEXTS_SCHEMA: dict[str, Any] = {"type": "array", "items": TEXT_SCHEMA, "minItems": 1}
Texts = Annotated[list[str], WithJsonSchema(TEXTS_SCHEMA)]


def _integral(value: Any) -> Any:
    """JSON Schema's "integer" includes 6.0: take it as 6 (strict mode would refuse it)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Integer = Annotated[int, BeforeValidator(_integral)]  # strict, but 6.0 is an integer
Dimensions = Annotated[
    Integer | None,
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}),
]


def _known_input_type(value: str | None) -> str | None:
    """Refuse an unknown input_type while the request is parsed, before any route checks a
    model's capabilities (the engine maps the value, as leniently: case and spaces)."""
    if value is not None and value.strip().lower() not in INPUT_TYPE_ALIASES:
        raise ValueError(f"must be one of {', '.join(INPUT_TYPE_ALIASES)}, not {value!r}")
    return value


# The input_type / prompt_name values the engine maps; anything else is refused.
InputTypeName = Annotated[
    str | None,
    AfterValidator(_known_input_type),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "enum": list(INPUT_TYPE_ALIASES)}, {"type": "null"}]}
    ),
]
ModelName = Annotated[str, Field(min_length=1)]
# Request bodies are validated strictly: no "true" or 0 for a boolean, no "5" for a number.
STRICT = ConfigDict(strict=True)


@dataclass(frozen=True)
class ServerConfig:
    """Limits and access settings of one server."""

    api_key: str | None = None
    max_inputs: int = default("max_inputs")  # inputs per request (OpenAI's limit)
    max_body_bytes: int = default("max_body_bytes")  # TEI's default payload limit
    public_metrics: bool = default("public_metrics")  # serve /metrics without the API key
    auto_truncate: bool = False  # TEI's --auto-truncate: TEI requests that don't say truncate


@dataclass
class ServerState:
    pool: ModelPool
    config: ServerConfig
    metrics: Metrics = field(default_factory=Metrics)
    started: float = field(default_factory=time.time)
    reranker: ServedCrossEncoder | None = None  # the cross-encoder of the rerank routes

    @property
    def batchers(self) -> list[Batcher]:
        """Every dynamic batcher of this server: the models', then the reranker's."""
        found = [b for s in self.pool.served for b in s.batchers]  # task batchers too
        return found + ([self.reranker.batcher] if self.reranker is not None else [])

    @property
    def healthy(self) -> bool:
        return self.pool.healthy and (self.reranker is None or self.reranker.alive)

    async def start(self) -> None:
        await self.pool.start()
        if self.reranker is not None:
            self.reranker.start()

    async def stop(self) -> None:
        await self.pool.stop()
        if self.reranker is not None:
            await self.reranker.stop()

    def check_count(self, items: Sequence[Any]) -> None:
        if len(items) > self.config.max_inputs:
            raise PayloadTooLargeError(
                f"too many inputs: {len(items)} in one request, the limit is "
                f"{self.config.max_inputs}",
                param="input",
            )


async def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.lembed
    return state


class FastJSON(Response):
    """JSON via orjson: numpy arrays serialised directly, much faster than json.dumps."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def timing_headers(seconds: float, tokens: int) -> dict[str, str]:
    return {"x-compute-time": f"{seconds * 1000:.2f}", "x-compute-tokens": str(tokens)}


State = Annotated[ServerState, Depends(state_of)]
