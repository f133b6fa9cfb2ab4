#!/usr/bin/env python
"""Turn the STS Benchmark into a BEIR retrieval set: a second, held-out check of fusion.

How it is built (deterministic; nothing here was tuned on it):

- pairs: the dev and test splits of the STS Benchmark (2,879 scored sentence pairs from
  news headlines, image captions and forums; ``../shared/data/stsbenchmark``);
- queries: each distinct ``sentence1`` that has at least one pair scored ≥ 4.0
  ("equivalent, or differing in unimportant details"), unless it equals its partner;
- relevant documents: that pair's ``sentence2`` (relevance 2 at ≥ 4.6, else 1);
- corpus: every distinct ``sentence2`` of every pair (whatever its score, so the low-scored
  partners act as hard distractors that share the topic and often the words), minus any
  sentence that is itself a query (so a query never finds its own text).

Why it is fair for fusion: the fusion weight was tuned on SciFact's *train* queries, a
different domain (scientific claims against abstracts) with long documents; here both
sides are single short sentences and paraphrase matters, so it tests whether a weight
chosen on one collection carries to another. It is written outside the repository::

    .venv/bin/python benchmarks/sts_retrieval.py --out /tmp/sts-retrieval
    .venv/bin/lembed eval retrieval --dataset /tmp/sts-retrieval \\
        --mode dense --mode bm25 --mode hybrid
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from lembed.evaluate.datasets import load_sts

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "stsbenchmark"
RELEVANT, HIGHLY = 4.0, 4.6


def _id(prefix: str, text: str) -> str:
    return prefix + hashlib.sha256(text.encode()).hexdigest()[:12]


def build(source: Path, out: Path) -> tuple[int, int, int]:
    """Write ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv`` into ``out``;
    return (documents, queries, judgements)."""
    pairs: list[tuple[float, str, str]] = []
    for split in ("sts-dev.normalized.tsv", "sts-test.normalized.tsv"):
        data = load_sts(source / split)
        pairs += [
            (s, a.strip(), b.strip()) for s, (a, b) in zip(data.scores, data.pairs, strict=True)
        ]
    qrels: dict[str, dict[str, int]] = {}
    queries: dict[str, str] = {}
    for score, first, second in pairs:
        if score >= RELEVANT and first.casefold() != second.casefold():
            qid = _id("q", first)
            queries[qid] = first
            grade = 2 if score >= HIGHLY else 1
            qrels.setdefault(qid, {})[_id("d", second)] = grade
    query_texts = {t.casefold() for t in queries.values()}
    corpus = {_id("d", b): b for _, _, b in pairs if b.casefold() not in query_texts}
    qrels = {q: {d: g for d, g in rel.items() if d in corpus} for q, rel in qrels.items()}
    qrels = {q: rel for q, rel in qrels.items() if rel}
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for doc_id, text in sorted(corpus.items()):
            fh.write(json.dumps({"_id": doc_id, "title": "", "text": text}) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for qid in sorted(qrels):
            fh.write(json.dumps({"_id": qid, "text": queries[qid]}) + "\n")
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid in sorted(qrels):
            for doc_id, grade in sorted(qrels[qid].items()):
                fh.write(f"{qid}\t{doc_id}\t{grade}\n")
    return len(corpus), len(qrels), sum(len(r) for r in qrels.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sts", default=str(DATA), help="the STS Benchmark folder")
    parser.add_argument("--out", default="/tmp/sts-retrieval", help="BEIR folder to write")
    args = parser.parse_args()
    docs, queries, judged = build(Path(args.sts), Path(args.out))
    print(f"{args.out}: {docs:,} documents, {queries:,} queries, {judged:,} judgements")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
