"""Randomised stress of the multi-worker batcher: many requests, random delays, failing
batches, failing tokenisation and cancellations, on the fake model.

Every caller must end with its vectors (equal to one direct call), an error it can explain,
or its cancellation; every future is settled at most once, on the event loop's thread; and
the waiting counters return to 0.
"""

from __future__ import annotations

import asyncio
import functools
import random
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from tokenizers import Encoding

from lembed.engine.batcher import Batcher
from lembed.engine.model import EmbeddingModel, Encoded
from lembed.errors import BackendError, OverloadedError, ValidationError
from tests.server.conftest import run


class Settles:
    """Counts every set_result/set_exception on the futures the batcher makes for its
    callers (``Batcher._job``), and the threads that called them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.calls: dict[int, int] = {}
        self.threads: set[int] = set()
        self.futures: list[asyncio.Future[Any]] = []  # kept alive: ids stay unique
        self.lock = threading.Lock()
        make = loop.create_future
        settles = self

        def create_future() -> asyncio.Future[Any]:
            future = make()
            if sys._getframe(1).f_code.co_qualname != "Batcher._job":
                return future  # asyncio's own (sleep, wait_for)
            settles.futures.append(future)
            set_result, set_exception = future.set_result, future.set_exception

            def counted(setter: Any) -> Any:
                def call(value: Any) -> None:
                    with settles.lock:
                        settles.calls[id(future)] = settles.calls.get(id(future), 0) + 1
                        settles.threads.add(threading.get_ident())
                    setter(value)

                return call

            future.set_result = counted(set_result)  # type: ignore[method-assign]
            future.set_exception = counted(set_exception)  # type: ignore[method-assign]
            return future

        loop.create_future = create_future  # type: ignore[method-assign]


class Flaky:
    """A forward (both the all-cores and the side-by-side one) with random delays that fails
    every batch holding a "poison" token; records which texts were in failed batches and how
    many all-cores passes ran at once."""

    def __init__(self, model: EmbeddingModel, seed: int) -> None:
        self.model = model
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.failed: set[tuple[int, ...]] = set()  # token ids of inputs in failed batches
        self.alone_running = self.alone_most = 0
        self.calls = {"alone": 0, "parallel": 0}

    def _delay(self) -> float:
        with self.lock:
            return self.rng.choice((0.0, 0.0, 0.0005, 0.001, 0.003))

    def _run(self, encodings: Sequence[Encoding]) -> np.ndarray:
        time.sleep(self._delay())
        if any("poison" in e.tokens for e in encodings):
            with self.lock:
                self.failed.update(tuple(e.ids) for e in encodings)
            raise RuntimeError("boom")
        return self.model.forward(encodings, normalize=False)

    def alone(self, encodings: Sequence[Encoding]) -> np.ndarray:
        with self.lock:
            self.calls["alone"] += 1
            self.alone_running += 1
            self.alone_most = max(self.alone_most, self.alone_running)
        try:
            return self._run(encodings)
        finally:
            with self.lock:
                self.alone_running -= 1

    def parallel(self, encodings: Sequence[Encoding]) -> np.ndarray:
        with self.lock:
            self.calls["parallel"] += 1
        return self._run(encodings)


def _fit(model: EmbeddingModel, texts: list[str], encodings: list[Encoding]) -> Encoded:
    if any("badfit" in t for t in texts):
        raise ValidationError("this text does not fit")
    return model.fit(texts, encodings, "right")


def _requests(rng: random.Random, n: int) -> list[list[str]]:
    words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]
    out = []
    for r in range(n):
        texts = []
        for i in range(rng.choice((1, 1, 1, 2, 3, 5, 9))):
            body = " ".join(rng.choice(words) for _ in range(rng.randint(0, 12)))
            texts.append(f"id{r}x{i} {body}")
        roll = rng.random()
        if roll < 0.06:
            texts[rng.randrange(len(texts))] += " poison"
        elif roll < 0.10:
            texts[rng.randrange(len(texts))] += " badfit"
        out.append(texts)
    return out


async def _stress(model: EmbeddingModel, seed: int, *, workers: int, deadline: bool) -> None:
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    settles = Settles(loop)
    fwd = Flaky(model, seed)
    batcher = Batcher(
        fwd.alone,
        model.dim,
        parallel=fwd.parallel,
        workers=workers,
        tokenize=model.tokenizer.encode,
        batch_tokens=48,
        max_batch_size=4,
        max_queue=100_000,
        max_wait_s=0.05 if deadline else None,
    )
    batcher.start()
    fit = functools.partial(_fit, model)
    requests = _requests(rng, 260)
    tasks: list[asyncio.Task[Any]] = []
    pretokenised: set[int] = set()
    for r, texts in enumerate(requests):
        if rng.random() < 0.3 and not any("badfit" in t for t in texts):
            pretokenised.add(r)
            encodings = model.tokenizer.encode(texts)
            tasks.append(asyncio.create_task(batcher.submit(encodings)))
        else:
            tasks.append(asyncio.create_task(batcher.submit_texts(texts, fit)))
        if rng.random() < 0.3:
            await asyncio.sleep(rng.choice((0, 0, 0.001)))
        if rng.random() < 0.12:  # a caller gives up, maybe while its batch runs
            victim = tasks[rng.randrange(len(tasks))]
            loop.call_later(rng.choice((0, 0.0005, 0.002)), victim.cancel)
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
    for _ in range(200):  # cancelled inputs are skipped by the workers a moment later
        if batcher.queued == 0 and batcher.queued_tokens == 0:
            break
        await asyncio.sleep(0.01)
    assert batcher.queued == 0 and batcher.queued_tokens == 0
    assert batcher.alive
    await batcher.stop()

    assert settles.threads <= {threading.get_ident()}  # settled on the loop thread only
    assert all(count == 1 for count in settles.calls.values()), settles.calls
    for future in settles.futures:  # every one settled: by the batcher or by cancelling
        assert future.cancelled() or settles.calls.get(id(future)) == 1
    assert fwd.alone_most <= 1  # two all-cores passes never run at once
    ok = 0
    for r, (texts, got) in enumerate(zip(requests, results, strict=True)):
        ids = {tuple(e.ids) for e in model.tokenizer.encode(texts)}
        if isinstance(got, asyncio.CancelledError):
            continue
        if isinstance(got, OverloadedError):
            assert deadline, got
            continue
        if isinstance(got, ValidationError):
            assert any("badfit" in t for t in texts), (texts, got)
            continue
        if isinstance(got, BackendError):
            assert "inference failed" in str(got)
            assert ids & fwd.failed, (texts, got)  # it shared a batch that failed
            continue
        assert not isinstance(got, BaseException), repr(got)
        assert not any("poison" in t or "badfit" in t for t in texts), texts
        vectors = got if r in pretokenised else got[0]
        expected = model.forward(model.tokenizer.encode(texts), normalize=r not in pretokenised)
        np.testing.assert_allclose(vectors, expected, atol=1e-5)
        ok += 1
    assert ok > len(requests) // 3  # most requests were served
    # the requests piled up: passes ran side by side
    assert workers == 1 or fwd.calls["parallel"] > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_workers_random_load(fake_model: EmbeddingModel, seed: int) -> None:
    run(_stress(fake_model, seed, workers=2, deadline=False))


def test_a_crash_beside_a_running_pass_fails_that_pass_too(fake_model: EmbeddingModel) -> None:
    gate, crashed = threading.Event(), threading.Event()

    def forward(encodings: Sequence[Encoding]) -> np.ndarray:
        if any("crash" in e.tokens for e in encodings):
            crashed.set()
            raise SystemExit("the runtime died")  # not an Exception: ends the worker
        gate.wait(5)
        return fake_model.forward(encodings, normalize=False)

    async def go() -> None:
        batcher = Batcher(forward, fake_model.dim, parallel=forward, workers=2, max_batch_size=1)
        batcher.start()
        slow = asyncio.create_task(batcher.submit(fake_model.tokenizer.encode(["slow"])))
        await asyncio.sleep(0.05)  # one worker is in its pass
        crash = asyncio.create_task(batcher.submit(fake_model.tokenizer.encode(["crash"])))
        await asyncio.sleep(0)  # queued: the other worker takes it and dies
        # the loop is busy (a blocking handler) while the first pass ends
        assert crashed.wait(2)
        time.sleep(0.05)
        gate.set()
        time.sleep(0.1)
        results = await asyncio.wait_for(asyncio.gather(slow, crash, return_exceptions=True), 1)
        assert all(isinstance(r, BackendError) for r in results), results
        await batcher.stop()

    run(go())


def test_three_workers_with_a_deadline(fake_model: EmbeddingModel) -> None:
    run(_stress(fake_model, 7, workers=3, deadline=True))
