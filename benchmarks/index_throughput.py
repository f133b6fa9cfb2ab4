"""Index throughput vs the engine's raw embedding throughput on the same texts.

    .venv/bin/python benchmarks/index_throughput.py [--docs 120] [--reps 3]

SciFact documents are written as .txt files; each repetition times, back to back on the same
warm model: (raw) `model.embed` over exactly the chunks `lembed index` makes, in the same
batches; (index) a full `lembed.ingest.index` run — load, boilerplate, chunk, embed, write —
into a fresh store, for the default Chroma store and embedded Qdrant. Reported: medians of
tokens/s and the ratio index / raw (the issue asks for >= 0.8).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

import lembed
from lembed.ingest import index
from lembed.ingest.chunking import Chunker
from lembed.ingest.loaders import discover, load
from lembed.ingest.pipeline import plan_chunks

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=120)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lembed-tput-"))
    docs = tmp / "docs"
    docs.mkdir()
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(itertools.islice(fh, args.docs)):
            row = json.loads(line)
            (docs / f"{i:05d}.txt").write_text(f"{row['title']}\n{row['text']}", "utf-8")

    model = lembed.load_model()
    loaded = [d for p in discover([docs]) for d in load(p)[0]]
    chunks, _ = plan_chunks(loaded, Chunker(model), 0.3)
    texts = [c.text for c in chunks]
    model.embed(texts[:64])  # warm-up

    stores = {"chroma": "chroma:{}", "qdrant (edge)": "qdrant:{}"}
    raw_rates: list[float] = []
    rates: dict[str, list[float]] = {name: [] for name in stores}
    tokens = 0
    for rep in range(args.reps):
        t0 = time.perf_counter()
        tokens = 0
        for start in range(0, len(texts), args.batch):
            out = model.embed(texts[start : start + args.batch], truncate="error")
            tokens += out.prompt_tokens
        raw_rates.append(tokens / (time.perf_counter() - t0))
        for name, pattern in stores.items():
            uri = pattern.format(tmp / f"{name.split()[0]}-{rep}")
            t0 = time.perf_counter()
            report = index([docs], store=uri, model=model, batch_size=args.batch)
            wall = time.perf_counter() - t0  # includes opening and closing the store
            assert report.tokens == tokens and report.embedded == len(texts)
            rates[name].append(report.tokens / wall)
        print(
            f"rep {rep + 1}: raw {raw_rates[-1]:.0f} tok/s, "
            + ", ".join(f"{n} {r[-1]:.0f}" for n, r in rates.items()),
            flush=True,
        )

    raw = statistics.median(raw_rates)
    print(f"\n{args.docs} docs -> {len(texts)} chunks, {tokens} tokens; medians of {args.reps}")
    print("| path | tokens/s | vs raw embedding |")
    print("|---|---|---|")
    print(f"| model.embed (raw) | {raw:.0f} | 1.00 |")
    result = {"docs": args.docs, "chunks": len(texts), "tokens": tokens, "raw": raw}
    for name, values in rates.items():
        med = statistics.median(values)
        paired = statistics.median(v / r for v, r in zip(values, raw_rates, strict=True))
        print(
            f"| lembed index → {name} | {med:.0f} | {med / raw:.2f} (per-rep median {paired:.2f}) |"
        )
        result[name] = med
        result[f"{name} ratio per rep"] = paired
    out = ROOT / "benchmarks" / "results" / "index_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
