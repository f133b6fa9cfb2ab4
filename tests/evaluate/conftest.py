"""A small BEIR folder cut from the real SciFact files, shared by the evaluation tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.conftest import DATA

SCIFACT = DATA / "scifact"
STS = DATA / "stsbenchmark"


def write_beir(folder: Path, queries: int = 30, extra_docs: int = 300) -> Path:
    """Write the first ``queries`` SciFact test queries, their judged docs and
    ``extra_docs`` other docs as a BEIR folder (gzip corpus, like the original)."""
    from lembed.evaluate.datasets import load_beir, sample

    small = sample(load_beir(SCIFACT), queries, extra_docs)
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh]
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(d) + "\n" for d in docs if d["_id"] in small.corpus)
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(q) + "\n" for q in rows if q["_id"] in small.queries)
    (folder / "qrels").mkdir(exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{q}\t{d}\t{s}" for q, rel in small.qrels.items() for d, s in rel.items()]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def beir_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_beir(tmp_path_factory.mktemp("beir") / "scifact-slice")
