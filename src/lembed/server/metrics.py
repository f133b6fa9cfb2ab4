"""Prometheus metrics of one server (its own registry, so apps never share counters)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from lembed.engine.batcher import Batcher

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lembed_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lembed_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_inputs = Histogram(
            "lembed_batch_inputs",
            "inputs per forward pass",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.batch_tokens = Histogram(
            "lembed_batch_padded_tokens",
            "tokens per forward pass, padding included",
            buckets=(16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768),
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "lembed_batch_seconds",
            "time of one forward pass",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "lembed_input_tokens_total", "tokens embedded", ["model"], registry=self.registry
        )
        self.rerank_pairs = Histogram(
            "lembed_rerank_batch_pairs",
            "(query, passage) pairs per cross-encoder forward pass",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.rerank_seconds = Histogram(
            "lembed_rerank_batch_seconds",
            "time of one cross-encoder forward pass",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue = Gauge(
            "lembed_queue_inputs", "inputs waiting for a batch", registry=self.registry
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def count_tokens(self, model: str, tokens: int) -> None:
        """Tokens ``model`` embedded (the pool's ``on_embedded`` hook: every route's once)."""
        self.tokens.labels(model).inc(tokens)

    def observe_batch(self, inputs: int, padded_tokens: int, seconds: float) -> None:
        self.batch_inputs.observe(inputs)
        self.batch_tokens.observe(padded_tokens)
        self.batch_seconds.observe(seconds)

    def observe_rerank_batch(self, pairs: int, padded_tokens: int, seconds: float) -> None:
        self.rerank_pairs.observe(pairs)
        self.rerank_seconds.observe(seconds)

    def track_queue(self, size: Callable[[], int]) -> None:
        self.queue.set_function(lambda: float(size()))

    def track_batchers(self, batchers: Callable[[], list[Batcher]]) -> None:
        """Export the batchers' admission bounds, queued work, refusals and health."""
        self.registry.register(BatcherCollector(batchers))

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


class BatcherCollector(Collector):
    """Read at scrape time from the batchers (summed over the served models; the bounds are
    the same for all of them)."""

    def __init__(self, batchers: Callable[[], list[Batcher]]) -> None:
        self.batchers = batchers

    def collect(self) -> Iterator[Metric]:
        batchers = self.batchers()
        if not batchers:
            return
        first = batchers[0]

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, value=value)

        yield gauge(
            "lembed_queue_tokens",
            "estimated tokens waiting for a batch",
            sum(b.queued_tokens for b in batchers),
        )
        yield gauge(
            "lembed_queue_expected_wait_seconds",
            "the queued work at the measured token rate (the longest over models)",
            max(b.expected_wait for b in batchers),
        )
        yield gauge("lembed_queue_max_inputs", "admission bound: queued inputs", first.max_queue)
        if first.max_queue_tokens is not None:
            yield gauge(
                "lembed_queue_max_tokens", "admission bound: queued tokens", first.max_queue_tokens
            )
        if first.max_wait_s is not None:
            yield gauge(
                "lembed_queue_max_wait_seconds",
                "admission bound and deadline: seconds an input may wait for its batch",
                first.max_wait_s,
            )
        if first.stall_s is not None:
            yield gauge(
                "lembed_stall_seconds",
                "a forward pass running longer is a hung runtime",
                first.stall_s,
            )
        yield gauge(
            "lembed_worker_alive",
            "1 while every model's inference worker runs",
            float(all(b.alive for b in batchers)),
        )
        refused = CounterMetricFamily(
            "lembed_overload", "requests refused as overloaded, by bound", labels=["reason"]
        )
        reasons: dict[str, int] = {}
        for b in batchers:
            for reason, n in b.stats.refused.items():
                reasons[reason] = reasons.get(reason, 0) + n
        for reason in ("inputs", "tokens", "wait", "deadline"):
            refused.add_metric([reason], reasons.get(reason, 0))
        yield refused
