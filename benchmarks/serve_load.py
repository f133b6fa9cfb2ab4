#!/usr/bin/env python
"""Server throughput under concurrency vs the engine in-process, and idle single-query latency.

Starts a real ``lembed serve`` (default model, onnx) on a free loopback port, then in one run:

1. engine baseline: the same sentences embedded in-process in one batched call;
2. load: ``--clients`` concurrent clients (default 32), each sending one short sentence per
   request until every sentence was sent once (a bounded loop), over keep-alive
   connections; throughput, p50/p99 latency and failures;
3. idle latency: one client sending one sentence at a time (p50/p99): wrk with one
   connection for 5 s, or ``--single`` sequential httpx requests without wrk; beside it the
   engine's in-process p50 of one call per sentence (``--single`` of them), the floor under
   it on this CPU (a fixed 3 ms target is met or not by the CPU's speed as much as ours).

It prints the ratio server/engine (the target is ≥ 0.9), the idle p50 (target ≤ 3 ms), the
mean inputs per forward pass (from the server's /metrics, over the load phase) and the
server's CPU time per request. The load comes from wrk when it is installed (`apt-get
install wrk`), else from httpx in this process, which shares the 2 cores with the server and
makes the ratio a lower bound. Only 127.0.0.1 is contacted.

With ``--infinity`` the same load also goes, in the same rounds, to infinity-emb 0.0.78's
optimum (ONNX) engine on the same graph (install it with ``bash
benchmarks/infinity_setup.sh``), and the script prints lembed's requests/s over infinity's
(target ≥ 1.5) and both p99s.

    .venv/bin/python benchmarks/serve_load.py [--route /v1/embeddings] [--rounds 3] [--json]
        [--infinity [VENV]]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STS = ROOT.parent / "shared" / "data" / "stsbenchmark" / "sts-test.normalized.tsv"
INFINITY_VENV = Path.home() / ".cache" / "lembed-bench" / "infinity"


def sentences(n: int) -> list[str]:
    with STS.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    out = list(dict.fromkeys([r[1] for r in rows] + [r[2] for r in rows]))
    return (out * (n // len(out) + 1))[:n]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    return wait_healthy(
        port,
        subprocess.Popen(
            [sys.executable, "-m", "lembed", "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        ),
    )


def start_infinity(port: int, venv: Path) -> subprocess.Popen[bytes]:
    """infinity-emb's server, optimum engine, on the folder benchmarks/infinity_setup.sh laid
    out (lembed's packaged model with lembed's exported graph at its root, unoptimised so
    both run the very same graph); batch size as lembed's max_batch_size."""
    exe = venv / "bin" / "infinity_emb"
    if not exe.exists():
        raise SystemExit(f"{exe} is missing: run `bash benchmarks/infinity_setup.sh`")
    # Run from the model folder with --model-id ".": infinity lists a local folder's files
    # with their folder prefix, and optimum 2.x matches the graph by bare file name.
    cmd = [str(exe), "v2", "--model-id", ".", "--engine", "optimum"]
    cmd += ["--device", "cpu", "--batch-size", "32", "--served-model-name", "all-minilm"]
    cmd += ["--onnx-disable-optimize", "--no-model-warmup", "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--log-level", "warning"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"}
    log = (venv / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, cwd=venv / "model")
    return wait_healthy(port, proc)


def wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batch_counts(url: str) -> tuple[float, float]:
    """(inputs, forward passes) so far, from the server's /metrics histogram."""
    text = httpx.get(url + "/metrics", timeout=10).text
    found = dict(re.findall(r"^lembed_batch_inputs_(sum|count) ([\d.e+]+)$", text, re.M))
    return float(found.get("sum", 0)), float(found.get("count", 0))


def body(route: str, text: str) -> dict[str, Any]:
    if route == "/embed":
        return {"inputs": text}
    return {"model": "all-minilm", "input": text}


async def load(url: str, route: str, texts: list[str], clients: int) -> dict[str, Any]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for text in texts:
        queue.put_nowait(text)
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                text = queue.get_nowait()
                start = time.perf_counter()
                response = await client.post(route, json=body(route, text))
                latencies.append(time.perf_counter() - start)
                failures += response.status_code != 200

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - start
    return {
        "requests": len(texts),
        "failures": failures,
        "seconds": seconds,
        "per_s": len(texts) / seconds,
        "p50_ms": float(np.percentile(latencies, 50) * 1000),
        "p99_ms": float(np.percentile(latencies, 99) * 1000),
    }


def wrk_load(url: str, route: str, texts: list[str], clients: int, seconds: int) -> dict[str, Any]:
    """The same load from wrk (C): a Python client on these 2 cores steals the server's CPU
    (measured: 57 req/s with httpx vs 111-122 with wrk, same server, same minute)."""
    bodies = [json.dumps(body(route, t)) for t in texts]
    script = "local bodies = {" + ",".join(json.dumps(b) for b in bodies) + "}\n"
    script += (
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        "local i = 0\nrequest = function()\n  i = i % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[i])\nend\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", fh.name, url + route]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    Path(fh.name).unlink()

    def ms(label: str) -> float:
        value = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
        if value is None:
            return float("nan")
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[value.group(2)]
        return float(value.group(1)) * scale

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "failures": int(errors.group(1)) if errors else 0,
        "per_s": float(rate.group(1)) if rate else float("nan"),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
    }


