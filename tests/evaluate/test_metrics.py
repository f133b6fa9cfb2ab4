"""Metrics from pytrec_eval and SciPy, checked against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from lembed.errors import ValidationError
from lembed.evaluate.metrics import per_query, retrieval_scores, spearman, top_k


def test_one_relevant_doc_at_rank_two() -> None:
    scores = retrieval_scores({"q": {"a": 1}}, {"q": {"b": 0.9, "a": 0.8, "c": 0.1}})
    assert scores["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert scores["mrr@10"] == pytest.approx(0.5)
    assert (scores["recall@1"], scores["recall@5"]) == (0.0, 1.0)


def test_mrr_is_cut_at_ten_and_recall_counts_all_relevant() -> None:
    run = {"q": {f"d{i:02d}": 1.0 - i / 100 for i in range(20)}}
    qrels = {"q": {"d10": 1, "d15": 1, "x": 1}}  # ranks 11 and 16, and one never found
    row = per_query(qrels, run)["q"]
    assert row["mrr@10"] == 0.0 and row["ndcg@10"] == 0.0
    assert row["recall@10"] == 0.0 and row["recall@100"] == pytest.approx(2 / 3)


def test_graded_ndcg_and_mean_over_queries_missing_runs_count_zero() -> None:
    qrels = {"q1": {"a": 2, "b": 1}, "q2": {"c": 1}}
    run = {"q1": {"b": 0.9, "a": 0.5}}
    # trec_eval's gain is the grade itself (not 2^grade - 1); q2 has no run and scores 0
    ideal = 2 + 1 / math.log2(3)
    got = (1 + 2 / math.log2(3)) / ideal
    scores = retrieval_scores(qrels, run)
    assert scores["ndcg@10"] == pytest.approx(got / 2)


def test_top_k_breaks_ties_like_trec_eval() -> None:
    run = {"q": {"b": 1.0, "a": 1.0, "c": 2.0}}
    assert list(top_k(run, 2)["q"]) == ["c", "b"]
    # trec_eval itself ranks "b" above "a" on the tie: "a" relevant -> reciprocal rank 1/3
    assert per_query({"q": {"a": 1}}, run)["q"]["mrr@10"] == pytest.approx(1 / 3)


def test_spearman() -> None:
    assert spearman([0.1, 0.5, 0.9], [1, 2, 3]) == pytest.approx(1.0)
    assert spearman([3, 2, 1], [1, 2, 3]) == pytest.approx(-1.0)
    with pytest.raises(ValidationError):
        spearman([1.0], [1.0])
    with pytest.raises(ValidationError, match="no query"):
        retrieval_scores({"q": {}}, {})
