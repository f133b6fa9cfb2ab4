#!/usr/bin/env python
"""Rerank latency: 20 SciFact passages against one query, as ``lembed ask`` reranks them.

The catalog rerankers' weights cannot be downloaded on an offline machine, so by default
this measures cross-encoders of the *same shapes*, randomly initialised (latency depends on
the shape, not the weights): ``minilm-l6`` (6 layers × 384, the shape of
cross-encoder/ms-marco-MiniLM-L-6-v2) and ``bert-base`` (12 × 768, the encoder shape of
BAAI/bge-reranker-base; its larger XLM-R vocabulary only changes the embedding lookup).
Both use the packaged all-MiniLM-L6-v2 WordPiece tokenizer. ``--model NAME`` measures a
real local reranker instead. Median and p90 over ``--rounds`` rounds, ONNX and torch.

    .venv/bin/python benchmarks/rag_rerank.py
    .venv/bin/python benchmarks/rag_rerank.py --model bge-reranker-base --rounds 20
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
SHAPES = {"minilm-l6": (6, 384, 12, 1536), "bert-base": (12, 768, 12, 3072)}


def build(shape: str, folder: Path) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from lembed.models.catalog import find
    from lembed.models.resolve import packaged_path

    layers, hidden, heads, ffn = SHAPES[shape]
    source = packaged_path(find("all-minilm"))  # type: ignore[arg-type]
    assert source is not None, "the packaged default model is not installed"
    folder.mkdir(parents=True)
    shutil.copy(source / "tokenizer.json", folder / "tokenizer.json")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=ffn,
        max_position_embeddings=512,
        num_labels=1,
    )
    BertForSequenceClassification(config).eval().save_pretrained(str(folder))
    return folder


def passages(n: int) -> tuple[str, list[str]]:
    with gzip.open(DATA / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        docs = [json.loads(next(fh)) for _ in range(n)]
    query = "0-dimensional biomaterials show inductive properties."
    return query, [f"{d['title']} {d['text']}" for d in docs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a real reranker (name or folder)")
    parser.add_argument("-n", type=int, default=20, help="passages per query")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()

    from lembed.rag.reranker import Reranker
    from lembed.settings import Settings

    query, texts = passages(args.n)
    tmp = Path(tempfile.mkdtemp(prefix="lembed-rerank-"))
    settings = Settings(cache_dir=tmp / "cache", threads=args.threads)
    models = (
        {args.model: args.model}
        if args.model
        else {shape: str(build(shape, tmp / shape)) for shape in SHAPES}
    )
    print("| reranker | backend | pairs | tokens | load s | median ms | p90 ms |")
    print("|---|---|---|---|---|---|---|")
    try:
        for label, where in models.items():
            for backend in ("onnx", "torch"):
                reranker = Reranker(where, backend=backend, settings=settings)
                _, tokens = reranker.model.score_counted(query, texts)  # warm-up
                times = []
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    reranker.rerank(query, texts, top_n=5)
                    times.append((time.perf_counter() - t0) * 1000)
                times.sort()
                p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
                print(
                    f"| {label} | {backend} | {len(texts)} | {tokens} | "
                    f"{reranker.load_seconds:.1f} | {statistics.median(times):.0f} | {p90:.0f} |",
                    flush=True,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
