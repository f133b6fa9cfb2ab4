"""Fusing a dense and a lexical ranking, and the retrieval modes that name a fusion.

``hybrid`` is a *convex combination of max-normalised scores* (Bruch, Gai & Ingber, "An
Analysis of Fusion Functions for Hybrid Retrieval", TOIS 2023): each list's scores are
divided by that list's best score (the theoretical minimum of both, cosine clipped at 0
and BM25, is 0), so every normalised score lies in [0, 1] whatever the depth; a chunk's
fused score is ``weight * dense + (1 - weight) * lexical``, a chunk missing from one list
scoring 0 there. Unlike reciprocal rank fusion it keeps how far apart scores are, and the
fused score is itself in [0, 1], so it can be shown next to cosines.

``weight`` is the dense side's share. :data:`DEFAULT_WEIGHT` was chosen on SciFact's
*train* queries only and checked on its test queries and on a second set built from the
STS Benchmark (see ``benchmarks/rag_retrieval.py`` and the README's retrieval section).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from lembed.errors import ValidationError
from lembed.stores.base import Hit

Mode = Literal["dense", "bm25", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "bm25", "hybrid")
DEFAULT_WEIGHT = 0.7  # dense share of hybrid; tuned on SciFact train (see module doc)
# What `lembed ask` and `lembed search`-style callers use when no mode is named: dense
# unless fusion beat dense on every set measured (see the README's retrieval section).
DEFAULT_MODE = "dense"
RRF_K = 60  # the constant of Cormack et al. (2009); damps the head of each list


def parse_mode(text: str) -> tuple[Mode, float | None]:
    """``"dense"``, ``"bm25"``, ``"hybrid"`` or ``"hybrid:W"`` (0 ≤ W ≤ 1, the dense share)
    -> (mode, weight); weight is None except for hybrid."""
    name, sep, arg = text.strip().lower().partition(":")
    if name not in MODES or (sep and name != "hybrid"):
        raise ValidationError(
            f"mode must be dense, bm25, hybrid or hybrid:WEIGHT (0-1), not {text!r}",
            param="mode",
        )
    if name != "hybrid":
        return name, None
    if not sep:
        return "hybrid", DEFAULT_WEIGHT
    try:
        weight = float(arg)
    except ValueError:
        weight = -1.0
    if not 0.0 <= weight <= 1.0:
        raise ValidationError(
            f"the hybrid weight is the dense share, between 0 and 1, not {arg!r}", param="mode"
        )
    return "hybrid", weight


def mode_label(mode: Mode, weight: float | None) -> str:
    return f"hybrid:{weight:g}" if mode == "hybrid" and weight is not None else mode


def _normalised(hits: Sequence[Hit]) -> dict[str, float]:
    best = max((h.score for h in hits), default=0.0)
    if best <= 0:
        return {h.id: 0.0 for h in hits}
    return {h.id: max(0.0, h.score) / best for h in hits}


def fuse(
    dense: Sequence[Hit], lexical: Sequence[Hit], k: int, weight: float = DEFAULT_WEIGHT
) -> list[Hit]:
    """The ``k`` best of both lists by ``weight * dense + (1 - weight) * lexical`` of
    max-normalised scores (each in [0, 1]); ties keep dense order first."""
    d, lex = _normalised(dense), _normalised(lexical)
    first: dict[str, Hit] = {}
    for hit in (*dense, *lexical):
        first.setdefault(hit.id, hit)
    fused = {i: weight * d.get(i, 0.0) + (1.0 - weight) * lex.get(i, 0.0) for i in first}
    order = sorted(first, key=lambda i: -fused[i])[:k]  # stable: dense order breaks ties
    return [Hit(i, fused[i], first[i].text, first[i].metadata) for i in order]


def rrf(rankings: Sequence[Sequence[Hit]], k: int, constant: int = RRF_K) -> list[Hit]:
    """Reciprocal rank fusion: score = Σ 1 / (constant + rank), best first, top ``k``
    (kept for comparison; ``hybrid`` uses :func:`fuse`)."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (constant + rank)
            first.setdefault(hit.id, hit)
    order = sorted(scores, key=lambda i: -scores[i])[:k]
    return [Hit(i, scores[i], first[i].text, first[i].metadata) for i in order]