def idle(url: str, route: str, texts: list[str], use_wrk: bool) -> dict[str, float]:
    """One client, one request at a time: wrk with one connection for 5 s when it is there
    (the same C client as the load, so client overhead is not counted as the server's),
    else ``len(texts)`` sequential httpx requests."""
    if use_wrk:
        got = wrk_load(url, route, texts, 1, 5)
        return {"p50_ms": got["p50_ms"], "p99_ms": got["p99_ms"]}
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for text in texts:
            start = time.perf_counter()
            response = client.post(route, json=body(route, text))
            latencies.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
    return {
        "p50_ms": float(np.percentile(latencies, 50) * 1000),
        "p99_ms": float(np.percentile(latencies, 99) * 1000),
    }


def engine_baseline(texts: list[str], single: int) -> tuple[float, float]:
    """The engine in-process: its batched rate over ``texts`` (emb/s), and the p50 of one
    call per sentence over the first ``single`` (ms): the floor under the idle HTTP p50 on
    this CPU, so the server's own share of it is the difference."""
    import lembed

    model = lembed.load_model()
    model.embed(texts[:64])
    start = time.perf_counter()
    model.embed(texts)
    rate = len(texts) / (time.perf_counter() - start)
    latencies = []
    for text in texts[:single]:
        start = time.perf_counter()
        model.embed([text])
        latencies.append(time.perf_counter() - start)
    return rate, float(np.percentile(latencies, 50) * 1000)


