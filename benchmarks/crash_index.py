#!/usr/bin/env python
"""kill -9 `lembed index` at random points, resume, and compare with a clean run.

For each seed: start `lembed index` on a SciFact-derived folder into a fresh embedded Chroma
store (the default store), kill it
with SIGKILL after a random delay (anywhere: while loading, embedding, or inside a store
write), run it again to completion, then compare the store with a clean run's:

- ids and metadata (``scan()``) must be equal, and counts equal;
- vectors, read back with chromadb itself, must be equal to 1e-6.

A store the kill left unreadable would show up as an error on resume; the script reports
it as a difference. Prints one line per seed and a summary:
"kill points tried N, differences 0".

    .venv/bin/python benchmarks/crash_index.py --seeds 10 --docs 150
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def index_cmd(docs: Path, store: str) -> list[str]:
    return [
        sys.executable, "-m", "lembed", "index", str(docs), "--store", store,
        "--chunk-tokens", "48", "--batch", "4", "--json",
    ]  # fmt: skip


def run_clean(docs: Path, store: str, env: dict[str, str]) -> tuple[dict[str, object], float]:
    start = time.monotonic()
    out = subprocess.run(index_cmd(docs, store), env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"clean run failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout), time.monotonic() - start


def read_all(folder: Path) -> dict[str, tuple[np.ndarray, object, object]]:
    """Every record of the embedded Chroma store's `lembed` collection: id → (vector,
    metadata, document), read with chromadb itself rather than through lembed."""
    import chromadb

    client = chromadb.PersistentClient(
        path=str(folder), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    got = client.get_collection("lembed").get(include=["embeddings", "metadatas", "documents"])
    return {
        i: (np.asarray(v, dtype=np.float32), m, d)
        for i, v, m, d in zip(
            got["ids"], got["embeddings"], got["metadatas"], got["documents"], strict=True
        )
    }


def compare(a_folder: Path, b_folder: Path) -> list[str]:
    """Differences between two stores (empty when equal): ids, metadata, texts, vectors."""
    a, b = read_all(a_folder), read_all(b_folder)
    if set(a) != set(b):
        return [f"ids differ ({len(set(a) ^ set(b))} not in both)"]
    diffs = []
    if any(a[i][1:] != b[i][1:] for i in a):
        diffs.append("metadata or text differs")
    worst = max((float(np.abs(a[i][0] - b[i][0]).max()) for i in a), default=0.0)
    if worst > 1e-6:
        diffs.append(f"vectors differ by up to {worst:.2g}")
    return diffs


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.cli.test_index import corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--docs", type=int, default=150)
    parser.add_argument("--backend", default="fake", choices=["fake", "onnx"])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lembed-crash-"))
    env = {**os.environ, "LEMBED_BACKEND": args.backend, "HF_HUB_OFFLINE": "1"}
    docs = corpus(work / "docs", args.docs, skip=700)
    clean_uri = f"chroma:{work / 'clean'}"
    report, clean_s = run_clean(docs, clean_uri, env)
    print(f"clean run: {report['chunks']} chunks in {clean_s:.1f} s", flush=True)

    differences = 0
    for seed in range(args.seeds):
        rng = random.Random(seed)
        uri = f"chroma:{work / f'killed-{seed}'}"
        delay = rng.uniform(0.2, clean_s * 0.95)
        proc = subprocess.Popen(
            index_cmd(docs, uri), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        time.sleep(delay)
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        resumed = subprocess.run(index_cmd(docs, uri), env=env, capture_output=True, text=True)
        if resumed.returncode != 0:
            diffs = [f"resume failed: {resumed.stderr.strip().splitlines()[-1:]}"]
            kept = "?"
        else:
            second = json.loads(resumed.stdout)
            kept = str(second["unchanged"])
            diffs = compare(work / f"killed-{seed}", work / "clean")
        differences += bool(diffs)
        state = "killed" if killed else "finished before the kill"
        print(
            f"seed {seed}: {state} at {delay:.2f} s, resume kept {kept} chunks, "
            f"{'OK' if not diffs else 'DIFF: ' + '; '.join(diffs)}",
            flush=True,
        )
    print(f"kill points tried {args.seeds}, differences {differences}")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
