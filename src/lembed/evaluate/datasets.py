"""Evaluation data sets on disk: BEIR retrieval folders and STS Benchmark pair files.

A BEIR folder holds ``corpus.jsonl`` (or ``corpus.jsonl.gz``) with ``{"_id", "title",
"text"}`` lines, ``queries.jsonl`` with ``{"_id", "text"}`` lines and ``qrels/<split>.tsv``
with a ``query-id  corpus-id  score`` header. Only qrels with a score above 0 count as
relevant, and only queries that have one are evaluated (as BEIR and MTEB do).
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lembed.errors import ValidationError

Qrels = dict[str, dict[str, int]]


@dataclass(frozen=True)
class RetrievalDataset:
    """A BEIR-format retrieval set: documents, the evaluated queries and their judgements."""

    name: str
    corpus: dict[str, str]  # doc id -> text fed to the encoder ("title text")
    queries: dict[str, str]  # query id -> text, only queries with a relevant doc
    qrels: Qrels  # query id -> {doc id: relevance > 0}

    def describe(self) -> str:
        return f"{self.name}: {len(self.corpus):,} docs, {len(self.queries):,} queries"


@dataclass(frozen=True)
class StsDataset:
    """Sentence pairs with gold similarity scores."""

    name: str
    pairs: list[tuple[str, str]]
    scores: list[float]


def _open_lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield line


def _read_jsonl(path: Path) -> Iterator[dict[str, object]]:
    for n, line in enumerate(_open_lines(path), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{path}:{n}: not JSON: {exc.msg}") from exc
        if not isinstance(row, dict) or "_id" not in row:
            raise ValidationError(f"{path}:{n}: expected an object with an '_id'")
        yield row


def _find(folder: Path, *names: str) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise ValidationError(f"{folder} is not a BEIR folder: none of {', '.join(names)} found")


def doc_text(title: object, text: object) -> str:
    """BEIR / MTEB document text: ``title + " " + text``, stripped (title may be empty)."""
    return f"{title or ''} {text or ''}".strip()


def read_qrels(path: Path) -> Qrels:
    """Relevance judgements above 0 from a BEIR ``qrels/*.tsv`` file (header skipped)."""
    qrels: Qrels = {}
    for n, line in enumerate(_open_lines(path), 1):
        fields = line.rstrip("\n").split("\t")
        if n == 1 and not fields[-1].strip().lstrip("-").isdigit():
            continue  # header
        if len(fields) < 3:
            raise ValidationError(f"{path}:{n}: expected query-id, corpus-id, score")
        score = int(float(fields[2]))
        if score > 0:
            qrels.setdefault(fields[0], {})[fields[1]] = score
    return qrels


def load_beir(folder: Path | str, split: str = "test") -> RetrievalDataset:
    """Read a BEIR folder; raise :class:`ValidationError` naming what is missing or wrong."""
    root = Path(folder)
    if not root.is_dir():
        raise ValidationError(f"dataset folder {root} does not exist")
    corpus = {
        str(row["_id"]): doc_text(row.get("title"), row.get("text"))
        for row in _read_jsonl(_find(root, "corpus.jsonl", "corpus.jsonl.gz"))
    }
    all_queries = {
        str(row["_id"]): str(row.get("text") or "")
        for row in _read_jsonl(_find(root, "queries.jsonl", "queries.jsonl.gz"))
    }
    qrels = read_qrels(_find(root, f"qrels/{split}.tsv"))
    missing = [q for q in qrels if q not in all_queries]
    if missing:
        raise ValidationError(f"{len(missing)} qrels query ids are not in queries.jsonl")
    queries = {q: all_queries[q] for q in sorted(qrels, key=_natural)}
    return RetrievalDataset(root.name, corpus, queries, qrels)


def _natural(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() else (1 << 62, key)


def sample(
    dataset: RetrievalDataset, queries: int, extra_docs: int, seed: int = 0
) -> RetrievalDataset:
    """A smaller set: the first ``queries`` queries, every doc judged for them, plus
    ``extra_docs`` other docs drawn at random (``seed``) as distractors."""
    qids = list(dataset.queries)[:queries]
    judged = {d for q in qids for d in dataset.qrels[q] if d in dataset.corpus}
    others = sorted(d for d in dataset.corpus if d not in judged)
    drawn = random.Random(seed).sample(others, min(extra_docs, len(others)))
    keep = judged | set(drawn)
    return RetrievalDataset(
        name=f"{dataset.name}[{len(qids)}q,{len(keep)}d]",
        corpus={d: t for d, t in dataset.corpus.items() if d in keep},
        queries={q: dataset.queries[q] for q in qids},
        qrels={q: dataset.qrels[q] for q in qids},
    )


def load_sts(path: Path | str) -> StsDataset:
    """STS pairs from a folder (its ``sts-test.normalized.tsv``) or a file.

    ``*.normalized.tsv`` has a header ``score sentence1 sentence2 ...``; the original
    ``sts-*.csv`` release has no header and keeps score, sentence1, sentence2 in fields 4-6.
    Lines are split on TAB only: some sentences hold bare quote characters.
    """
    p = Path(path)
    if p.is_dir():
        p = _find(p, "sts-test.normalized.tsv", "sts-test.csv")
    if not p.is_file():
        raise ValidationError(f"STS file {p} does not exist")
    normalized = p.name.endswith(".normalized.tsv")
    pairs: list[tuple[str, str]] = []
    scores: list[float] = []
    for n, line in enumerate(_open_lines(p), 1):
        fields = line.rstrip("\n").split("\t")
        if normalized and n == 1:
            continue
        cols = fields[0:3] if normalized else fields[4:7]
        if len(cols) < 3:
            raise ValidationError(f"{p}:{n}: expected score, sentence1, sentence2")
        try:
            scores.append(float(cols[0]))
        except ValueError as exc:
            raise ValidationError(f"{p}:{n}: score {cols[0]!r} is not a number") from exc
        pairs.append((cols[1], cols[2]))
    if not pairs:
        raise ValidationError(f"{p} holds no sentence pairs")
    return StsDataset(p.parent.name, pairs, scores)
