#!/usr/bin/env python
"""Answer quality of ``lembed ask`` on the Python documentation: extractive vs the local
generator (SmolLM2-135M), over ``benchmarks/questions/python_docs.jsonl``.

The collection is Debian's ``python3-doc`` HTML (``apt-get install -y python3-doc``; the
pages stay outside the repository): the pages the questions expect plus as many other
library pages as distractors, indexed by the real ``lembed index`` into a Qdrant folder
(kept under ``--work`` so a rerun embeds nothing). Each question runs the real pipeline
(:func:`lembed.rag.pipeline.answer`) and is scored on:

- hit@5: the expected page is among the five passages of the context;
- cites: the answer cites at least one passage;
- citation precision: the share of cited passages that come from the expected page
  (over the answers that cite);
- fact: the answer contains one of the question's expected strings (case folded);
- repeats: answers with a sentence said twice (must be 0);
- latency: median seconds per answer after the models are loaded.

    .venv/bin/python benchmarks/rag_answers.py                       # extractive + local
    .venv/bin/python benchmarks/rag_answers.py --answerers extractive --mode hybrid
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
QUESTIONS = ROOT / "questions" / "python_docs.jsonl"
DISTRACTORS = [  # other library pages, fixed so runs compare
    "copy", "fnmatch", "glob", "heapq", "bisect", "gzip", "queue", "base64", "textwrap",
    "pprint", "struct", "os.path", "string", "dataclasses", "enum", "threading", "io",
    "pickle",
]  # fmt: skip


def find_docs() -> Path:
    for candidate in sorted(glob.glob("/usr/share/doc/python3*/html"), reverse=True):
        if Path(candidate, "library", "csv.html").is_file():
            return Path(candidate)
    raise SystemExit("no python3-doc HTML: apt-get update && apt-get install -y python3-doc")


def repeats(text: str) -> bool:
    sentences = [" ".join(s.split()).casefold() for s in re.split(r"(?<=[.!?])\s+|\n+", text)]
    sentences = [s for s in sentences if len(s) > 3]
    return len(sentences) != len(set(sentences))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answerers", default="extractive,local")
    parser.add_argument("--mode", default="dense", help="retrieval mode for the answers")
    parser.add_argument(
        "--modes", default="dense,bm25,hybrid", help="retrieval modes compared by hit@5 / MRR"
    )
    parser.add_argument("--docs", default=None, help="python3-doc html folder")
    parser.add_argument("--work", default="/tmp/lembed-rag-answers", help="index folder")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--json", dest="json_out", default=None, help="write results here")
    args = parser.parse_args()

    from lembed.engine.load import load_model
    from lembed.ingest.api import index
    from lembed.rag.generators import load_generator
    from lembed.rag.pipeline import answer, open_retriever
    from lembed.settings import Settings

    docs = Path(args.docs) if args.docs else find_docs()
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line]
    pages = sorted({q["page"] for q in questions} | {f"library/{d}.html" for d in DISTRACTORS})
    settings = Settings()
    model = load_model(settings=settings)
    store = f"qdrant+local:{Path(args.work) / 'store'}"
    t0 = time.perf_counter()
    report = index([docs / p for p in pages], store=store, collection="pydocs", model=model)
    print(
        f"{len(pages)} pages of {docs}: {report.chunks} chunks, {report.embedded} embedded now "
        f"({time.perf_counter() - t0:.1f} s)",
        file=sys.stderr,
    )
    retrieval_rows: dict[str, dict[str, float]] = {}
    for mode in args.modes.split(","):
        retriever, _ = open_retriever(
            store=store, collection="pydocs", mode=mode, model=model, backend=None,
            settings=settings,
        )  # fmt: skip
        ranks = []
        try:
            for q in questions:
                hits = retriever.retrieve(q["question"], k=20).hits
                pages_found = [str(h.metadata.get("source", "")) for h in hits]
                rank = next((i for i, s in enumerate(pages_found, 1) if s.endswith(q["page"])), 0)
                ranks.append(rank)
        finally:
            retriever.close()
        retrieval_rows[mode] = {
            "hit@1": sum(r == 1 for r in ranks) / len(ranks),
            "hit@5": sum(0 < r <= 5 for r in ranks) / len(ranks),
            "mrr@20": sum(1 / r for r in ranks if r) / len(ranks),
        }
    rows: dict[str, dict[str, object]] = {}
    for name in [a for a in args.answerers.split(",") if a]:
        retriever, _ = open_retriever(
            store=store,
            collection="pydocs",
            mode=args.mode,
            model=model,
            backend=None,
            settings=settings,
        )
        t0 = time.perf_counter()
        generator = None if name == "extractive" else load_generator(name, settings=settings)
        load_s = time.perf_counter() - t0
        per: list[dict[str, object]] = []
        try:
            for q in questions:
                start = time.perf_counter()
                result = answer(
                    q["question"],
                    retriever,
                    k=20,
                    top_n=5,
                    generator=generator,
                    max_tokens=args.max_tokens,
                    extractive=model,
                )
                seconds = time.perf_counter() - start
                text = result.answer or ""
                sources = [p.source for p in result.passages]
                cited = [p.source for p in result.passages if p.number in result.citations]
                per.append(
                    {
                        "id": q["id"],
                        "hit@5": any(s.endswith(q["page"]) for s in sources[:5]),
                        "cites": bool(cited),
                        "precision": (
                            sum(s.endswith(q["page"]) for s in cited) / len(cited)
                            if cited
                            else None
                        ),
                        "fact": any(f.casefold() in text.casefold() for f in q["facts"]),
                        "repeats": repeats(text),
                        "kind": result.answer_kind,
                        "seconds": seconds,
                        "answer": text,
                        "draft": result.draft,
                    }
                )
                print(f"[{name}] {q['id']}: {text[:150]!r}", file=sys.stderr)
        finally:
            retriever.close()
        precisions = [float(p["precision"]) for p in per if p["precision"] is not None]  # type: ignore[arg-type]
        rows[name] = {
            "questions": len(per),
            "hit@5": sum(bool(p["hit@5"]) for p in per) / len(per),
            "cites": sum(bool(p["cites"]) for p in per) / len(per),
            "citation_precision": statistics.mean(precisions) if precisions else 0.0,
            "fact": sum(bool(p["fact"]) for p in per) / len(per),
            "repeats": sum(bool(p["repeats"]) for p in per),
            "fallbacks": sum(p["kind"] == "fallback" for p in per),
            "median_s": statistics.median(float(p["seconds"]) for p in per),  # type: ignore[arg-type]
            "load_s": load_s,
            "per_question": per,
        }
    print(f"\n{len(questions)} questions, {len(pages)} pages, {report.chunks} chunks\n")
    print("| retrieval | hit@1 | hit@5 | MRR@20 |")
    print("|---|---:|---:|---:|")
    for mode, m in retrieval_rows.items():
        print(
            f"| {mode} | {100 * m['hit@1']:.0f} % | {100 * m['hit@5']:.0f} % | {m['mrr@20']:.3f} |"
        )
    print(f"\nanswers (retrieval {args.mode}):\n")
    print(
        "| answerer | hit@5 | cites | citation precision | fact | repeats | fallbacks | s/answer |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(
            f"| {name} | {100 * float(r['hit@5']):.0f} % | {100 * float(r['cites']):.0f} % | "  # type: ignore[arg-type]
            f"{100 * float(r['citation_precision']):.0f} % | {100 * float(r['fact']):.0f} % | "  # type: ignore[arg-type]
            f"{r['repeats']} | {r['fallbacks']} | {float(r['median_s']):.2f} |"  # type: ignore[arg-type]
        )
    if args.json_out:
        doc = {"retrieval": retrieval_rows, "answers": rows}
        Path(args.json_out).write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
