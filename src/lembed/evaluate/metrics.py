"""Retrieval and STS metrics, computed by standard libraries (never by hand).

Retrieval metrics come from ``pytrec_eval`` (the trec_eval C code that BEIR and MTEB use):
NDCG@10 is trec_eval's ``ndcg_cut.10``, Recall@k its ``recall.k`` and MRR@10 its
``recip_rank`` over each query's ten best results. STS uses SciPy's Spearman correlation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lembed.errors import ValidationError, require

Run = Mapping[str, Mapping[str, float]]
RECALL_AT: tuple[int, ...] = (1, 5, 10, 100)
METRICS: tuple[str, ...] = ("ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10")


def _pytrec_eval() -> Any:
    return require("pytrec_eval", "eval", "retrieval evaluation")


def top_k(run: Run, k: int) -> dict[str, dict[str, float]]:
    """Keep each query's ``k`` best-scored documents; ties go to the higher doc id, as
    trec_eval orders them."""
    out: dict[str, dict[str, float]] = {}
    for qid, docs in run.items():
        by_id = sorted(docs.items(), reverse=True)
        out[qid] = dict(sorted(by_id, key=lambda kv: -kv[1])[:k])  # stable: ids stay descending
    return out


def per_query(qrels: Mapping[str, Mapping[str, int]], run: Run) -> dict[str, dict[str, float]]:
    """Every metric of :data:`METRICS` for each judged query (a missing run scores 0)."""
    pte = _pytrec_eval()
    judged = {q: dict(d) for q, d in qrels.items() if d}
    if not judged:
        raise ValidationError("no query has a relevant document")
    runs = {q: {d: float(s) for d, s in run.get(q, {}).items()} for q in judged}
    recall = "recall." + ",".join(map(str, RECALL_AT))
    main = pte.RelevanceEvaluator(judged, {"ndcg_cut.10", recall}).evaluate(runs)
    mrr = pte.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(top_k(runs, 10))
    out: dict[str, dict[str, float]] = {}
    for q in judged:
        m, r = main.get(q, {}), mrr.get(q, {})
        row = {"ndcg@10": m.get("ndcg_cut_10", 0.0), "mrr@10": r.get("recip_rank", 0.0)}
        row |= {f"recall@{k}": m.get(f"recall_{k}", 0.0) for k in RECALL_AT}
        out[q] = {name: float(row[name]) for name in METRICS}
    return out


def retrieval_scores(qrels: Mapping[str, Mapping[str, int]], run: Run) -> dict[str, float]:
    """Mean of each metric over the judged queries (the BEIR / MTEB convention)."""
    rows = per_query(qrels, run)
    return {name: float(np.mean([r[name] for r in rows.values()])) for name in METRICS}


def spearman(predicted: Sequence[float] | np.ndarray, gold: Sequence[float]) -> float:
    """Spearman rank correlation between predicted similarities and gold scores."""
    stats = require("scipy.stats", "eval", "STS evaluation")
    if len(predicted) != len(gold) or len(gold) < 2:
        raise ValidationError("need two equally long lists of at least two scores")
    return float(stats.spearmanr(np.asarray(predicted), np.asarray(gold)).statistic)
