"""``lembed serve``: one process speaking the Ollama, OpenAI and TEI embedding APIs."""

from __future__ import annotations

import errno
import os
import socket
import sys
from typing import Annotated

import typer

from lembed.cli.ollama_host import serve_address
from lembed.cli.options import Backend
from lembed.errors import LembedError, ValidationError, require
from lembed.settings import Settings
from lembed.stores import DEFAULT_STORE


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket now, so a taken port is a one-line error, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise LembedError(
                f"port {port} on {host} is already in use (is Ollama running? stop it, or "
                "pass --port)"
            ) from exc
        raise LembedError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """The warning for a server reachable beyond this machine with no API key, or None."""
    if api_key is not None or host in LOOPBACK or host.startswith("127."):
        return None
    return (
        f"warning: listening on {host} without an API key: anyone who can reach this "
        "address can use the server (pass --api-key KEY, or bind --host 127.0.0.1)"
    )


def parse_input_types(values: list[str]) -> dict[str, str]:
    """``document`` (all models) or ``MODEL=query`` → {"*": ..., "MODEL": ...}."""
    out: dict[str, str] = {}
    for value in values:
        name, _, kind = value.rpartition("=")
        if kind not in ("query", "document", "none"):
            raise ValidationError(f"--input-type {value!r}: use query, document or none")
        out[name or "*"] = kind
    return out


def serve(
    ctx: typer.Context,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="model to serve (repeat for several; first = default)"),
    ] = None,
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 11434, Ollama's)")] = None,
    backend: Backend = None,
    quantize: Annotated[str | None, typer.Option(help="none or int8 (onnx)")] = None,
    api_key: Annotated[
        str | None, typer.Option(help="require this Bearer key (all routes but health)")
    ] = None,
    input_type: Annotated[
        list[str] | None,
        typer.Option(help="default prefix when a request doesn't say: TYPE or MODEL=TYPE"),
    ] = None,
    max_inputs: Annotated[int | None, typer.Option(help="most inputs per request")] = None,
    auto_truncate: Annotated[
        bool, typer.Option(help="TEI routes: truncate inputs over the window unless told not to")
    ] = False,
    max_body_bytes: Annotated[int | None, typer.Option(help="largest request body")] = None,
    max_queue: Annotated[int | None, typer.Option(help="most queued inputs")] = None,
    max_wait_s: Annotated[
        float | None,
        typer.Option(help="refuse at once (503/429) when the wait for a batch would pass this"),
    ] = None,
    batch_tokens: Annotated[int | None, typer.Option(help="token budget per batch")] = None,
    max_batch_size: Annotated[int | None, typer.Option(help="most inputs per batch")] = None,
    reranker: Annotated[
        str | None,
        typer.Option(help="cross-encoder for POST /rerank and /v1/rerank (name or folder)"),
    ] = None,
    store: Annotated[
        str,
        typer.Option(
            "--store", "-s", help="the store the console and /v1/collections, search, ask read"
        ),
    ] = DEFAULT_STORE,
    llm: Annotated[
        str | None,
        typer.Option(
            help="generator for POST /v1/ask (local, ollama:M, openai:M); default: "
            "extractive answers"
        ),
    ] = None,
) -> None:
    """Serve embedding models over the Ollama, OpenAI/Infinity and TEI APIs."""
    uvicorn = require("uvicorn", "server", "lembed serve")
    from lembed.engine.load import load_model
    from lembed.engine.pool import ModelPool
    from lembed.server.app import create_app
    from lembed.server.collections import StoreConfig
    from lembed.server.middleware import check_api_key
    from lembed.server.protocol import header_timeout_protocol
    from lembed.server.state import ServerConfig

    base: Settings = ctx.obj
    host, port = serve_address(host, port, dict(os.environ))  # OLLAMA_HOST, as Ollama reads it
    overrides = {
        "host": host,
        "port": port,
        "api_key": api_key,
        "max_inputs": max_inputs,
        "max_body_bytes": max_body_bytes,
        "max_queue": max_queue,
        "max_wait_s": max_wait_s,
        "batch_tokens": batch_tokens,
        "max_batch_size": max_batch_size,
    }
    settings = base.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    kinds = parse_input_types(input_type or [])
    if settings.api_key is not None:
        check_api_key(settings.api_key)
    warning = exposure_warning(settings.host, settings.api_key)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    sock = bind(settings.host, settings.port)  # fail fast, before loading any model
    names = model or [settings.model]
    models = [load_model(n, backend=backend, quantize=quantize, settings=settings) for n in names]
    from lembed.engine.cross_encoder import load_cross_encoder

    cross = None
    if reranker is not None and reranker.strip().lower() not in ("", "none", "off"):
        cross = load_cross_encoder(reranker, backend=backend, settings=settings)
    pool = ModelPool(
        models,
        input_types=kinds,  # type: ignore[arg-type]
        max_queue=settings.max_queue,
        max_queue_tokens=settings.max_queue_tokens,
        max_wait_s=settings.max_wait_s,
        stall_s=settings.stall_s,
        workers=settings.batch_workers,
        threads=settings.threads,
    )
    config = ServerConfig(
        api_key=settings.api_key,
        max_inputs=settings.max_inputs,
        max_body_bytes=settings.max_body_bytes,
        public_metrics=settings.public_metrics,
        auto_truncate=auto_truncate,
    )
    app = create_app(pool, config, reranker=cross)
    app.state.store_config = StoreConfig(store=store, settings=settings, llm=llm)
    port_shown = sock.getsockname()[1]
    served = ", ".join(f"{m.name} ({m.backend.name}, {m.backend.device})" for m in models)
    if cross is not None:
        served += f"; reranker {cross.name} ({cross.backend.name}, {cross.backend.device})"
    print(
        f"lembed serving {served} on http://{settings.host}:{port_shown} — Ollama /api/embed, "
        "OpenAI /v1/embeddings, TEI /embed; docs at /docs",
        file=sys.stderr,
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
            timeout_keep_alive=5,  # idle keep-alive connections close after 5 s
            http=header_timeout_protocol(settings.header_timeout_s),
            limit_concurrency=settings.max_connections,
        )
    )
    server.run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.command()(serve)