def measure(
    url: str,
    pid: int,
    route: str,
    texts: list[str],
    args: argparse.Namespace,
    use_wrk: bool,
    passes: bool = False,
) -> dict[str, Any]:
    """One load phase (wrk or httpx) and one idle phase against one server; with
    ``passes``, the mean inputs per forward pass of the load phase (lembed's /metrics)."""
    cpu = cpu_seconds(pid)
    before = batch_counts(url) if passes else (0.0, 0.0)
    if use_wrk:
        served = wrk_load(url, route, texts, args.clients, args.seconds)
    else:
        served = asyncio.run(load(url, route, texts, args.clients))
    served["cpu_ms_per_request"] = (cpu_seconds(pid) - cpu) * 1000 / max(served["requests"], 1)
    if passes:
        inputs, count = (a - b for a, b in zip(batch_counts(url), before, strict=True))
        served["inputs_per_pass"] = inputs / max(count, 1)
    single = idle(url, route, texts[: args.single], use_wrk)
    return {"load": served, "idle": single}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--route", default="/v1/embeddings", choices=["/api/embed", "/v1/embeddings", "/embed"]
    )
    parser.add_argument(
        "--infinity",
        nargs="?",
        const=str(INFINITY_VENV),
        default=None,
        metavar="VENV",
        help="also load infinity-emb (optimum engine) installed by benchmarks/infinity_setup.sh",
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seconds", type=int, default=15, help="wrk run length")
    parser.add_argument(
        "--client", choices=["auto", "wrk", "httpx"], default="auto", help="load generator"
    )
    args = parser.parse_args()

    texts = sentences(args.requests)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port)
    peer = None
    rounds = []
    try:
        peer_url = ""
        if args.infinity:
            peer_port = free_port()
            peer_url = f"http://127.0.0.1:{peer_port}"
            peer = start_infinity(peer_port, Path(args.infinity))
            asyncio.run(load(peer_url, "/embeddings", texts[:200], args.clients))  # warm-up
        use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
        asyncio.run(load(url, args.route, texts[:200], args.clients))  # warm-up
        for _ in range(args.rounds):
            engine, engine_single = engine_baseline(texts, args.single)
            ours = measure(url, server.pid, args.route, texts, args, bool(use_wrk), passes=True)
            result = {"engine_per_s": engine, "engine_single_p50_ms": engine_single, **ours}
            if peer is not None:
                result["infinity"] = measure(
                    peer_url, peer.pid, "/embeddings", texts, args, bool(use_wrk)
                )
            rounds.append(result)
    finally:
        for proc in (server, peer):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)

    ratio = statistics.median(r["load"]["per_s"] / r["engine_per_s"] for r in rounds)
    summary = {
        "client": "wrk" if use_wrk else "httpx",
        "route": args.route,
        "clients": args.clients,
        "engine_per_s": statistics.median(r["engine_per_s"] for r in rounds),
        "server_per_s": statistics.median(r["load"]["per_s"] for r in rounds),
        "ratio": ratio,
        "failures": sum(r["load"]["failures"] for r in rounds),
        "load_p50_ms": statistics.median(r["load"]["p50_ms"] for r in rounds),
        "load_p99_ms": statistics.median(r["load"]["p99_ms"] for r in rounds),
        "idle_p50_ms": statistics.median(r["idle"]["p50_ms"] for r in rounds),
        "idle_p99_ms": statistics.median(r["idle"]["p99_ms"] for r in rounds),
        "engine_single_p50_ms": statistics.median(r["engine_single_p50_ms"] for r in rounds),
        "idle_over_engine_ms": statistics.median(
            r["idle"]["p50_ms"] - r["engine_single_p50_ms"] for r in rounds
        ),
        "inputs_per_pass": statistics.median(r["load"]["inputs_per_pass"] for r in rounds),
        "cpu_ms_per_request": statistics.median(r["load"]["cpu_ms_per_request"] for r in rounds),
        "rounds": rounds,
    }
    if args.infinity:
        peers = [r["infinity"] for r in rounds]
        summary["infinity"] = {
            "per_s": statistics.median(p["load"]["per_s"] for p in peers),
            "load_p50_ms": statistics.median(p["load"]["p50_ms"] for p in peers),
            "load_p99_ms": statistics.median(p["load"]["p99_ms"] for p in peers),
            "failures": sum(p["load"]["failures"] for p in peers),
            "idle_p50_ms": statistics.median(p["idle"]["p50_ms"] for p in peers),
            "cpu_ms_per_request": statistics.median(p["load"]["cpu_ms_per_request"] for p in peers),
            "ratio": statistics.median(
                r["load"]["per_s"] / r["infinity"]["load"]["per_s"] for r in rounds
            ),
        }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"route {args.route}, {args.clients} clients ({summary['client']}), one sentence each")
    print(f"engine in-process : {summary['engine_per_s']:8.1f} emb/s")
    print(
        f"server under load : {summary['server_per_s']:8.1f} req/s  "
        f"(p50 {summary['load_p50_ms']:.1f} ms, p99 {summary['load_p99_ms']:.1f} ms, "
        f"{summary['failures']} failed)"
    )
    print(f"ratio server/engine: {ratio:.2f}  (target >= 0.90)")
    print(
        f"inputs per forward pass: {summary['inputs_per_pass']:.1f}; server CPU "
        f"{summary['cpu_ms_per_request']:.2f} ms per request"
    )
    print(
        f"idle single query : p50 {summary['idle_p50_ms']:.2f} ms, "
        f"p99 {summary['idle_p99_ms']:.2f} ms  (target p50 <= 3 ms)"
    )
    print(
        f"engine one call   : p50 {summary['engine_single_p50_ms']:.2f} ms in-process; the "
        f"server adds {summary['idle_over_engine_ms']:.2f} ms"
    )
    if args.infinity:
        inf = summary["infinity"]
        print(
            f"infinity-emb (optimum) : {inf['per_s']:8.1f} req/s  (p50 {inf['load_p50_ms']:.1f} "
            f"ms, p99 {inf['load_p99_ms']:.1f} ms, {inf['failures']} failed; CPU "
            f"{inf['cpu_ms_per_request']:.2f} ms per request; idle p50 {inf['idle_p50_ms']:.2f} ms)"
        )
        print(
            f"lembed / infinity   : {inf['ratio']:.2f}x requests/s (target >= 1.5), p99 "
            f"{summary['load_p99_ms']:.1f} vs {inf['load_p99_ms']:.1f} ms (target: no worse)"
        )


if __name__ == "__main__":
    main()
