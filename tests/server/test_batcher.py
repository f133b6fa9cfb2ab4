"""The dynamic batcher's guarantees, on the real tokenizer with controllable forwards."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest
from tokenizers import Encoding

from lembed.engine.batcher import ALONE_AFTER_S, Batcher, plan_window
from lembed.engine.model import EmbeddingModel
from lembed.errors import BackendError, OverloadedError
from tests.server.conftest import run


def encode(model: EmbeddingModel, texts: list[str]) -> list[Encoding]:
    return model.encode(texts).encodings


class Recorder:
    """A forward that records batch shapes and can block, fail or return NaN."""

    def __init__(self, model: EmbeddingModel) -> None:
        self.model = model
        self.shapes: list[tuple[int, int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_on: str | None = None
        self.nan = False

    def __call__(self, encodings: Sequence[Encoding]) -> np.ndarray:
        self.gate.wait(10)
        self.shapes.append((len(encodings), max(len(e.ids) for e in encodings)))
        if self.fail_on and any(self.fail_on in e.tokens for e in encodings):
            raise RuntimeError("boom")
        out = self.model.forward(encodings)
        if self.nan:
            out[0, 0] = np.nan
        return out


def test_concurrent_requests_share_batches_within_token_budget(fake_model: EmbeddingModel) -> None:
    rec = Recorder(fake_model)

    async def go() -> None:
        batcher = Batcher(rec, fake_model.dim, batch_tokens=64, max_batch_size=8)
        batcher.start()
        rec.gate.clear()  # hold the worker so requests pile up
        texts = [f"request {i} " + "w " * (i % 5) for i in range(20)]
        tasks = [asyncio.create_task(batcher.submit(encode(fake_model, [t]))) for t in texts]
        await asyncio.sleep(0.05)
        rec.gate.set()
        results = await asyncio.gather(*tasks)
        for text, got in zip(texts, results, strict=True):
            np.testing.assert_allclose(got[0], fake_model.embed(text).vectors[0], atol=1e-6)
        assert any(rows > 1 for rows, _ in rec.shapes)  # shared batches
        assert all(rows * cols <= 64 or rows == 1 for rows, cols in rec.shapes)
        assert all(rows <= 8 for rows, _ in rec.shapes)
        await batcher.stop()

    run(go())


def test_failing_batch_fails_only_its_requests(fake_model: EmbeddingModel) -> None:
    rec = Recorder(fake_model)
    rec.fail_on = "poison"

    async def go() -> None:
        batcher = Batcher(rec, fake_model.dim, batch_tokens=8, max_batch_size=1)
        batcher.start()
        rec.gate.clear()
        bad = asyncio.create_task(batcher.submit(encode(fake_model, ["poison"])))
        good = asyncio.create_task(batcher.submit(encode(fake_model, ["fine"])))
        await asyncio.sleep(0.05)
        rec.gate.set()
        with pytest.raises(BackendError, match="inference failed"):
            await bad
        assert (await good).shape == (1, fake_model.dim)
        assert batcher.alive and batcher.stats.failures == 1
        await batcher.stop()

    run(go())


def test_nan_vectors_become_an_error(fake_model: EmbeddingModel) -> None:
    rec = Recorder(fake_model)
    rec.nan = True

    async def go() -> None:
        batcher = Batcher(rec, fake_model.dim)
        batcher.start()
        with pytest.raises(BackendError, match="non-finite"):
            await batcher.submit(encode(fake_model, ["x"]))
        rec.nan = False
        assert (await batcher.submit(encode(fake_model, ["x"]))).shape == (1, fake_model.dim)
        await batcher.stop()

    run(go())


def test_overload_is_answered_at_once(fake_model: EmbeddingModel) -> None:
    rec = Recorder(fake_model)

    async def go() -> None:
        batcher = Batcher(rec, fake_model.dim, max_queue=4, batch_tokens=8, max_batch_size=1)
        batcher.start()
        rec.gate.clear()
        first = asyncio.create_task(batcher.submit(encode(fake_model, ["a", "b", "c"])))
        await asyncio.sleep(0.05)  # "a" is in a forward pass; "b" and "c" still wait
        assert batcher.queued == 2
        queued = asyncio.create_task(batcher.submit(encode(fake_model, ["d", "e"])))
        await asyncio.sleep(0)
        with pytest.raises(OverloadedError, match="overloaded"):
            await batcher.submit(encode(fake_model, ["h"]))
        rec.gate.set()
        assert (await first).shape[0] == 3 and (await queued).shape[0] == 2
        await batcher.stop()

    run(go())


def test_cancelled_callers_are_skipped(fake_model: EmbeddingModel) -> None:
    rec = Recorder(fake_model)

    async def go() -> None:
        batcher = Batcher(rec, fake_model.dim, batch_tokens=8, max_batch_size=1)
        batcher.start()
        rec.gate.clear()
        head = asyncio.create_task(batcher.submit(encode(fake_model, ["head"])))
        await asyncio.sleep(0.05)
        gone = asyncio.create_task(batcher.submit(encode(fake_model, ["gone"] * 5)))
        await asyncio.sleep(0)
        gone.cancel()
        rec.gate.set()
        await head
        kept = await batcher.submit(encode(fake_model, ["kept"]))
        assert kept.shape == (1, fake_model.dim)
        assert batcher.stats.skipped == 5
        assert sum(rows for rows, _ in rec.shapes) == 2
        await batcher.stop()

    run(go())


def test_dead_worker_fails_waiting_requests_and_health(fake_model: EmbeddingModel) -> None:
    rec = Recorder(fake_model)

    async def go() -> None:
        # windows of 8 tokens: the worker holds "a" and "b" (3 tokens each), "c" waits
        batcher = Batcher(rec, fake_model.dim, batch_tokens=8, max_batch_size=1, window_batches=1)
        batcher.start()
        rec.gate.clear()
        waiting = [asyncio.create_task(batcher.submit(encode(fake_model, [t]))) for t in "abc"]
        await asyncio.sleep(0.05)

        def broken(*_: object) -> list[list[int]]:
            raise MemoryError("worker bug")

        batcher._take_window = broken  # type: ignore[method-assign]  # inject a worker crash
        rec.gate.set()
        results = await asyncio.wait_for(
            asyncio.gather(*waiting, return_exceptions=True), timeout=5
        )
        assert not batcher.alive
        assert [type(r) for r in results] == [np.ndarray, np.ndarray, BackendError]
        with pytest.raises(BackendError, match="not running"):
            await batcher.submit(encode(fake_model, ["late"]))
        await batcher.stop()

    run(go())


def test_plan_window_cuts_where_padding_costs_more_than_a_pass() -> None:
    lengths = [40, 8, 8, 40, 8, 8, 8, 8, 40, 8, 8, 8, 8, 8, 40, 8]
    plan = plan_window(lengths, budget=2048, max_batch=32, overhead=32)
    assert sorted(sorted(lengths[i] for i in b) for b in plan) == [[8] * 12, [40] * 4]
    same = plan_window([10] * 40, budget=2048, max_batch=32, overhead=32)
    assert [len(b) for b in same] == [8, 32]  # no padding to save: as few passes as allowed
    sizes = [300] * 10 + [5000]
    wide = plan_window(sizes, budget=2048, max_batch=32, overhead=32)
    assert all(len(b) * max(sizes[i] for i in b) <= 2048 or len(b) == 1 for b in wide)
    assert sorted(i for b in wide for i in b) == list(range(11))
    # on a graph whose dense layers skip padding a slot costs a fraction of a token: a
    # window padded from 8 to 16 tokens is worth cutting there, not on an unpadded graph
    mixed = [8] * 12 + [16] * 4
    assert sorted(len(b) for b in plan_window(mixed, 2048, 32, 32)) == [4, 12]
    assert [len(b) for b in plan_window(mixed, 2048, 32, 32, padding_cost=0.27)] == [16]


class SideBySide:
    """Two forwards: ``alone`` (all cores) and ``parallel``, which records how many of its
    passes were in flight at once and can be held."""

    def __init__(self, model: EmbeddingModel) -> None:
        self.model = model
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.alone_calls = 0
        self.gate = threading.Event()
        self.gate.set()

    def alone(self, encodings: Sequence[Encoding]) -> np.ndarray:
        self.alone_calls += 1
        return self.model.forward(encodings)

    def parallel(self, encodings: Sequence[Encoding]) -> np.ndarray:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.gate.wait(10)
            time.sleep(0.02)  # long enough for the other worker to start its pass
            return self.model.forward(encodings)
        finally:
            with self.lock:
                self.running -= 1


def test_two_workers_run_planned_batches_side_by_side(fake_model: EmbeddingModel) -> None:
    fwd = SideBySide(fake_model)

    async def go() -> None:
        batcher = Batcher(
            fwd.alone, fake_model.dim, parallel=fwd.parallel, workers=2, max_batch_size=2
        )
        batcher.start()
        fwd.gate.clear()  # the first pass holds: the rest queue up as one window
        texts = [f"text number {i}" for i in range(12)]
        first = asyncio.create_task(batcher.submit(encode(fake_model, ["first"])))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(batcher.submit(encode(fake_model, [t]))) for t in texts]
        await asyncio.sleep(0.05)
        fwd.gate.set()
        await first
        for text, got in zip(texts, await asyncio.gather(*rest), strict=True):
            np.testing.assert_allclose(got[0], fake_model.embed(text).vectors[0], atol=1e-6)
        assert fwd.most == 2  # two passes were in flight at once
        assert batcher.stats.inputs == 13 and batcher.queued == 0
        # right after passes ran side by side a lone pass stays on its share of the cores
        # (under load it is only a gap between side-by-side ones); an idle batcher runs it
        # on the all-cores forward
        before = fwd.alone_calls
        await batcher.submit(encode(fake_model, ["lone"]))
        assert fwd.alone_calls == before
        await asyncio.sleep(ALONE_AFTER_S + 0.05)
        await batcher.submit(encode(fake_model, ["lone"]))
        assert fwd.alone_calls == before + 1
        await batcher.stop()

    run(go())


def test_two_workers_stalled_fail_every_planned_batch(fake_model: EmbeddingModel) -> None:
    fwd = SideBySide(fake_model)

    async def go() -> None:
        batcher = Batcher(
            fwd.alone,
            fake_model.dim,
            parallel=fwd.parallel,
            workers=2,
            max_batch_size=1,
            stall_s=0.3,
        )
        batcher.start()
        fwd.gate.clear()  # every side-by-side pass hangs
        tasks = [
            asyncio.create_task(batcher.submit(encode(fake_model, [f"t{i}"]))) for i in range(6)
        ]
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
        assert all(isinstance(r, BackendError) and "stuck" in str(r) for r in results), results
        assert not batcher.alive and batcher.queued == 0
        fwd.gate.set()
        await batcher.stop()

    run(go())


def test_more_workers_need_a_parallel_forward(fake_model: EmbeddingModel) -> None:
    with pytest.raises(ValueError, match="parallel"):
        Batcher(fake_model.forward, fake_model.dim, workers=2)


class Timed:
    """A forward whose pass takes a fixed time whatever its size (the part of a real pass
    that reading the weights costs), recording each pass's size."""

    def __init__(self, model: EmbeddingModel, seconds: float) -> None:
        self.model = model
        self.seconds = seconds
        self.sizes: list[int] = []

    def __call__(self, encodings: Sequence[Encoding]) -> np.ndarray:
        time.sleep(self.seconds)
        self.sizes.append(len(encodings))
        return self.model.forward(encodings)


