"""Build the FastAPI app: one process speaking the Ollama, OpenAI and TEI dialects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse

from lembed import __version__
from lembed.engine.cross_encoder import CrossEncoder, ServedCrossEncoder
from lembed.engine.pool import ModelPool
from lembed.errors import AuthError
from lembed.server import errors, health, ollama, openai, parity, rerank, sparse, tei
from lembed.server.console import install as install_console
from lembed.server.fastpath import FastLane, fast_routes
from lembed.server.middleware import (
    AUTH_HINT,
    BodyLimit,
    DocsGuard,
    Receive,
    RequestMetrics,
    Scope,
    Send,
    key_matches,
)
from lembed.server.state import ServerConfig, ServerState


async def require_key(request: Request) -> None:
    """Bearer API key check (a no-op when the server has no key). Async: FastAPI would run
    a plain function in its thread pool, a thread hop on every request."""
    key = request.app.state.lembed.config.api_key
    if key is None:
        return
    header = request.headers.get("authorization", "").encode("latin-1")  # the raw bytes
    if not key_matches(header, key):
        raise AuthError(AUTH_HINT)


class LembedApp(FastAPI):
    """FastAPI, entered through the embedding routes' fast lane (:mod:`.fastpath`)."""

    lane: FastLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lane is not None:
            await self.lane(scope, receive, send)
        else:
            await self.full(scope, receive, send)

    async def full(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The whole FastAPI app: middleware, routing, dependencies, exception handlers."""
        await super().__call__(scope, receive, send)


def create_app(
    pool: ModelPool, config: ServerConfig | None = None, reranker: CrossEncoder | None = None
) -> FastAPI:
    """The ASGI app serving ``pool`` (and ``reranker`` on the rerank routes, if given, behind
    its own batcher with the pool's queue bounds). Its lifespan starts and stops the
    batchers."""
    served = ServedCrossEncoder(reranker, pool.default.batcher) if reranker else None
    state = ServerState(pool=pool, config=config or ServerConfig(), reranker=served)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.start()
        state.metrics.track_queue(lambda: sum(b.queued for b in state.batchers))
        try:
            yield
        finally:
            await state.stop()

    app = LembedApp(
        title="lembed",
        version=__version__,
        description="Local text embeddings over the Ollama, OpenAI and TEI APIs.",
        lifespan=lifespan,
    )
    app.state.lembed = state
    errors.install(app)
    guarded = [Depends(require_key)]
    app.include_router(health.router)
    app.include_router(ollama.router, dependencies=guarded)
    app.include_router(openai.router, dependencies=guarded)
    app.include_router(tei.router, dependencies=guarded)
    app.include_router(rerank.router, dependencies=guarded)
    app.include_router(parity.router, dependencies=guarded)  # /api/pull, Infinity, TEI extras
    app.include_router(sparse.router, dependencies=guarded)  # TEI /embed_sparse
    install_console(app, guarded)  # the web console, its assets and the API it calls
    app.add_api_route(
        "/metrics",
        health.metrics,
        methods=["GET"],
        tags=["health"],
        response_class=PlainTextResponse,
        dependencies=[] if state.config.public_metrics else guarded,
    )
    for model in pool.served:
        for batcher in model.batchers:
            batcher.on_batch = state.metrics.observe_batch
    pool.on_embedded = state.metrics.count_tokens
    if served is not None:
        served.batcher.on_batch = state.metrics.observe_rerank_batch
    state.metrics.track_batchers(lambda: state.batchers)
    routes = set(app.openapi()["paths"])  # metrics label routes by path, others as "other"
    app.add_middleware(RequestMetrics, metrics=state.metrics, routes=routes)
    app.add_middleware(BodyLimit, max_bytes=state.config.max_body_bytes)
    docs = (app.docs_url, app.redoc_url, app.openapi_url, app.swagger_ui_oauth2_redirect_url)
    app.add_middleware(DocsGuard, key=state.config.api_key, paths={p for p in docs if p})
    # the lane checks the key itself: the routers it serves are included with only that guard
    lanes = fast_routes([ollama.router, openai.router, tei.router])
    app.lane = FastLane(app.full, state, lanes)
    return app
