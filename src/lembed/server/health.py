"""Liveness, readiness and metrics: GET /, GET /health, GET /metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from lembed.server import console
from lembed.server.errors import TEIError, UnhealthyError, render
from lembed.server.state import State

router = APIRouter(tags=["health"])


@router.get(
    "/",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/html": {}}, "description": "text, or the console"}},
)
async def root(request: Request) -> Response:
    """``lembed is running`` (what Ollama's clients probe), or the web console's page when
    the client's Accept prefers HTML (a browser)."""
    if console.wants_html(request.headers.get("accept")):
        return console.page()
    return PlainTextResponse("lembed is running")


@router.head("/", include_in_schema=False)
async def root_head() -> Response:
    """Ollama's CLI probes ``HEAD /`` before each command; Ollama answers 200."""
    return PlainTextResponse("lembed is running")


class Healthy(BaseModel):
    status: Literal["ok"] = "ok"


@router.get(
    "/health",
    response_model=Healthy,
    responses={503: {"model": TEIError, "description": "the inference worker is down"}},
)
async def health(state: State) -> Response:
    """200 when every model's batching worker is alive, else 503 (readiness fails)."""
    if state.healthy:
        return JSONResponse({"status": "ok"})
    return render(UnhealthyError("the inference worker is not running"), "tei")


async def metrics(state: State) -> PlainTextResponse:
    """Prometheus text format."""
    return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4")
