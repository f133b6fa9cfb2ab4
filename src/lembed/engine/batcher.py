"""Dynamic batching across concurrent requests, for one model.

Requests put tokenised inputs in a bounded queue and await a future. One worker task takes
the queue in arrival-order windows, sorts each window by length, cuts it into batches by a
token budget that counts padding (``plan_batches``), and runs each batch in a dedicated
thread so the event loop stays free. The guarantees:

- every queued input ends with a result or an exception — a failing batch fails only its
  own requests, and if the worker itself dies every waiting request gets an error;
- a full queue answers at once with :class:`OverloadedError` (nothing is queued);
- a caller that went away (cancelled future) is skipped before its inputs are computed;
- ``alive`` turns false when the worker is gone, so readiness can fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from tokenizers import Encoding

from lembed.engine.model import plan_batches
from lembed.errors import BackendError, LembedError, OverloadedError

log = logging.getLogger(__name__)

Forward = Callable[[Sequence[Encoding]], np.ndarray]
BatchObserver = Callable[[int, int, float], None]  # (inputs, padded tokens, seconds)


@dataclass
class _Job:
    """One request: its inputs, where their vectors go, and the future it awaits."""

    encodings: Sequence[Encoding]
    future: asyncio.Future[np.ndarray]
    vectors: np.ndarray
    remaining: int

    def cancelled(self) -> bool:
        return self.future.done()


@dataclass
class _Item:
    job: _Job
    index: int

    @property
    def length(self) -> int:
        return len(self.job.encodings[self.index].ids)


@dataclass
class BatcherStats:
    batches: int = 0
    inputs: int = 0
    skipped: int = 0
    failures: int = 0
    last_batch_at: float = field(default_factory=time.monotonic)


class Batcher:
    """Batches inputs of concurrent requests for one model's ``forward``."""

    def __init__(
        self,
        forward: Forward,
        dim: int,
        *,
        batch_tokens: int = 8192,
        max_batch_size: int = 64,
        max_queue: int = 4096,
        window_batches: int = 4,
    ) -> None:
        self._forward = forward
        self._dim = dim
        self.batch_tokens = batch_tokens
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self._window_tokens = batch_tokens * window_batches
        self.on_batch: BatchObserver | None = None  # metrics hook
        self._queue: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lembed-infer")
        self._task: asyncio.Task[None] | None = None
        self._window: list[_Item] = []  # taken from the queue, not yet answered
        self._fatal: BaseException | None = None
        self.stats = BatcherStats()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._fail_all(BackendError("the server is shutting down"))
        self._executor.shutdown(wait=False, cancel_futures=True)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done() and self._fatal is None

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- requests -----------------------------------------------------------------------

    async def submit(self, encodings: Sequence[Encoding]) -> np.ndarray:
        """Unit vectors for ``encodings`` (in order), computed in shared batches."""
        if not self.alive:
            raise BackendError("the inference worker is not running")
        if len(self._queue) + len(encodings) > self.max_queue:
            raise OverloadedError(
                f"the server is overloaded ({len(self._queue)} inputs queued, limit "
                f"{self.max_queue}); retry later"
            )
        loop = asyncio.get_running_loop()
        job = _Job(
            encodings=encodings,
            future=loop.create_future(),
            vectors=np.empty((len(encodings), self._dim), dtype=np.float32),
            remaining=len(encodings),
        )
        self._queue.extend(_Item(job, i) for i in range(len(encodings)))
        self._wake.set()
        return await job.future

    # -- worker -------------------------------------------------------------------------

    def _take_window(self) -> list[_Item]:
        """Pop queued items in arrival order, up to the window's token budget."""
        window: list[_Item] = []
        tokens = 0
        while self._queue and (not window or tokens + self._queue[0].length <= self._window_tokens):
            item = self._queue.popleft()
            if item.job.cancelled():
                self.stats.skipped += 1
                continue
            window.append(item)
            tokens += item.length
        return window

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                window = self._window = self._take_window()
                lengths = [item.length for item in window]
                for idx in plan_batches(lengths, self.batch_tokens, self.max_batch_size):
                    batch = [window[i] for i in idx if not window[i].job.cancelled()]
                    self.stats.skipped += len(idx) - len(batch)
                    if batch:
                        await self._run_batch(loop, batch)
                self._window = []
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug or a runtime crash: fail everyone, health red
            self._fatal = exc
            log.exception("the batching worker died")
            self._fail_all(BackendError("the inference worker failed"))

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Item]) -> None:
        """Run one batch. A ``BaseException`` that is not an ``Exception`` (a crashed
        runtime) propagates and ends the worker, after which ``_run`` fails everyone."""
        encodings = [item.job.encodings[item.index] for item in batch]
        start = time.perf_counter()
        try:
            vectors = await loop.run_in_executor(self._executor, self._forward, encodings)
            if vectors.shape != (len(batch), self._dim) or not np.isfinite(vectors).all():
                raise BackendError("the model returned non-finite or misshapen vectors")
        except Exception as exc:  # this batch failed; the worker carries on
            self.stats.failures += 1
            error = exc if isinstance(exc, LembedError) else BackendError("inference failed")
            if not isinstance(exc, LembedError):
                log.exception("inference failed for a batch of %d inputs", len(batch))
            for item in batch:
                if not item.job.future.done():
                    item.job.future.set_exception(error)
            return
        seconds = time.perf_counter() - start
        self.stats.batches += 1
        self.stats.inputs += len(batch)
        self.stats.last_batch_at = time.monotonic()
        if self.on_batch is not None:
            self.on_batch(len(batch), len(batch) * max(len(e.ids) for e in encodings), seconds)
        for item, vector in zip(batch, vectors, strict=True):
            job = item.job
            if job.future.done():
                continue
            job.vectors[item.index] = vector
            job.remaining -= 1
            if job.remaining == 0:
                job.future.set_result(job.vectors)

    def _fail_all(self, error: Exception) -> None:
        """Answer every input still waiting (in the queue or the current window) with an error."""
        pending = [*self._window, *self._queue]
        self._window = []
        self._queue.clear()
        for item in pending:
            if not item.job.future.done():
                item.job.future.set_exception(error)