def test_a_free_worker_gathers_its_share_while_the_other_runs(
    fake_model: EmbeddingModel,
) -> None:
    """32 closed-loop callers on two workers: a worker that comes free while the other runs
    waits (a few ms) for its share of the callers to come back, so passes hold about 16
    inputs instead of splitting into full ones and stragglers."""
    clients, rounds = 32, 40

    async def load(gather_s: float) -> list[int]:
        fwd = Timed(fake_model, 0.02)
        batcher = Batcher(
            fwd, fake_model.dim, parallel=fwd, workers=2, max_batch_size=32, gather_s=gather_s
        )
        batcher.start()

        async def caller(i: int) -> None:
            for r in range(rounds):
                await batcher.submit(encode(fake_model, [f"caller {i} round {r}"]))
                # the answer's way back and the next request's: spread, as over HTTP, where the
                # loop answers and parses one request at a time (not all callers at once)
                await asyncio.sleep(random.uniform(0.0002, 0.0015))

        await asyncio.gather(*(caller(i) for i in range(clients)))
        await batcher.stop()
        assert sum(fwd.sizes) == clients * rounds
        return fwd.sizes[len(fwd.sizes) // 4 :]  # after the moving averages settled

    gathered = run(load(0.01))
    taken = run(load(0.0))
    assert np.mean(gathered) >= 0.75 * clients / 2, gathered
    assert np.mean(gathered) > np.mean(taken), (gathered, taken)
