#!/usr/bin/env python
"""Soak a live `lembed serve`: a paced mix of requests for minutes, watching memory and latency.

Starts the server (default model, onnx) on a free loopback port and sends, for ``--minutes``,
Poisson arrivals at ``--rate`` requests/s over all three dialects (Ollama /api/embed, OpenAI
/v1/embeddings float and base64, TEI /embed), 1 to 32 inputs of 3 to 120 words, plus 5 % bad
requests (which must be 4xx). Only 127.0.0.1 is contacted; the loop stops by itself.

At most ``--concurrency`` requests are in flight. An arrival that finds them all busy is not
sent and is counted as ``skipped``: the offered load is above what the server finishes, and
queueing it in the client (an open loop with unbounded in-flight requests, as this script did
before) would only measure the client's own backlog — latency climbing without bound while
the server works at capacity. A sound soak has ``skipped`` near 0; lower ``--rate`` if not.

Counted answers: ``ok`` (200 to a good request), ``rejected_4xx`` (4xx to a bad one),
``status_5xx`` (every 5xx, overload answers included: the acceptance is 0), ``overloaded``
(the server shedding load: 503 or TEI's 429, with Retry-After; also in status_5xx when 503),
``unexpected`` (a good request refused, a bad one accepted, or a transport error). Every
``--window`` seconds it samples the server's RSS (/proc) and the window's p50/p99; RSS growth
is from the end of warm-up (``--warmup`` windows) to the last sample, with the least-squares
slope after warm-up beside it (a leak climbs steadily; growth that steps up when new, larger
batch shapes first arrive and then stays flat is the allocator). Exit 0 when status_5xx,
unexpected and overloaded are 0, skipped is under 1 % and RSS grew under 5 %.

Capacity on 2 shared cores (onnx, all-MiniLM-L6-v2, this mix, 8 in flight) is about 15-20
requests/s; the default ``--rate 6`` is a third of it, so a busy neighbour does not push the
soak into overload.

    .venv/bin/python benchmarks/soak.py --minutes 30 --rate 6 --warmup 5 --json soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
COUNTS = ("ok", "rejected_4xx", "status_5xx", "overloaded", "unexpected", "skipped")


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


def classify(status: int, headers: httpx.Headers, expect_ok: bool, counts: dict[str, int]) -> None:
    if status >= 500:
        counts["status_5xx"] += 1
    if status in (503, 429) and "retry-after" in headers:
        counts["overloaded"] += 1
    elif status == 200:
        counts["ok"] += 1
        counts["unexpected"] += not expect_ok
    elif 400 <= status < 500:
        counts["rejected_4xx"] += 1
        counts["unexpected"] += expect_ok
    elif status < 500:
        counts["unexpected"] += 1


async def soak(
    url: str, pid: int, args: argparse.Namespace, rng: random.Random
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    counts = dict.fromkeys(COUNTS, 0)
    windows: list[dict[str, Any]] = []
    latencies: list[float] = []
    window_skipped = 0
    in_flight = 0
    start = time.monotonic()
    end = start + args.minutes * 60
    next_window = start + args.window
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one(route: str, body: dict[str, Any], expect_ok: bool) -> None:
            nonlocal in_flight
            sent = time.perf_counter()
            try:
                response = await client.post(route, json=body)
            except httpx.HTTPError:
                counts["unexpected"] += 1
                return
            finally:
                in_flight -= 1
            latencies.append(time.perf_counter() - sent)
            classify(response.status_code, response.headers, expect_ok, counts)

        pending: set[asyncio.Task[None]] = set()
        arrival = start
        while arrival < end:
            arrival += rng.expovariate(args.rate)  # the schedule does not drift with load
            await asyncio.sleep(max(0.0, arrival - time.monotonic()))
            request = make_request(rng)  # drawn even when skipped: one sequence per seed
            if in_flight >= args.concurrency:
                counts["skipped"] += 1
                window_skipped += 1
            else:
                in_flight += 1
                task = asyncio.create_task(one(*request))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if time.monotonic() >= next_window:
                lat = np.array(latencies or [0.0]) * 1000
                windows.append(
                    {
                        "t_s": round(time.monotonic() - start),
                        "rss_mb": round(rss_mb(pid), 1),
                        "done": len(latencies),
                        "skipped": window_skipped,
                        "p50_ms": round(float(np.percentile(lat, 50)), 1),
                        "p99_ms": round(float(np.percentile(lat, 99)), 1),
                    }
                )
                print(json.dumps(windows[-1]), file=sys.stderr, flush=True)
                latencies, window_skipped = [], 0
                next_window += args.window
        await asyncio.gather(*pending)
    return counts, windows


def summarise(
    counts: dict[str, int], windows: list[dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any]:
    base = windows[min(args.warmup, len(windows) - 1)]
    last = windows[-1]
    growth = (last["rss_mb"] - base["rss_mb"]) / base["rss_mb"] * 100
    arrivals = sum(counts[k] for k in ("ok", "rejected_4xx", "overloaded", "skipped"))
    skipped_pct = counts["skipped"] / max(1, arrivals) * 100
    after = windows[args.warmup :] or windows
    # a leak grows at a steady rate; allocator warm-up steps up and stays (slope → 0 later)
    t = np.array([w["t_s"] for w in after], dtype=np.float64) / 60
    rss = np.array([w["rss_mb"] for w in after], dtype=np.float64)
    slope = float(np.polyfit(t, rss, 1)[0]) if len(after) > 1 else 0.0
    passed = (
        counts["status_5xx"] == 0
        and counts["unexpected"] == 0
        and counts["overloaded"] == 0
        and skipped_pct < 1
        and growth < 5
    )
    return {
        "rate_rps": args.rate,
        "concurrency": args.concurrency,
        "minutes": args.minutes,
        **counts,
        "skipped_pct": round(skipped_pct, 2),
        "throughput_rps": round(sum(w["done"] for w in windows) / (last["t_s"] or 1), 2),
        "rss_after_warmup_mb": base["rss_mb"],
        "rss_end_mb": last["rss_mb"],
        "rss_max_mb": max(w["rss_mb"] for w in after),
        "rss_growth_pct": round(growth, 2),
        "rss_slope_mb_per_min": round(slope, 2),
        "p50_first_ms": after[0]["p50_ms"],
        "p50_last_ms": last["p50_ms"],
        "p99_first_ms": after[0]["p99_ms"],
        "p99_last_ms": last["p99_ms"],
        "windows": len(windows),
        "passed": passed,
    }


def main() -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from tests.server.conftest import LiveServer

    from fuzz import drain

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=6, help="requests per second (Poisson)")
    parser.add_argument("--concurrency", type=int, default=8, help="most requests in flight")
    parser.add_argument("--window", type=float, default=60, help="seconds per sample")
    parser.add_argument("--warmup", type=int, default=2, help="windows of warm-up")
    parser.add_argument("--backend", default="onnx", choices=["onnx", "fake"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the full result here")
    args = parser.parse_args()

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LEMBED_BACKEND": args.backend}
    server = LiveServer([], env)
    log = drain(server)
    try:
        counts, windows = asyncio.run(
            soak(server.url, server.proc.pid, args, random.Random(args.seed))
        )
    finally:
        server.stop()
    if not windows:
        sys.exit("soak: shorter than one --window, nothing sampled")
    summary = summarise(counts, windows, args)
    print(json.dumps(summary, indent=2))
    if counts["status_5xx"] or counts["unexpected"]:
        print("server log (last lines):", *log, sep="\n", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "windows": windows}, indent=2))
    sys.exit(0 if summary["passed"] else 1)


if __name__ == "__main__":
    main()
