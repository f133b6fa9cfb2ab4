#!/usr/bin/env python
"""SciFact retrieval quality of ``lembed ask``'s modes: dense, bm25, hybrid[:W] (weighted
fusion of max-normalised scores, W = dense share), with and without reranking.

It runs the real retrieval code (:class:`lembed.rag.retriever.Retriever` over a memory
store and the :class:`lembed.stores.lexical.BM25` index) on the BEIR SciFact test split (5,183
abstracts, 300 queries) and scores the top 100 of each query with pytrec_eval (the BEIR /
MTEB convention): recall@5, NDCG@10, MRR@10, recall@100, plus the mean retrieval latency
per query. ``--rerank NAME`` adds "<mode>+rerank" rows: the top ``-k`` (20) reranked by a
cross-encoder, as ``lembed ask`` does (NDCG@10 / recall@5 then describe the reranked head).

Run from the repository root::

    .venv/bin/python benchmarks/rag_retrieval.py                     # all-MiniLM-L6-v2
    .venv/bin/python benchmarks/rag_retrieval.py --model bge-small-en-v1.5 --json out.json
    .venv/bin/python benchmarks/rag_retrieval.py --rerank bge-reranker-base
    .venv/bin/python benchmarks/rag_retrieval.py --modes dense,hybrid:0.5,hybrid:0.9

``lembed eval retrieval --mode ...`` measures the same modes without the reranker; this
script is the one that measures recall@5 with and without a cross-encoder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA), help="a BEIR folder (default: SciFact)")
    parser.add_argument("--model", default="all-minilm-l6-v2")
    parser.add_argument("--modes", default="dense,bm25,hybrid")
    parser.add_argument("--rerank", default=None, help="cross-encoder for '+rerank' rows")
    parser.add_argument("-k", type=int, default=20, help="passages reranked per query")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", dest="json_out", default=None, help="write results here")
    args = parser.parse_args()

    from lembed.engine.load import load_model
    from lembed.evaluate.datasets import load_beir
    from lembed.evaluate.metrics import retrieval_scores
    from lembed.evaluate.retrieval import embed_texts
    from lembed.rag.fusion import parse_mode
    from lembed.rag.reranker import Reranker
    from lembed.rag.retriever import Retriever
    from lembed.settings import Settings
    from lembed.stores.lexical import BM25
    from lembed.stores.memory import MemoryClient

    settings = Settings(threads=args.threads)
    data = load_beir(args.data, "test")
    print(data.describe(), file=sys.stderr)
    model = load_model(args.model, settings=settings)
    ids = list(data.corpus)
    texts = [data.corpus[i] for i in ids]

    t0 = time.perf_counter()
    vectors, cut = embed_texts(model, texts, "document")
    embed_s = time.perf_counter() - t0
    store = MemoryClient().open("scifact", model.dim, model=model.name)
    store.upsert(ids, vectors, texts, [{"source": i} for i in ids])
    t0 = time.perf_counter()
    bm25 = BM25([(i, t, {"source": i}) for i, t in zip(ids, texts, strict=True)])
    bm25_s = time.perf_counter() - t0
    print(
        f"embedded {len(ids)} docs in {embed_s:.1f} s ({cut} truncated at {model.max_tokens} "
        f"tokens); BM25 index built in {bm25_s:.1f} s",
        file=sys.stderr,
    )
    reranker = Reranker(args.rerank, settings=settings) if args.rerank else None

    rows = []
    for mode in args.modes.split(","):
        chosen, weight = parse_mode(mode)
        retriever = Retriever(model=model, store=store, lexical=bm25, mode=chosen, weight=weight)
        run: dict[str, dict[str, float]] = {}
        reranked: dict[str, dict[str, float]] = {}
        spent = rerank_spent = 0.0
        for qid, query in data.queries.items():
            t0 = time.perf_counter()
            hits = retriever.retrieve(query, k=100).hits
            spent += time.perf_counter() - t0
            run[qid] = {h.id: float(len(hits) - r) for r, h in enumerate(hits)}
            if reranker is not None and hits:
                head = hits[: args.k]
                t0 = time.perf_counter()
                ranked = reranker.rerank(query, [h.text for h in head])
                rerank_spent += time.perf_counter() - t0
                reranked[qid] = {
                    head[r.index].id: float(len(head) - n) for n, r in enumerate(ranked)
                }
        results = [(mode, run, spent, 0.0)]
        if reranker is not None:
            results.append((f"{mode}+rerank", reranked, spent, rerank_spent))
        for name, got, seconds, rerank_seconds in results:
            scores = retrieval_scores(data.qrels, got)
            row = {
                "mode": name,
                "recall@5": round(scores["recall@5"], 4),
                "ndcg@10": round(scores["ndcg@10"], 4),
                "mrr@10": round(scores["mrr@10"], 4),
                "recall@100": round(scores["recall@100"], 4),
                "retrieve_ms": round(seconds / len(data.queries) * 1000, 2),
                "rerank_ms": round(rerank_seconds / len(data.queries) * 1000, 2),
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)

    print(f"\nSciFact test ({len(data.queries)} queries, {len(ids)} docs), model {model.name}")
    print("| mode | recall@5 | NDCG@10 | MRR@10 | recall@100 | retrieve ms/query | rerank ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['mode']} | {r['recall@5']:.4f} | {r['ndcg@10']:.4f} | {r['mrr@10']:.4f} | "
            f"{r['recall@100']:.4f} | {r['retrieve_ms']:.2f} | {r['rerank_ms']:.2f} |"
        )
    if args.json_out:
        meta = {"model": model.name, "docs": len(ids), "queries": len(data.queries)}
        Path(args.json_out).write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
