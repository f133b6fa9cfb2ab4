"""``lembed bench``: throughput and latency of a local engine or of a running server.

Local: embeddings/s and tokens/s per backend and batch size, single-query latency p50/p99,
and model-FLOPs utilisation (MFU): the useful FLOPs of the forward passes per second as a
share of this CPU's float32 GEMM peak, measured here with numpy's BLAS. (The fuller study,
with ONNX Runtime's own MatMul peak and sentence-transformers as baseline, is
``benchmarks/throughput.py``.)

Remote: the same measures against a server in any of the three dialects (Ollama
``/api/embed``, OpenAI ``/v1/embeddings``, TEI ``/embed``), with a loop bounded in requests
and seconds; only loopback addresses unless the caller allows others.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import numpy as np

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError, require

Dialect = Literal["ollama", "openai", "tei"]
DIALECTS: tuple[Dialect, ...] = ("ollama", "openai", "tei")
_PASSAGE_TEXT = (
    "Local embedding models turn text into vectors on the machine that holds the text. "
    "A retriever compares the vector of a question with the vectors of stored passages and "
    "returns the closest ones, which a reranker may sort again before a language model reads "
    "them. Throughput depends on the length of each text, the batch size, the number of "
    "cores and how well the runtime uses them; latency for a single short query is mostly "
    "fixed overhead. Quantised weights trade a little accuracy for speed, and quantised "
    "vectors trade a little recall for memory. Documents longer than the model's window are "
    "cut, so long texts should be split on sentence boundaries before they are embedded."
)


def builtin_texts(count: int = 256, words: Sequence[int] = (12, 48, 120, 200)) -> list[str]:
    """``count`` deterministic English texts cycling through the given word lengths."""
    passage = _PASSAGE_TEXT.split()
    out = []
    for i in range(count):
        n = words[i % len(words)]
        start = (i * 7) % len(passage)
        out.append(" ".join((passage * (n // len(passage) + 2))[start : start + n]))
    return out


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / mean in milliseconds of latencies given in seconds."""
    ms = np.asarray(samples, dtype=np.float64) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "n": len(ms),
    }


# -- local engine -----------------------------------------------------------------------


def gemm_peak_gflops(n: int = 1024, seconds: float = 1.0) -> float:
    """Best float32 GFLOP/s of numpy's BLAS multiplying two ``n × n`` matrices."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm up
    best = float("inf")
    stop, runs = time.perf_counter() + seconds, 0
    while time.perf_counter() < stop or runs < 3:
        start = time.perf_counter()
        a @ b
        best, runs = min(best, time.perf_counter() - start), runs + 1
    return 2 * n**3 / best / 1e9


def flops_per_token(config: dict[str, Any], seq: int) -> float:
    """Forward FLOPs per token of a BERT-style encoder from its ``config.json``: per layer
    2 × (4h² attention projections + 2hi FFN) + 4·seq·h for scores and the weighted sum."""
    h = int(config.get("hidden_size") or config["d_model"])
    layers = int(config.get("num_hidden_layers") or config["n_layers"])
    i = int(config.get("intermediate_size") or 4 * h)
    return float(layers * (2 * (4 * h * h + 2 * h * i) + 4 * seq * h))


def model_config(model: EmbeddingModel) -> dict[str, Any] | None:
    """The encoder's ``config.json``, or None where FLOPs mean nothing (the fake backend)."""
    if model.backend.name == "fake":
        return None
    path = Path(model.resolved.path) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) and "hidden_size" in config else None


@dataclass(frozen=True)
class Limits:
    """Bounds of one measurement: stop at whichever comes first."""

    max_seconds: float = 20.0
    max_items: int = 10_000


def bench_batches(
    model: EmbeddingModel,
    texts: Sequence[str],
    batch_sizes: Sequence[int],
    limits: Limits = Limits(),
    peak_gflops: float | None = None,
) -> list[dict[str, Any]]:
    """Embed ``texts`` in requests of each batch size; throughput and MFU per size."""
    config = model_config(model)
    rows = []
    for size in batch_sizes:
        if size < 1:
            raise ValidationError("batch sizes must be positive")
        model.embed(list(texts[:size]))  # warm up this shape
        done = tokens = 0
        flops = 0.0
        start = time.perf_counter()
        while done < limits.max_items and time.perf_counter() - start < limits.max_seconds:
            chunk = [texts[(done + j) % len(texts)] for j in range(size)]
            out = model.embed(chunk)
            done += size
            tokens += out.prompt_tokens
            if config:
                flops += sum(n * flops_per_token(config, n) for n in out.token_counts)
        seconds = time.perf_counter() - start
        gflops = flops / seconds / 1e9 if config else None
        rows.append(
            {
                "batch_size": size,
                "embeddings": done,
                "seconds": seconds,
                "embeddings_per_s": done / seconds,
                "tokens_per_s": tokens / seconds,
                "gflops": gflops,
                "mfu": gflops / peak_gflops if gflops is not None and peak_gflops else None,
            }
        )
    return rows


