"""Fusion of a dense and a lexical ranking, the mode names, and dropping repeated texts."""

from __future__ import annotations

import pytest

from lembed.errors import ValidationError
from lembed.rag.fusion import DEFAULT_WEIGHT, RRF_K, fuse, mode_label, parse_mode, rrf
from lembed.stores.base import Hit


def test_rrf_fuses_by_reciprocal_rank() -> None:
    a = [Hit("x", 0.9, "x"), Hit("y", 0.8, "y"), Hit("z", 0.7, "z")]
    b = [Hit("y", 12.0, "y"), Hit("w", 3.0, "w")]
    fused = rrf([a, b], k=10)
    assert [h.id for h in fused] == ["y", "x", "w", "z"]
    assert fused[0].score == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert fused[1].score == pytest.approx(1 / (RRF_K + 1))
    assert len(rrf([a, b], k=2)) == 2


def test_fuse_is_a_convex_combination_of_max_normalised_scores() -> None:
    dense = [Hit("x", 0.8, "x"), Hit("y", 0.4, "y")]
    lexical = [Hit("y", 20.0, "y"), Hit("w", 5.0, "w")]
    fused = {h.id: h.score for h in fuse(dense, lexical, k=10, weight=0.7)}
    assert fused["x"] == pytest.approx(0.7 * 1.0)  # absent from BM25: 0 there
    assert fused["y"] == pytest.approx(0.7 * 0.5 + 0.3 * 1.0)
    assert fused["w"] == pytest.approx(0.3 * 0.25)
    assert all(0.0 <= s <= 1.0 for s in fused.values())
    # the weight's ends are the two components' own orders
    assert [h.id for h in fuse(dense, lexical, 10, 1.0)][:2] == ["x", "y"]
    assert [h.id for h in fuse(dense, lexical, 10, 0.0)][:2] == ["y", "w"]
    assert len(fuse(dense, lexical, 1)) == 1 and fuse([], [], 5) == []
    # scores at or below 0 (a negative cosine) add nothing
    assert fuse([Hit("n", -0.2, "n")], [], 5)[0].score == 0.0


def test_mode_names() -> None:
    assert parse_mode("dense") == ("dense", None)
    assert parse_mode(" BM25 ") == ("bm25", None)
    assert parse_mode("hybrid") == ("hybrid", DEFAULT_WEIGHT)
    assert parse_mode("hybrid:0.25") == ("hybrid", 0.25)
    assert mode_label("hybrid", 0.25) == "hybrid:0.25" and mode_label("dense", None) == "dense"
    for bad in ("sparse", "dense:0.5", "hybrid:1.5", "hybrid:x", "hybrid:"):
        with pytest.raises(ValidationError, match=r"mode|weight"):
            parse_mode(bad)
