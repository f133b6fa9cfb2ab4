"""Server test helpers: in-process apps over httpx.ASGITransport, and real processes."""

from __future__ import annotations

import asyncio
import collections
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from lembed.engine.model import EmbeddingModel
from lembed.engine.pool import ModelPool
from lembed.server.app import create_app
from lembed.server.state import ServerConfig

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


@asynccontextmanager
async def client_for(
    models: list[EmbeddingModel], config: ServerConfig | None = None, **pool: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to a fresh app in-process, with its lifespan running."""
    app = create_app(ModelPool(models, **pool), config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lembed") as client:
            yield client


@pytest.fixture
def in_process(fake_model: EmbeddingModel) -> Callable[..., Any]:
    """``in_process(fn, config=None)`` runs ``await fn(client)`` against a fake-backend app."""

    def call(
        fn: Callable[[httpx.AsyncClient], Awaitable[T]],
        config: ServerConfig | None = None,
        models: list[EmbeddingModel] | None = None,
        **pool: Any,
    ) -> T:
        async def go() -> T:
            async with client_for(models or [fake_model], config, **pool) as client:
                return await fn(client)

        return run(go())

    return call


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A real ``lembed serve`` process on a free loopback port. Its output is read as it comes
    (the last lines kept for errors), so a chatty server never blocks on a full pipe."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "lembed", "serve", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._lines: collections.deque[str] = collections.deque(maxlen=200)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise RuntimeError(f"lembed serve exited: {self.output}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"lembed serve did not become healthy in 120 s: {self.output}")

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line)

    @property
    def output(self) -> str:
        """The server's last 200 lines of output."""
        return "".join(self._lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        if self.proc.stdout:
            self.proc.stdout.close()


def live_env(cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(LEMBED_CACHE_DIR=str(cache_dir), HF_HUB_OFFLINE="1")
    return env


@pytest.fixture(scope="module")
def live_onnx(cache_dir: Path, onnx_model: EmbeddingModel) -> Iterator[LiveServer]:
    """A real server on the default model (onnx), sharing the session's ONNX cache."""
    server = LiveServer(["--api-key", "sekret"], live_env(cache_dir))
    yield server
    server.stop()
