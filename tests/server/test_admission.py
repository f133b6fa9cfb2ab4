"""Work-bounded admission and the stall watchdog: tokens, expected wait, deadline, hang."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from tokenizers import Encoding

from lembed.engine.batcher import Batcher
from lembed.engine.model import EmbeddingModel
from lembed.errors import OverloadedError
from lembed.runtime.backends.fake import FakeBackend
from tests.server.conftest import LiveServer, live_env, run
from tests.server.faults import OVERLOAD, faulty, timed_post
from tests.server.test_errors import GOOD, OLLAMA, OPENAI, TEI, check_shape


class Slow:
    """A forward that takes ``seconds`` per batch and can be held at a gate."""

    def __init__(self, model: EmbeddingModel, seconds: float) -> None:
        self.model = model
        self.seconds = seconds
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, encodings: Sequence[Encoding]) -> np.ndarray:
        self.gate.wait(10)
        time.sleep(self.seconds)
        return self.model.forward(encodings, normalize=False)


def encode(model: EmbeddingModel, texts: list[str]) -> list[Encoding]:
    return model.encode(texts).encodings


def test_queued_tokens_bound_refuses_at_once(fake_model: EmbeddingModel) -> None:
    slow = Slow(fake_model, 0)

    async def go() -> None:
        batcher = Batcher(slow, fake_model.dim, max_queue_tokens=40, batch_tokens=8)
        batcher.start()
        slow.gate.clear()
        head = asyncio.create_task(batcher.submit(encode(fake_model, ["head"])))
        await asyncio.sleep(0.05)  # the worker holds "head"
        first = asyncio.create_task(batcher.submit(encode(fake_model, ["one two three"] * 5)))
        await asyncio.sleep(0)
        assert batcher.queued_tokens == 25
        start = time.perf_counter()
        with pytest.raises(OverloadedError, match="tokens queued, limit 40"):
            await batcher.submit(encode(fake_model, ["one two three"] * 4))
        assert time.perf_counter() - start < 0.05
        assert batcher.stats.refused == {"tokens": 1}
        slow.gate.set()
        assert (await first).shape == (5, fake_model.dim)
        await head
        await batcher.stop()

    run(go())


def test_expected_wait_refuses_at_once(fake_model: EmbeddingModel) -> None:
    slow = Slow(fake_model, 0.1)

    async def go() -> None:
        batcher = Batcher(slow, fake_model.dim, max_wait_s=0.5, batch_tokens=16)
        batcher.start()
        await batcher.submit(encode(fake_model, ["a b c d e f g h"]))  # ~100 tokens/s
        assert batcher.token_rate is not None and batcher.token_rate < 200
        slow.gate.clear()
        held = asyncio.create_task(batcher.submit(encode(fake_model, ["held"])))
        await asyncio.sleep(0.05)
        queued = asyncio.create_task(batcher.submit(encode(fake_model, ["a b c d e f g h"] * 8)))
        await asyncio.sleep(0)
        assert batcher.expected_wait > 0.5
        start = time.perf_counter()
        with pytest.raises(OverloadedError, match=r"limit is 0\.5 s"):
            await batcher.submit(encode(fake_model, ["late"]))
        assert time.perf_counter() - start < 0.05
        assert batcher.stats.refused == {"wait": 1}
        queued.cancel()
        slow.gate.set()
        await held
        await batcher.stop()

    run(go())


@pytest.mark.parametrize("route", [OLLAMA, OPENAI, TEI])
def test_inputs_past_the_deadline_are_refused_within_the_bound(
    in_process: Callable[..., Any], fake_model: EmbeddingModel, route: str
) -> None:
    """The rate looked fine when they were admitted, then the forward passes slowed down
    (a starved CPU): queued requests are answered at the deadline, not after the queue."""
    slow = faulty(fake_model, delay_s=0.6, max_batch_size=1)

    async def go(client: httpx.AsyncClient) -> None:
        results = await asyncio.wait_for(
            asyncio.gather(*(timed_post(client, route, i) for i in range(8))), 20
        )
        codes = [code for code, _, _ in results]
        assert codes.count(200) >= 1 and codes.count(OVERLOAD[route]) >= 5, codes
        refused = [(t, r) for code, t, r in results if code != 200]
        assert max(t for t, _ in refused) < 0.3 + 0.5  # the bound plus the watchdog's tick
        assert "waited over 0.3 s" in check_shape(route, refused[0][1])
        assert refused[0][1].headers["retry-after"] == "1"
        metrics = (await client.get("/metrics")).text
        assert 'lembed_overload_total{reason="deadline"}' in metrics
        assert "lembed_queue_max_wait_seconds 0.3" in metrics

    in_process(go, models=[slow], max_wait_s=0.3)


def test_hung_forward_pass_turns_health_red_and_fails_waiting(
    in_process: Callable[..., Any], fake_model: EmbeddingModel
) -> None:
    hanging = faulty(fake_model, fault="hang", max_batch_size=1)
    backend = hanging.backend
    assert isinstance(backend, FakeBackend)

    async def go(client: httpx.AsyncClient) -> None:
        assert (await client.get("/health")).status_code == 200
        start = time.perf_counter()
        bodies = [{**GOOD[OLLAMA], "input": f"t{i}"} for i in range(4)]
        rs = await asyncio.wait_for(
            asyncio.gather(*(client.post(OLLAMA, json=b) for b in bodies)), 10
        )
        assert time.perf_counter() - start < 3
        assert {r.status_code for r in rs} == {500}
        assert all("stuck" in r.json()["error"] for r in rs), [r.json() for r in rs]
        health = await client.get("/health")
        assert health.status_code == 503 and health.json()["error_type"] == "unhealthy"
        late = await asyncio.wait_for(client.post(OPENAI, json=GOOD[OPENAI]), 5)
        assert late.status_code == 500 and "not running" in check_shape(OPENAI, late)
        assert "lembed_worker_alive 0.0" in (await client.get("/metrics")).text

    try:
        in_process(go, models=[hanging], stall_s=0.5)
    finally:
        backend.release()


def test_hang_fault_from_settings(settings: Any) -> None:
    from lembed.engine.load import load_model

    model = load_model(backend="fake", settings=settings.model_copy(update={"fake_fault": "hang"}))
    assert isinstance(model.backend, FakeBackend) and model.backend.fault == "hang"
    model.backend.release()
    assert model.embed("released").vectors.shape == (1, model.dim)


# -- a real server on a starved CPU ------------------------------------------------------


@pytest.fixture
def starved_cpu() -> Iterator[int]:
    """Two busy loops pinned to CPU 0, beside the server pinned there too."""
    if not hasattr(os, "sched_setaffinity") or 0 not in os.sched_getaffinity(0):
        pytest.skip("needs CPU affinity")
    loop = "import os; os.sched_setaffinity(0, {0})\nwhile True: pass"
    hogs = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(2)]
    yield 0
    for hog in hogs:
        hog.kill()
        hog.wait()


@pytest.mark.server
@pytest.mark.model
@pytest.mark.slow
def test_starved_server_refuses_within_the_wait_bound(
    cache_dir: Path, onnx_model: EmbeddingModel, starved_cpu: int
) -> None:
    env = live_env(cache_dir)
    env.update(LEMBED_THREADS="1", LEMBED_MAX_WAIT_S="1")
    server = LiveServer([], env)
    try:
        os.sched_setaffinity(server.proc.pid, {starved_cpu})
        for tid in os.listdir(f"/proc/{server.proc.pid}/task"):
            os.sched_setaffinity(int(tid), {starved_cpu})
        passage = " ".join(["the quick brown fox jumps over the lazy dog"] * 20)

        async def go() -> list[tuple[int, float]]:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:

                async def one(i: int) -> tuple[int, float]:
                    start = time.perf_counter()
                    r = await client.post(
                        "/v1/embeddings", json={"model": "all-minilm", "input": [passage] * 4}
                    )
                    return r.status_code, time.perf_counter() - start

                await one(0)  # a measured rate
                return await asyncio.gather(*(one(i) for i in range(48)))

        results = asyncio.run(go())
    finally:
        server.stop()
    codes = [code for code, _ in results]
    assert set(codes) <= {200, 503} and 503 in codes, codes
    refused = [t for code, t in results if code == 503]
    # within the 1 s bound plus one forward pass on a third of a core and the answer
    assert max(refused) < 4, sorted(refused)
