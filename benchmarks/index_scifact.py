"""Full SciFact through `lembed index` into every store; NDCG@10 per store vs exact search.

    .venv/bin/python benchmarks/index_scifact.py [--docs N] [--queries N]

One pipeline run (default model, onnx) writes every chunk into all stores at once
(`FanOut`), so the stores hold identical vectors and any NDCG difference is the store's.
Then: NDCG@10 over the test queries per store (a document scores as its best chunk, 100
chunks retrieved), median query latency, and a second run of the same corpus (must embed
nothing). Results go to benchmarks/results/index_scifact.json and stdout.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import lembed
from lembed.evaluate.datasets import load_beir, sample
from lembed.evaluate.metrics import retrieval_scores
from lembed.ingest.pipeline import Progress, index
from lembed.stores import VectorStore, open_client
from lembed.stores.fanout import FanOut

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "data" / "scifact"


def start_chroma(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = str(Path(sys.executable).parent / "chroma")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("chroma run did not start")


def evaluate(store: VectorStore, qvecs, qids, qrels) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    run: dict[str, dict[str, float]] = {}
    latencies = []
    for qid, vec in zip(qids, qvecs, strict=True):
        t0 = time.perf_counter()
        hits = store.query(vec, k=100)
        latencies.append(time.perf_counter() - t0)
        docs: dict[str, float] = {}
        for hit in hits:
            doc = str(hit.metadata["doc_id"])
            docs[doc] = max(docs.get(doc, -1.0), hit.score)
        run[qid] = docs
    return retrieval_scores(qrels, run)["ndcg@10"], statistics.median(latencies) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=0, help="distractor docs (0 = full corpus)")
    parser.add_argument("--queries", type=int, default=0, help="queries (0 = all test queries)")
    args = parser.parse_args()

    data = load_beir(SCIFACT)
    if args.docs or args.queries:
        data = sample(data, args.queries or len(data.queries), args.docs, seed=0)
    model = lembed.load_model()
    tmp = Path(tempfile.mkdtemp(prefix="lembed-bench-"))
    corpus = tmp / "scifact" / "corpus.jsonl.gz"
    corpus.parent.mkdir()
    with gzip.open(corpus, "wt", encoding="utf-8") as fh:
        for doc_id, text in data.corpus.items():
            fh.write(json.dumps({"_id": doc_id, "title": "", "text": text}) + "\n")

    server, url = start_chroma(tmp / "chroma-server")
    uris = {
        "memory (exact)": ("memory:", "none"),
        "chroma": (f"chroma:{tmp / 'chroma'}", "none"),
        "chroma server": (f"chroma+{url}", "none"),
        "qdrant (edge)": (f"qdrant:{tmp / 'edge'}", "none"),
        "qdrant-client local": (f"qdrant+local:{tmp / 'qlocal'}", "none"),
        "qdrant (edge) int8": (f"qdrant:{tmp / 'edge-int8'}", "int8"),
        "qdrant (edge) binary": (f"qdrant:{tmp / 'edge-bin'}", "binary"),
    }
    try:
        clients = {name: open_client(uri, quantization=q) for name, (uri, q) in uris.items()}
        stores = {name: c.open("scifact", model.dim, model.name) for name, c in clients.items()}
        fan = FanOut(list(stores.values()))
        print(f"{data.describe()}; indexing into {len(stores)} stores at once ...", flush=True)

        def show(p: Progress) -> None:
            if p.stage == "embed" and p.chunks // 512 % 4 == 0:
                print(f"  {p.chunks}/{p.chunks_total} chunks, {p.seconds:.0f} s", flush=True)

        first = index([corpus], fan, model, batch_size=512, progress=show)
        print(
            f"indexed {first.documents} docs -> {first.chunks} chunks, {first.tokens} tokens "
            f"in {first.seconds:.0f} s (embedding {first.embed_seconds:.0f} s)",
            flush=True,
        )
        t0 = time.perf_counter()
        for store in stores.values():
            store.close()  # edge: build HNSW + quantised vectors, flush
        optimise_s = time.perf_counter() - t0
        again = index([corpus], fan, model)
        qids = list(data.queries)
        qvecs = model.embed([data.queries[q] for q in qids], input_type="query").vectors
        rows = {}
        for name, store in stores.items():
            ndcg, ms = evaluate(store, qvecs, qids, data.qrels)
            rows[name] = {"ndcg@10": round(ndcg, 5), "median_query_ms": round(ms, 2)}
        exact = rows["memory (exact)"]["ndcg@10"]
        print("\n| store | NDCG@10 | Δ vs exact (points) | median query ms (k=100) |")
        print("|---|---|---|---|")
        for name, row in rows.items():
            delta = (row["ndcg@10"] - exact) * 100
            print(
                f"| {name} | {row['ndcg@10']:.4f} | {delta:+.2f} | {row['median_query_ms']:.2f} |"
            )
        print(
            f"\nre-index: {again.embedded} embedded, {again.unchanged} unchanged, "
            f"{again.deleted} deleted in {again.seconds:.1f} s; edge optimise {optimise_s:.1f} s"
        )
        result = {
            "dataset": data.describe(),
            "model": model.name,
            "chunks": first.chunks,
            "tokens": first.tokens,
            "index_seconds": round(first.seconds, 1),
            "embed_seconds": round(first.embed_seconds, 1),
            "reindex": {
                "embedded": again.embedded,
                "unchanged": again.unchanged,
                "seconds": round(again.seconds, 1),
            },
            "stores": rows,
        }
        out = ROOT / "benchmarks" / "results" / "index_scifact.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        for client in clients.values():
            client.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
