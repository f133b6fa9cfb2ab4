"""Liveness, readiness and metrics: GET /, GET /health, GET /metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from lembed.server.errors import UnhealthyError, render
from lembed.server.state import State

router = APIRouter(tags=["health"])


@router.get("/", response_class=PlainTextResponse)
async def root() -> str:
    return "lembed is running"


@router.get("/health", responses={503: {"description": "the inference worker is down"}})
async def health(state: State) -> Response:
    """200 when every model's batching worker is alive, else 503 (readiness fails)."""
    if state.pool.healthy:
        return Response(status_code=200)
    return render(UnhealthyError("the inference worker is not running"), "tei")


async def metrics(state: State) -> Response:
    """Prometheus text format."""
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
