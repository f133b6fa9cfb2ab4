#!/usr/bin/env python
"""A/B of server variants under the same load: is a change to the serving path faster?

Starts one real ``lembed serve`` per variant (each with its own ``LEMBED_*`` environment, on
a free loopback port), then runs ``--rounds`` rounds; in each, every variant gets the same
wrk load (``--clients`` connections, one STS sentence per request, ``--seconds`` long) and
a short idle probe (one connection), in alternating order (A B, then B A, ...): on a shared
machine the speed drifts over minutes, and a fixed order hands the same variant the same
slot every round (measured here: a no-op change "won" 9 of 9 rounds in a fixed order and
lost 8 of 10 alternating). Idle servers use no CPU, so the variants do not slow each other.

Prints each round, then per variant the medians of requests/s, server CPU per request,
inputs per forward pass, p99 and idle p50, and how many rounds each variant beat the first.

    .venv/bin/python benchmarks/serve_ab.py base: workers1:LEMBED_BATCH_WORKERS=1 \\
        [--rounds 6] [--seconds 8] [--clients 32] [--passages EVERY] [--json]

A variant is ``NAME:`` followed by comma-separated ``VAR=VALUE`` settings (none: the
defaults). Needs wrk (``apt-get install wrk``). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve_load as load  # a script beside this one, not a package

ROUTE = "/v1/embeddings"
SCIFACT = load.ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl.gz"
KEYS = ("per_s", "cpu_ms_per_request", "inputs_per_pass", "p99_ms", "idle_p50_ms")


def variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, settings = text.partition(":")
    env = {}
    for pair in filter(None, settings.split(",")):
        key, sep, value = pair.partition("=")
        if not sep or not key.startswith("LEMBED_"):
            raise SystemExit(f"{text!r}: settings are LEMBED_VAR=VALUE, comma-separated")
        env[key] = value
    if not name:
        raise SystemExit(f"{text!r}: a variant is NAME:VAR=VALUE,...")
    return name, env


def start(env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    port = load.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lembed", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
    )
    return f"http://127.0.0.1:{port}", load.wait_healthy(port, proc)


def passages(n: int) -> list[str]:
    """The first 120 words of ``n`` SciFact abstracts (well inside a 256-token window)."""
    with gzip.open(SCIFACT, "rt", encoding="utf-8") as fh:
        docs = [json.loads(line) for _, line in zip(range(n), fh, strict=False)]
    return [" ".join(d["text"].split()[:120]) for d in docs]


def one_round(url: str, pid: int, texts: list[str], args: argparse.Namespace) -> dict[str, float]:
    """``serve_load.measure`` (wrk load, server CPU, inputs per pass, idle probe), flat."""
    got = load.measure(url, pid, ROUTE, texts, args, use_wrk=True, passes=True)
    served = got["load"]
    return {
        "per_s": served["per_s"],
        "cpu_ms_per_request": served["cpu_ms_per_request"],
        "inputs_per_pass": served["inputs_per_pass"],
        "p99_ms": served["p99_ms"],
        "idle_p50_ms": got["idle"]["p50_ms"],
    }


def line(name: str, row: dict[str, float]) -> str:
    return (
        f"{name:>12}: {row['per_s']:6.0f} req/s, CPU {row['cpu_ms_per_request']:.2f} ms/req, "
        f"{row['inputs_per_pass']:.1f} inputs/pass, p99 {row['p99_ms']:.0f} ms, "
        f"idle p50 {row['idle_p50_ms']:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", metavar="NAME:VAR=VALUE,...")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=8, help="wrk run length per round")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--passages",
        type=int,
        default=0,
        metavar="EVERY",
        help="one request in EVERY carries a SciFact abstract (its first 120 words) instead "
        "of an STS sentence: windows of mixed lengths, as queries beside passages",
    )
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(single=200)  # sentences the idle probe cycles through, as serve_load's
    args = parser.parse_args()
    variants = dict(variant(v) for v in args.variants)
    if len(variants) < 2:
        raise SystemExit("give two variants or more (names must differ)")
    texts = load.sentences(2000)
    if args.passages > 0:
        long = passages(len(texts) // args.passages)
        texts = [
            long[i // args.passages] if i % args.passages == 0 else t for i, t in enumerate(texts)
        ]
    servers: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    try:
        for name, env in variants.items():
            servers[name] = start(env)
        for url, _ in servers.values():
            load.wrk_load(url, ROUTE, texts, args.clients, 3)  # warm-up
        order = list(servers)
        for r in range(args.rounds):
            for name in order if r % 2 == 0 else order[::-1]:
                url, proc = servers[name]
                rows[name].append(one_round(url, proc.pid, texts, args))
                if not args.json:
                    print(f"round {r + 1} {line(name, rows[name][-1])}", flush=True)
    finally:
        for _, proc in servers.values():
            proc.terminate()
            proc.wait(timeout=10)
    first = order[0]
    summary: dict[str, Any] = {}
    for name, got in rows.items():
        summary[name] = {key: statistics.median(row[key] for row in got) for key in KEYS}
        summary[name]["rounds_faster_than_" + first] = sum(
            a["per_s"] > b["per_s"] for a, b in zip(got, rows[first], strict=True)
        )
    if args.json:
        print(json.dumps({"variants": variants, "medians": summary, "rounds": rows}, indent=2))
        return
    print(f"medians of {args.rounds} rounds ({args.clients} clients, {args.seconds} s each):")
    for name, row in summary.items():
        wins = row[f"rounds_faster_than_{first}"]
        beat = "" if name == first else f"; faster than {first} in {wins} of {args.rounds} rounds"
        print(line(name, row) + beat)


if __name__ == "__main__":
    main()