def bench_latency(
    call: Callable[[str], object], queries: Sequence[str], limits: Limits
) -> dict[str, float]:
    """Latency of single-text calls, cycling through ``queries``, within ``limits``."""
    call(queries[0])  # warm up
    samples: list[float] = []
    stop = time.perf_counter() + limits.max_seconds
    while len(samples) < limits.max_items and time.perf_counter() < stop:
        text = queries[len(samples) % len(queries)]
        start = time.perf_counter()
        call(text)
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


# -- a running server ---------------------------------------------------------------------


def check_loopback(url: str, allow_remote: bool = False) -> str:
    """The URL without a trailing slash; refuse hosts that are not loopback by default."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"--url must be http(s)://host:port, not {url!r}")
    if not allow_remote:
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise ValidationError(f"cannot resolve {parts.hostname}: {exc}") from exc
        addresses = {str(info[4][0]) for info in infos}
        if not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
            raise ValidationError(
                f"{parts.hostname} is not a loopback address; benchmarking another machine "
                "needs --allow-remote"
            )
    return url.rstrip("/")


def request_body(
    dialect: Dialect, model: str | None, texts: list[str]
) -> tuple[str, dict[str, Any]]:
    """The path and JSON body of one embedding request in ``dialect``."""
    if dialect == "ollama":
        return "/api/embed", {"model": model or "all-minilm", "input": texts}
    if dialect == "openai":
        return "/v1/embeddings", {"model": model or "all-minilm", "input": texts}
    if dialect == "tei":
        return "/embed", {"inputs": texts}
    raise ValidationError(f"dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}")


def parse_response(dialect: Dialect, body: Any) -> tuple[int, int | None]:
    """(vectors returned, prompt tokens if the server says) from a response body."""
    if dialect == "ollama":
        return len(body["embeddings"]), body.get("prompt_eval_count")
    if dialect == "openai":
        return len(body["data"]), (body.get("usage") or {}).get("prompt_tokens")
    return len(body), None


class RemoteEmbedder:
    """Posts embedding requests to one server in one dialect; raises on any failure."""

    def __init__(self, url: str, dialect: Dialect, model: str | None, timeout: float) -> None:
        httpx = require("httpx", "eval", "benchmarking a server")
        self.url, self.dialect, self.model = url, dialect, model
        self.client = httpx.Client(timeout=timeout)
        self._errors = (httpx.HTTPError, ValueError, KeyError, TypeError)

    def __call__(self, texts: str | list[str]) -> tuple[int, int | None]:
        batch = [texts] if isinstance(texts, str) else texts
        path, payload = request_body(self.dialect, self.model, batch)
        try:
            response = self.client.post(self.url + path, json=payload)
            response.raise_for_status()
            count, tokens = parse_response(self.dialect, response.json())
        except self._errors as exc:
            raise ValidationError(
                f"{self.dialect} request to {self.url}{path} failed: {exc}"
            ) from exc
        if count != len(batch):
            raise ValidationError(
                f"{self.url}{path} returned {count} vectors for {len(batch)} texts"
            )
        return count, tokens

    def close(self) -> None:
        self.client.close()


def bench_remote(
    embedder: Callable[[list[str]], tuple[int, int | None]],
    texts: Sequence[str],
    batch_sizes: Sequence[int],
    limits: Limits,
) -> list[dict[str, Any]]:
    """Requests of each batch size, one at a time, until ``limits`` (``max_items`` counts
    requests here); throughput per size."""
    rows = []
    for size in batch_sizes:
        done, tokens, requests = 0, 0, 0
        counted = True
        start = time.perf_counter()
        while requests < limits.max_items and time.perf_counter() - start < limits.max_seconds:
            count, used = embedder([texts[(done + j) % len(texts)] for j in range(size)])
            done, requests = done + count, requests + 1
            counted = counted and used is not None
            tokens += used or 0
        seconds = time.perf_counter() - start
        rows.append(
            {
                "batch_size": size,
                "requests": requests,
                "embeddings": done,
                "seconds": seconds,
                "embeddings_per_s": done / seconds,
                "tokens_per_s": tokens / seconds if counted else None,
            }
        )
    return rows
