"""The Ray path with 1 and 2 workers vs the single-process path, and proof that a local Ray
started by lembed connects to nothing but loopback.

    .venv/bin/python benchmarks/scale_ray.py [--docs 200] [--reps 3] [--cpus 2]
    .venv/bin/python benchmarks/scale_ray.py --strace      # re-runs itself under strace

SciFact abstracts are written as .txt files. One guarded local Ray (``--cpus`` CPUs) is
started once (its start is timed apart); then each repetition indexes the whole corpus into
a fresh in-memory store, back to back: single process (all cores, then 1 thread), Ray with 1
worker, Ray with 2 workers (1 CPU and 1 inference thread each). Reported: medians of wall
time; speed-up = single (all cores) / Ray; per-document overhead = (Ray 1 worker - single
1 thread) / documents, the cost of Ray's stages on the same compute (one thread).

``--strace`` runs a short version under ``strace -f -e trace=connect`` (the whole process
tree: driver, raylet, GCS, workers) and lists every connect() target by family: the run
fails if any goes beyond loopback or a Unix socket.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl.gz"
RESULTS = ROOT / "benchmarks" / "results"


def write_corpus(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(itertools.islice(fh, n)):
            row = json.loads(line)
            (folder / f"{i:05d}.txt").write_text(f"{row['title']}\n{row['text']}", "utf-8")


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from lembed.engine.load import load_model
    from lembed.ingest.pipeline import index
    from lembed.scale.ray_guard import ray_session
    from lembed.scale.ray_index import ModelArgs, RayOptions, index_ray
    from lembed.settings import Settings
    from lembed.stores import open_client

    tmp = Path(tempfile.mkdtemp(prefix="lembed-scale-"))
    docs = tmp / "docs"
    write_corpus(docs, args.docs)
    settings = Settings()
    models = {t: load_model(settings=settings.model_copy(update={"threads": t})) for t in (0, 1)}
    spec = ModelArgs(models[0].name, None, None, settings)
    times: dict[str, list[float]] = {}
    counts: dict[str, tuple[int, int]] = {}

    def record(key: str, seconds: float, report: Any) -> None:
        times.setdefault(key, []).append(seconds)
        counts[key] = (report.documents, report.embedded)
        print(f"  {key:<18} {seconds:7.2f} s  {report.embedded} chunks", flush=True)

    t0 = time.perf_counter()
    with ray_session(num_cpus=args.cpus, object_store_mb=512) as session:
        start_s = time.perf_counter() - t0
        print(f"ray started in {start_s:.1f} s: {session.resources}", flush=True)
        for rep in range(args.reps):
            print(f"repetition {rep + 1}/{args.reps}", flush=True)
            for threads, key in ((0, "single"), (1, "single_1thread")):
                store = open_client("memory:").open("bench", models[0].dim)
                t = time.perf_counter()
                report = index([docs], store, models[threads])
                record(key, time.perf_counter() - t, report)
            for workers in (1, 2):
                store = open_client("memory:").open("bench", models[0].dim)
                t = time.perf_counter()
                report = index_ray([docs], store, spec, RayOptions(workers=workers))
                record(f"ray_{workers}_worker", time.perf_counter() - t, report)
    shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    n = args.docs
    return {
        "docs": n,
        "chunks": counts["single"][1],
        "reps": args.reps,
        "cpus": args.cpus,
        "model": models[0].name,
        "ray_start_s": round(start_s, 2),
        "runs_s": {k: [round(x, 2) for x in v] for k, v in times.items()},
        "median_s": {k: round(v, 2) for k, v in med.items()},
        "speedup_vs_single": {
            f"ray_{w}_worker": round(med["single"] / med[f"ray_{w}_worker"], 3) for w in (1, 2)
        },
        "ray_2_vs_1_worker": round(med["ray_1_worker"] / med["ray_2_worker"], 3),
        "overhead_ms_per_doc": round(1000 * (med["ray_1_worker"] - med["single_1thread"]) / n, 1),
        "load_average_at_end": os.getloadavg(),
    }


def run_strace(args: argparse.Namespace) -> int:
    if shutil.which("strace") is None:
        print("strace is missing: apt-get install -y strace", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.netcheck
    from tests.netcheck import traced

    cmd = [
        sys.executable, __file__, "--docs", str(args.docs), "--reps", "1", "--cpus",
        str(args.cpus), "--no-save",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "ORT_"))}
    print("running under strace -f -e trace=connect:", " ".join(cmd), flush=True)
    result = traced(cmd, env)
    found = {
        "command": "strace -f -e trace=connect " + " ".join(cmd),
        "exit_status": result.exit_status,
        "local": dict(result.local),
        "outside": dict(result.outside),
    }
    print(json.dumps(found, indent=2))
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "scale_ray_strace.json").write_text(json.dumps(found, indent=2) + "\n")
    return 1 if result.outside or result.exit_status else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--strace", action="store_true", help="prove loopback-only connects")
    parser.add_argument("--no-save", action="store_true", help="do not write results/")
    args = parser.parse_args()
    if args.strace:
        args.docs = min(args.docs, 20)
        return run_strace(args)
    result = bench(args)
    print(json.dumps(result, indent=2))
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "scale_ray.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
