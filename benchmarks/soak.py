#!/usr/bin/env python
"""Soak a live `lembed serve`: a bounded loop of mixed requests, watching memory and p99.

Starts the server (default model, onnx) on a free loopback port and sends, for
``--minutes``, a paced mix over all three dialects (Ollama /api/embed, OpenAI
/v1/embeddings float and base64, TEI /embed), with 1 to 64 inputs of 1 to ~300 tokens,
plus a share of bad requests (which must be 4xx). Every ``--window`` seconds it records the
server's RSS (from /proc) and the window's latency percentiles. It reports RSS growth from
the end of warm-up to the end, p99 of the first and last windows, request counts, 5xx (must
be 0) and failures. Only 127.0.0.1 is contacted; the loop stops by itself.

    .venv/bin/python benchmarks/soak.py --minutes 30 --rate 20 --json soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORDS = [
    "retrieval",
    "embedding",
    "vector",
    "model",
    "server",
    "batch",
    "token",
    "query",
    "document",
    "index",
    "chroma",
    "qdrant",
    "latency",
    "memory",
    "window",
    "prefix",
    "matryoshka",
    "quantise",
    "normalise",
    "cosine",
    "search",
]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_request(rng: random.Random) -> tuple[str, dict[str, Any], bool]:
    """(route, body, expected_ok)"""
    n = rng.choice([1, 1, 1, 1, 1, 2, 4, 8, 16, 32])
    sizes = [3, 8, 12, 20, 40, 120]  # words; ~1.2 tokens each
    texts = [" ".join(rng.choices(WORDS, k=rng.choice(sizes))) for _ in range(n)]
    kind = rng.random()
    if kind < 0.05:  # bad input: empty text, or wrong type
        return rng.choice(
            [
                ("/api/embed", {"model": "all-minilm", "input": ""}, False),
                ("/v1/embeddings", {"model": "all-minilm", "input": 42}, False),
                ("/embed", {"inputs": []}, False),
            ]
        )
    if kind < 0.4:
        return "/api/embed", {"model": "all-minilm", "input": texts}, True
    if kind < 0.7:
        fmt = rng.choice(["float", "base64"])
        body = {"model": "all-minilm", "input": texts, "encoding_format": fmt, "truncate": True}
        return "/v1/embeddings", body, True
    return "/embed", {"inputs": texts, "truncate": True}, True


async def soak(
    url: str, pid: int, minutes: float, rate: float, window: float, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    end = time.monotonic() + minutes * 60
    windows: list[dict[str, Any]] = []
    latencies: list[float] = []
    counts = {"requests": 0, "ok": 0, "rejected_4xx": 0, "server_errors": 0, "unexpected": 0}
    next_window = time.monotonic() + window
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one() -> None:
            route, body, expect_ok = make_request(rng)
            start = time.perf_counter()
            counts["requests"] += 1
            try:
                r = await client.post(route, json=body)
            except httpx.HTTPError:
                counts["unexpected"] += 1
                return
            latencies.append(time.perf_counter() - start)
            if r.status_code >= 500:
                counts["server_errors"] += 1
            elif r.status_code == 200:
                counts["ok"] += 1
                counts["unexpected"] += not expect_ok
            else:
                counts["rejected_4xx"] += 1
                counts["unexpected"] += expect_ok

        pending: set[asyncio.Task[None]] = set()
        while time.monotonic() < end:
            task = asyncio.create_task(one())
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(rng.expovariate(rate))
            if time.monotonic() >= next_window:
                lat = np.array(latencies or [0.0]) * 1000
                windows.append(
                    {
                        "t_s": round(minutes * 60 - (end - time.monotonic())),
                        "rss_mb": round(rss_mb(pid), 1),
                        "requests": len(latencies),
                        "p50_ms": round(float(np.percentile(lat, 50)), 2),
                        "p99_ms": round(float(np.percentile(lat, 99)), 2),
                    }
                )
                print(json.dumps(windows[-1]), file=sys.stderr, flush=True)
                latencies = []
                next_window += window
        await asyncio.gather(*pending)
    return {"counts": counts, "windows": windows}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.server.conftest import LiveServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=20, help="requests per second (Poisson)")
    parser.add_argument("--window", type=float, default=60, help="seconds per sample")
    parser.add_argument("--warmup", type=int, default=2, help="windows of warm-up")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the full result here")
    args = parser.parse_args()

    import os

    server = LiveServer([], {**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        result = asyncio.run(
            soak(server.url, server.proc.pid, args.minutes, args.rate, args.window, args.seed)
        )
    finally:
        server.stop()
    windows = result["windows"]
    base = windows[min(args.warmup, len(windows) - 1)]
    last = windows[-1]
    growth = (last["rss_mb"] - base["rss_mb"]) / base["rss_mb"] * 100
    summary = {
        **result["counts"],
        "rss_after_warmup_mb": base["rss_mb"],
        "rss_end_mb": last["rss_mb"],
        "rss_growth_pct": round(growth, 2),
        "p99_first_ms": windows[args.warmup]["p99_ms"] if len(windows) > args.warmup else None,
        "p99_last_ms": last["p99_ms"],
        "windows": len(windows),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, **result}, indent=2))


if __name__ == "__main__":
    main()
