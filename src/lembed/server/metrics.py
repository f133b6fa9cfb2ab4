"""Prometheus metrics of one server (its own registry, so apps never share counters)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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

    def observe_batch(self, inputs: int, padded_tokens: int, seconds: float) -> None:
        self.batch_inputs.observe(inputs)
        self.batch_tokens.observe(padded_tokens)
        self.batch_seconds.observe(seconds)

    def observe_rerank_batch(self, pairs: int, padded_tokens: int, seconds: float) -> None:
        self.rerank_pairs.observe(pairs)
        self.rerank_seconds.observe(seconds)

    def track_queue(self, size: Callable[[], int]) -> None:
        self.queue.set_function(lambda: float(size()))

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
