"""Dynamic batching across concurrent requests, for one model.

Requests put their inputs in a bounded queue and await a future; dedicated worker threads
do all the heavy work. A worker takes the queue in arrival-order windows, tokenises every
text of the window in one batch call of the Rust tokenizer (which releases the GIL), sorts
the window by length, cuts it into the batches that cost least — padded tokens plus a fixed
overhead per forward pass, within a token budget (``plan_window``) — and runs them,
L2-normalises the rows that want it (one numpy call per batch), and hands each batch's
results back to the event loop in one ``call_soon_threadsafe``. The event loop only parses,
queues and answers.

With ``workers > 1`` the planned batches of a window are shared: while one worker runs a
pass, another runs the next one, or tokenises the next window. Passes side by side use
``parallel`` (a forward with a share of the cores each: on small batches two one-thread
passes at once beat one two-thread pass, whose per-operator hand-offs between threads cost
more than they parallelise); a pass that runs alone uses ``forward`` with every core, so an
idle server answers a single request at the all-cores latency. A worker that comes free while
another runs waits briefly (``gather_s``) for its share of the inputs in flight before it
takes a window: under closed-loop load (each caller waits on its answer) that makes two full
passes side by side rather than a full one and one of stragglers.

The guarantees:

- every queued input ends with a result or an exception — a failing batch fails only its
  own requests; a request whose text cannot be tokenised or is too long fails alone; if the
  worker dies every waiting request gets an error;
- admission is bounded by work, not only by count: inputs (``max_queue``), estimated tokens
  (``max_queue_tokens``) and the expected wait before service starts (``max_wait_s``, from
  the measured token rate). Over any bound the request is answered at once with
  :class:`OverloadedError`, and an input that still waited longer than ``max_wait_s`` (a
  CPU starved after it was admitted) is refused then instead of queueing on;
- a caller that went away (cancelled future) is skipped before its inputs are computed;
- ``alive`` turns false when the worker is gone — or stalled: a forward pass running longer
  than ``stall_s`` fails everyone waiting and turns readiness red, as a crash does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from tokenizers import Encoding

from lembed.engine.model import Encoded
from lembed.errors import BackendError, LembedError, OverloadedError
from lembed.settings import default

log = logging.getLogger(__name__)

# A free worker waits at most this long for a fuller pass while another one runs.
GATHER_S = 0.01
# A pass runs on all cores only if no two passes ran side by side for this long.
ALONE_AFTER_S = 0.5

Forward = Callable[[Sequence[Encoding]], np.ndarray]
Tokenize = Callable[[list[str]], list[Encoding]]
# Checks one request's encodings against the model's window (error or cut): -> Encoded.
Fit = Callable[[list[str], list[Encoding]], Encoded]
BatchObserver = Callable[[int, int, float], None]  # (inputs, padded tokens, seconds)

_Outcome = tuple["asyncio.Future[np.ndarray]", object]  # (future, result or exception)


@dataclass(eq=False)
class _Job:
    """One request: its inputs, where their vectors go, and the future it awaits."""

    future: asyncio.Future[np.ndarray]
    vectors: np.ndarray
    remaining: int
    queued_at: float
    texts: list[str] | None = None  # tokenised by the worker
    fit: Fit | None = None
    encodings: Sequence[Encoding] = ()
    encoded: Encoded | None = None
    normalize: bool = False
    started: bool = False  # one of its inputs reached a forward pass: no deadline any more
    failed: bool = False

    def gone(self) -> bool:
        return self.failed or self.future.done()


@dataclass(eq=False)
class _Item:
    job: _Job
    index: int
    estimate: int  # tokens counted against the queue bound
    released: bool = False  # no longer counted as waiting (its batch started, or it left)

    @property
    def length(self) -> int:
        return len(self.job.encodings[self.index].ids)


@dataclass
class BatcherStats:
    batches: int = 0
    inputs: int = 0
    skipped: int = 0
    failures: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # overload answers by reason
    last_batch_at: float = field(default_factory=time.monotonic)


class StallError(BackendError):
    """A forward pass ran past the stall bound: the runtime is taken as hung."""


class Batcher:
    """Batches inputs of concurrent requests for one model's ``forward``."""

    def __init__(
        self,
        forward: Forward,
        dim: int,
        *,
        parallel: Forward | None = None,
        workers: int = 1,
        tokenize: Tokenize | None = None,
        batch_tokens: int = default("batch_tokens"),
        max_batch_size: int = default("max_batch_size"),
        max_queue: int = default("max_queue"),
        max_queue_tokens: int | None = None,
        max_wait_s: float | None = None,
        stall_s: float | None = None,
        window_batches: int = 4,
        pass_overhead_tokens: int = 32,
        padding_cost: float = 1.0,
        gather_s: float = GATHER_S,
    ) -> None:
        if workers < 1 or (workers > 1 and parallel is None):
            raise ValueError("workers > 1 needs a parallel forward")
        self._forward = forward
        self._parallel = parallel
        self.workers = workers
        self._tokenize = tokenize
        self._dim = dim
        self.batch_tokens = batch_tokens
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self.max_queue_tokens = max_queue_tokens
        self.max_wait_s = max_wait_s
        self.stall_s = stall_s
        self._window_tokens = batch_tokens * window_batches
        self.pass_overhead_tokens = pass_overhead_tokens
        self.padding_cost = padding_cost  # a padding slot's share of a token's cost
        self.gather_s = gather_s
        self.on_batch: BatchObserver | None = None  # metrics hook (called on worker threads)
        self._queue: deque[_Item] = deque()
        self._lock = threading.Lock()  # the queue, the ready batches and the waiting counts
        self._wake = threading.Condition(self._lock)  # work for an idle worker
        self._waiting = 0  # inputs not yet in a forward pass (queue, windows, ready batches)
        self._queued_tokens = 0  # their estimated tokens
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._watchdog: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: deque[list[_Item]] = deque()  # planned batches no worker has taken yet
        self._held: dict[int, list[_Item]] = {}  # by worker: its window or running batch
        self._busy: dict[int, float] = {}  # by worker: start of its running forward pass
        self._running = 0  # inputs in running passes
        self._in_flight = 0.0  # inputs queued or running when one arrives (moving average)
        self._pass_s = 0.0  # seconds of a forward pass (moving average)
        self._overlapped_at = -ALONE_AFTER_S  # when two passes last ran side by side
        self._fatal: BaseException | None = None
        self.token_rate: float | None = None  # tokens/s of forward passes (moving average)
        self._chars_per_token = 4.0  # for estimating tokens of untokenised text
        self.stats = BatcherStats()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self._loop = asyncio.get_running_loop()
        # Daemon threads: a runtime hung in C must not keep the process from exiting.
        self._threads = [
            threading.Thread(target=self._work, name=f"lembed-infer-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()
        self._watchdog = self._loop.create_task(self._watch(), name="batcher-watchdog")

    async def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        self._fail_all(BackendError("the server is shutting down"))
        for thread in self._threads:  # a hung forward pass is left behind (daemon thread)
            await asyncio.to_thread(thread.join, 2)

    @property
    def alive(self) -> bool:
        return (
            bool(self._threads)
            and all(thread.is_alive() for thread in self._threads)
            and self._fatal is None
            and not self._stopping
        )

    @property
    def queued(self) -> int:
        """Inputs waiting for a forward pass (queued, being planned or planned)."""
        return self._waiting

    @property
    def queued_tokens(self) -> int:
        return self._queued_tokens

    @property
    def expected_wait(self) -> float:
        """Seconds the queued work takes at the measured rate (0 before any batch ran)."""
        if not self.token_rate:
            return 0.0
        return self._queued_tokens / self.token_rate

    # -- requests -----------------------------------------------------------------------

    async def submit(self, encodings: Sequence[Encoding]) -> np.ndarray:
        """Pooled vectors for already tokenised ``encodings`` (in order), in shared batches."""
        job = self._job(len(encodings))
        job.encodings = encodings
        estimates = [len(e.ids) for e in encodings]
        await self._enqueue(job, estimates)
        return await job.future

    async def submit_texts(
        self, texts: list[str], fit: Fit, *, normalize: bool = True
    ) -> tuple[np.ndarray, Encoded]:
        """Vectors for ``texts``, tokenised by the worker and checked by ``fit``.

        Rows are L2-normalised unless ``normalize=False``. Returns them with the
        :class:`Encoded` ``fit`` made (token counts, truncated inputs)."""
        if self._tokenize is None:
            raise TypeError("this batcher was built without a tokenize function")
        job = self._job(len(texts))
        job.texts, job.fit, job.normalize = texts, fit, normalize
        per = self._chars_per_token
        estimates = [int(len(t) / per) + 2 for t in texts]
        await self._enqueue(job, estimates)
        vectors = await job.future
        assert job.encoded is not None
        return vectors, job.encoded

    def _job(self, n: int) -> _Job:
        if not self.alive:
            raise BackendError("the inference worker is not running")
        loop = asyncio.get_running_loop()
        return _Job(
            future=loop.create_future(),
            vectors=np.empty((n, self._dim), dtype=np.float32),
            remaining=n,
            queued_at=time.monotonic(),
        )

    async def _enqueue(self, job: _Job, estimates: list[int]) -> None:
        tokens = sum(estimates)
        with self._wake:
            try:
                self._admit(len(estimates), tokens)
            except OverloadedError:
                job.future.cancel()  # never queued: nobody will settle it
                raise
            self._queue.extend(_Item(job, i, e) for i, e in enumerate(estimates))
            self._waiting += len(estimates)
            self._queued_tokens += tokens
            seen = min(self._waiting + self._running, self.max_batch_size * self.workers)
            self._in_flight = 0.9 * self._in_flight + 0.1 * seen
            self._wake.notify()

    def _admit(self, inputs: int, tokens: int) -> None:
        """Raise :class:`OverloadedError` if this request would pass a queue bound."""
        queued = self._waiting
        if queued + inputs > self.max_queue:
            self._refuse(
                "inputs",
                f"the server is overloaded ({queued} inputs queued, limit {self.max_queue})",
            )
        limit = self.max_queue_tokens
        if limit is not None and self._queued_tokens and self._queued_tokens + tokens > limit:
            self._refuse(
                "tokens",
                f"the server is overloaded (about {self._queued_tokens} tokens queued, limit "
                f"{limit})",
            )
        wait = self.expected_wait  # the work ahead of this request
        if self.max_wait_s is not None and wait > self.max_wait_s:
            self._refuse(
                "wait",
                f"the server is overloaded (the queued work takes about {wait:.1f} s, the "
                f"limit is {self.max_wait_s:g} s)",
            )

    def _refuse(self, reason: str, message: str) -> None:
        self.stats.refused[reason] = self.stats.refused.get(reason, 0) + 1
        raise OverloadedError(message + "; retry later")

    # -- the worker thread --------------------------------------------------------------

    def _take_window(self) -> tuple[list[_Item], list[_Outcome]]:
        """Pop queued items in arrival order, up to the window's token budget (a request is
        never split across windows: two workers would tokenise it twice); and the refusals
        of items that waited past the deadline. Called with the lock held."""
        window: list[_Item] = []
        expired: list[_Outcome] = []
        tokens = 0
        now = time.monotonic()
        while self._queue and (
            not window
            or tokens + self._queue[0].estimate <= self._window_tokens
            or self._queue[0].job is window[-1].job
        ):
            item = self._queue.popleft()
            if not self._wanted(item, now, expired):
                self._release_locked(item)
                continue
            window.append(item)
            tokens += item.estimate
        return window, expired

    def _wanted(self, item: _Item, now: float, refused: list[_Outcome]) -> bool:
        """Whether ``item`` is still to be computed: not if its caller left (counted as
        skipped) or its deadline passed (its refusal added to ``refused``). Called with the
        lock held."""
        job = item.job
        if job.gone():
            self.stats.skipped += 1
            return False
        if self._expired(job, now):
            refused.append(self._expire(job))
            return False
        return True

    def _release_locked(self, item: _Item) -> None:
        if not item.released:
            item.released = True
            self._waiting -= 1
            self._queued_tokens -= item.estimate

    def _release(self, items: list[_Item]) -> None:
        with self._lock:
            for item in items:
                self._release_locked(item)

    def _expired(self, job: _Job, now: float) -> bool:
        limit = self.max_wait_s
        return limit is not None and not job.started and now - job.queued_at > limit

    def _expire(self, job: _Job) -> _Outcome:
        job.failed = True
        self.stats.refused["deadline"] = self.stats.refused.get("deadline", 0) + 1
        return job.future, OverloadedError(
            f"the server is overloaded (waited over {self.max_wait_s:g} s for a batch); retry later"
        )

    def _ended(self) -> bool:
        return self._stopping or self._fatal is not None

    def _work(self) -> None:
        """One worker: run a planned batch if one is ready, else plan the next window (and
        run its first batch, leaving the others ready for any worker)."""
        me = threading.get_ident()
        try:
            while True:
                window: list[_Item] | None = None
                expired: list[_Outcome] = []
                with self._wake:
                    while not (self._ready or self._queue or self._ended()):
                        self._wake.wait()
                    if self._ended():
                        return
                    if not self._ready and not self._gather():
                        continue  # another worker took the queue meanwhile
                    if self._ready:
                        batch = self._ready.popleft()
                    else:
                        window, expired = self._take_window()
                        batch = window
                    if self._queue or self._ready:  # a gathering worker may have had the notify
                        self._wake.notify()
                    self._held[me] = batch
                if window is not None:
                    self._post(expired)
                    batch = self._plan(window)
                    with self._lock:
                        self._held[me] = batch
                if batch:
                    self._run_planned(batch)
                with self._lock:
                    self._held.pop(me, None)
        except BaseException as exc:  # a bug or a runtime crash: fail everyone, health red
            if self._fatal is None:
                self._fatal = exc
                log.error("a batching worker died", exc_info=exc)
                self._call(self._fail_all, BackendError("the inference worker failed"))
            with self._wake:
                self._wake.notify_all()

    def _gather(self) -> bool:
        """While another worker runs a pass, wait a little for this worker's share of the
        inputs in flight to queue up, so that passes side by side are full ones: with every
        caller waiting on its answer, taking the queue at once makes one full pass and one
        of stragglers, and every pass costs a fixed part (the weights read once) on top of its
        tokens. Waits at most ``gather_s`` and a third of a pass; returns whether there is
        work. Called with the lock held."""
        if self.gather_s and self._busy and self.workers > 1:
            share = min(self.max_batch_size, self._in_flight / self.workers)
            deadline = time.monotonic() + min(self.gather_s, self._pass_s / 3)
            while len(self._queue) < share and self._busy and not (self._ready or self._ended()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._wake.wait(left)
        return bool(self._ready or self._queue) and not self._ended()

    def _plan(self, window: list[_Item]) -> list[_Item]:
        """Tokenise the window, cut it into batches (``plan_window``) and queue all but the
        first as ready; return the first."""
        self._post(self._encode(window))
        self._release([item for item in window if item.job.gone()])
        window = [item for item in window if not item.job.gone()]
        if not window:
            return []
        lengths = [item.length for item in window]
        plan = plan_window(
            lengths,
            self.batch_tokens,
            self.max_batch_size,
            self.pass_overhead_tokens,
            self.padding_cost,
        )
        batches = [[window[i] for i in idx] for idx in plan]
        if len(batches) > 1:
            with self._wake:
                self._ready.extend(batches[1:])
                self._wake.notify(len(batches) - 1)
        return batches[0]

    def _run_planned(self, planned: list[_Item]) -> None:
        """Run a planned batch, less the inputs whose caller left or whose deadline passed."""
        now = time.monotonic()
        outcomes: list[_Outcome] = []
        batch = []
        with self._lock:  # the stats and a job's refusal are shared with the other workers
            for item in planned:
                if self._wanted(item, now, outcomes):
                    batch.append(item)
                self._release_locked(item)
        if batch:
            outcomes.extend(self._run_batch(batch) if self._fatal is None else _failed(batch))
        self._post(outcomes)

    def _encode(self, window: list[_Item]) -> list[_Outcome]:
        """Tokenise the window's texts in one call, then fit each request to the window."""
        jobs = list({id(item.job): item.job for item in window if item.job.texts}.values())
        jobs = [job for job in jobs if job.encodings == () and not job.gone()]
        if not jobs:
            return []
        assert self._tokenize is not None
        texts = [t for job in jobs for t in job.texts or ()]
        try:
            flat = self._tokenize(texts)
        except Exception:  # one bad text: tokenise request by request, so only it fails
            flat = None
        failed: list[_Outcome] = []
        start = 0
        chars = tokens = 0
        for job in jobs:
            own = job.texts or []
            try:
                encodings = (
                    flat[start : start + len(own)] if flat is not None else self._tokenize(own)
                )
                assert job.fit is not None
                job.encoded = job.fit(own, encodings)
            except Exception as exc:
                job.failed = True
                failed.append((job.future, _client_error(exc, "tokenising failed")))
            else:
                job.encodings = job.encoded.encodings
                chars += sum(len(t) for t in own)
                tokens += sum(len(e.ids) for e in job.encodings)
            start += len(own)
        if tokens:  # keep the estimate for queued text honest
            self._chars_per_token = 0.8 * self._chars_per_token + 0.2 * max(chars / tokens, 0.5)
        return failed

    def _run_batch(self, batch: list[_Item]) -> list[_Outcome]:
        """Run one batch. A ``BaseException`` that is not an ``Exception`` (a crashed
        runtime) propagates and ends the worker, after which everyone is failed.

        A pass that runs alone (no other pass running, nothing else waiting, and none ran side
        by side in the last :data:`ALONE_AFTER_S`) gets the all-cores ``forward``; passes
        side by side run ``parallel``. Under load a lone pass is a gap between side-by-side
        ones: on all cores it would leave that session's pool thread spinning beside them."""
        me = threading.get_ident()
        for item in batch:
            item.job.started = True
        encodings = [item.job.encodings[item.index] for item in batch]
        with self._lock:
            now = time.monotonic()
            if self._busy:
                self._overlapped_at = now
            alone = not (self._busy or self._ready or self._queue)
            alone = alone and now - self._overlapped_at > ALONE_AFTER_S
            self._busy[me] = now
            self._running += len(batch)
            running = len(self._busy)
        forward = self._forward if alone or self._parallel is None else self._parallel
        start = time.perf_counter()
        try:
            vectors = forward(encodings)
            if vectors.shape != (len(batch), self._dim) or not np.isfinite(vectors).all():
                raise BackendError("the model returned non-finite or misshapen vectors")
        except Exception as exc:  # this batch failed; the worker carries on
            with self._lock:
                self.stats.failures += 1
            error = _client_error(exc, "inference failed")
            if not isinstance(exc, LembedError):
                log.error("inference failed for a batch of %d inputs", len(batch), exc_info=exc)
            outcomes: list[_Outcome] = []
            for item in batch:
                if not item.job.gone():
                    item.job.failed = True
                    outcomes.append((item.job.future, error))
            return outcomes
        finally:
            with self._wake:
                self._busy.pop(me, None)
                if self._busy:  # another pass ran beside this one until now
                    self._overlapped_at = time.monotonic()
                self._running -= len(batch)
                self._pass_s = 0.8 * self._pass_s + 0.2 * (time.perf_counter() - start)
                self._wake.notify_all()  # a worker gathering stops when none runs
        if self._fatal is not None:  # a stall (answered already) or another worker crashed
            return _failed(batch)
        seconds = time.perf_counter() - start
        padded = len(batch) * max(len(e.ids) for e in encodings)
        rate = padded / max(seconds, 1e-6) * running  # passes side by side add up
        wants = np.fromiter((item.job.normalize for item in batch), bool, len(batch))
        if wants.any():
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = np.where(wants[:, None], vectors / np.clip(norms, 1e-12, None), vectors)
        done: list[_Outcome] = []
        with self._lock:  # a request's inputs may finish in two workers at once
            old = self.token_rate
            self.token_rate = rate if old is None else 0.7 * old + 0.3 * rate
            self.stats.batches += 1
            self.stats.inputs += len(batch)
            self.stats.last_batch_at = time.monotonic()
            for item, vector in zip(batch, vectors, strict=True):
                job = item.job
                if job.gone():
                    continue
                job.vectors[item.index] = vector
                job.remaining -= 1
                if job.remaining == 0:
                    done.append((job.future, job.vectors))
        if self.on_batch is not None:  # prometheus metrics are thread-safe
            self.on_batch(len(batch), padded, seconds)
        return done

    # -- back on the event loop ---------------------------------------------------------

    def _call(self, fn: Callable[..., object], *args: object) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(fn, *args)

    def _post(self, outcomes: list[_Outcome]) -> None:
        if outcomes:
            self._call(_settle, outcomes)

    async def _watch(self) -> None:
        """Refuse queued inputs past the deadline while the worker is busy, and take a
        forward pass running past ``stall_s`` as a hung runtime."""
        bounds = [b for b in (self.max_wait_s, self.stall_s) if b is not None]
        if not bounds:
            return
        tick = min(0.25, max(0.01, min(bounds) / 10))
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            with self._lock:
                busy = min(self._busy.values(), default=None)
            if self.stall_s is not None and busy is not None and now - busy > self.stall_s:
                self._stall(now - busy)
                return
            if self.max_wait_s is not None:
                _settle(self._expire_queued(now))

    def _expire_queued(self, now: float) -> list[_Outcome]:
        out: list[_Outcome] = []
        limit = self.max_wait_s
        assert limit is not None
        with self._lock:
            while self._queue and now - self._queue[0].job.queued_at > limit:
                job = self._queue[0].job
                if job.started and not job.gone():
                    break  # a request already being served keeps its place
                self._release_locked(self._queue.popleft())
                if not job.gone():
                    out.append(self._expire(job))
        return out

    def _stall(self, seconds: float) -> None:
        self._fatal = StallError(f"a forward pass ran over {self.stall_s:g} s")
        log.error(
            "the inference worker is stuck: a forward pass has run %.1f s (stall bound %g s); "
            "failing waiting requests, readiness is red",
            seconds,
            self.stall_s,
        )
        stuck = f"the inference worker is stuck (a forward pass ran over {self.stall_s:g} s)"
        self._fail_all(BackendError(stuck))

    def _fail_all(self, error: Exception) -> None:
        """Answer every input still waiting (in the queue or the current window) with an error."""
        with self._wake:
            held = [item for items in self._held.values() for item in items]
            ready = [item for batch in self._ready for item in batch]
            pending = [*held, *ready, *self._queue]
            self._held.clear()
            self._ready.clear()
            self._queue.clear()
            for item in pending:
                self._release_locked(item)
            self._wake.notify_all()
        for item in pending:
            item.job.failed = True
            if not item.job.future.done():
                item.job.future.set_exception(error)


def plan_window(
    lengths: Sequence[int],
    budget: int,
    max_batch: int,
    overhead: int,
    padding_cost: float = 1.0,
) -> list[list[int]]:
    """Batches of indices (longest first) that cost least to run: each forward pass costs
    ``overhead`` plus its real tokens plus ``padding_cost`` per padding slot (``rows *
    longest`` slots in all), within ``budget`` padded tokens and ``max_batch`` rows (an
    input longer than the budget runs alone). ``padding_cost`` is 1 on a padded graph, less
    on an unpadded one (:func:`lembed.runtime.backends.padding_cost`).

    One pass over a window of mixed lengths pads every row to the longest; cutting the
    length-sorted window where it pays (a shortest-path over cut points) runs the short
    inputs without that padding. On all-MiniLM-L6-v2 on 2 cores a pass costs about as much
    as 30-40 extra tokens, which is the default ``overhead``.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    sizes = [lengths[i] for i in order]
    n = len(sizes)
    real = [0, *itertools.accumulate(sizes)]
    best: list[float] = [0.0] + [-1.0] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        longest = sizes[end - 1]
        for begin in range(end - 1, max(0, end - max_batch) - 1, -1):
            rows = end - begin
            if rows > 1 and rows * longest > budget:
                break
            tokens = real[end] - real[begin]
            cost = best[begin] + overhead + tokens + padding_cost * (rows * longest - tokens)
            if best[end] < 0 or cost < best[end]:
                best[end], cut[end] = cost, begin
    batches: list[list[int]] = []
    end = n
    while end > 0:
        batches.append(order[cut[end] : end])
        end = cut[end]
    return batches


def _settle(outcomes: list[_Outcome]) -> None:
    for future, value in outcomes:
        if future.done():
            continue
        if isinstance(value, BaseException):
            future.set_exception(value)
        else:
            future.set_result(value)  # type: ignore[arg-type]


def _failed(batch: list[_Item]) -> list[_Outcome]:
    """Errors for a batch's inputs after the worker pool failed (settling skips the ones the
    stall watchdog or ``_fail_all`` answered already)."""
    error = BackendError("the inference worker failed")
    return [(item.job.future, error) for item in batch if not item.job.gone()]


def _client_error(exc: Exception, what: str) -> LembedError:
    return exc if isinstance(exc, LembedError) else BackendError(what)
