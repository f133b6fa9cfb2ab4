"""``lembed recommend``: answer the seed's decision questions with a catalog model.

The answer is computed from data, not looked up: each catalog entry's languages, context
window, license, weight size and parameter count (``lembed.models.catalog``) filter the
candidates, and published retrieval quality ranks them. Quality is the MTEB English
retrieval average (NDCG@10) the seed quotes for the four models it trusts, each entry's
``mteb_retrieval``; other catalog models have no such figure and rank after them, larger
first.

Rules, in order:
1. languages: "multilingual" keeps only multilingual models.
2. document length: a model's window must hold the typical document (in tokens), or, if
   none does, the longest window wins and the documents must be chunked.
3. license: ``commercial`` drops non-commercial licenses (CC-BY-NC).
4. RAM: weights plus inference working memory (about 2 × the weights + 0.5 GiB) must fit.
5. priority "balanced" (default) or CPU-only: prefer models small enough for CPU serving
   (at most ~150 M parameters, where the seed measures ≈180 embeddings/s for nomic on an
   M2 Pro CPU; a 335 M model does well under half that). Priority "recall" with a GPU: the
   best published quality, preferring a model specialised in the asked language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lembed.errors import ValidationError
from lembed.models.catalog import CATALOG, ModelSpec

Priority = Literal["balanced", "recall"]
CPU_PARAMS_M = 150.0
LONG_DOC_TOKENS = 1500  # the seed's threshold for "long documents as single units"


@dataclass(frozen=True)
class Recommendation:
    model: ModelSpec
    reasons: list[str]
    alternatives: list[str]


def ram_needed_mb(spec: ModelSpec) -> float:
    """Rough resident memory of a loaded model: weights twice (session + arena) + 512 MiB."""
    return 2 * spec.size_mb + 512


def recommend(
    *,
    languages: str = "en",
    doc_tokens: int | None = None,
    cpu_only: bool = False,
    ram_gb: float | None = None,
    commercial: bool = False,
    priority: Priority = "balanced",
    catalog: tuple[ModelSpec, ...] = CATALOG,
) -> Recommendation:
    """Pick one catalog model for these needs and say why."""
    if languages not in ("en", "multilingual"):
        raise ValidationError("--languages must be en or multilingual")
    if priority not in ("balanced", "recall"):
        raise ValidationError("--priority must be balanced or recall")
    reasons: list[str] = []
    pool = list(catalog)
    if languages == "multilingual":
        pool = [s for s in pool if s.languages == "multilingual"]
        reasons.append("multilingual: " + ", ".join(s.name for s in pool) + " cover it")
    if doc_tokens:
        fits = [s for s in pool if s.max_tokens >= doc_tokens]
        if fits:
            pool = fits
            if doc_tokens > LONG_DOC_TOKENS:
                reasons.append(
                    f"documents of {doc_tokens:,} tokens fit whole in "
                    + ", ".join(f"{s.name} ({s.max_tokens:,})" for s in pool)
                )
        else:
            longest = max(s.max_tokens for s in pool)
            pool = [s for s in pool if s.max_tokens == longest]
            reasons.append(f"no window holds {doc_tokens:,} tokens: chunk to {longest:,}")
    if commercial:
        pool = [s for s in pool if "NC" not in s.license] or pool
        reasons.append("commercial use: non-commercial licenses dropped")
    if ram_gb is not None:
        budget = ram_gb * 1024
        fitting = [s for s in pool if ram_needed_mb(s) <= budget]
        if not fitting:
            raise ValidationError(
                f"no catalog model for these needs fits in {ram_gb:g} GiB of RAM; the "
                f"smallest needs about {min(ram_needed_mb(s) for s in pool) / 1024:.1f} GiB"
            )
        pool = fitting
    if not pool:
        raise ValidationError("no catalog model meets these needs")
    if cpu_only or priority == "balanced":
        light = [s for s in pool if s.params_m <= CPU_PARAMS_M]
        why = "CPU only" if cpu_only else "balanced quality and cost"
        if light:
            pool = light
            reasons.append(f"{why}: models up to {CPU_PARAMS_M:.0f} M parameters")
        else:
            pool = [min(pool, key=lambda s: s.params_m)]
            reasons.append(f"{why}: none is under {CPU_PARAMS_M:.0f} M parameters; the smallest")
    ranked = sorted(pool, key=lambda s: _rank(s, languages), reverse=True)
    best = ranked[0]
    score = best.mteb_retrieval
    reasons.append(
        f"{best.name}: "
        + (f"MTEB retrieval {score} (published), " if score else "no published figure here, ")
        + f"{best.params_m:g} M parameters, {best.dim}-d, {best.max_tokens:,}-token window, "
        f"{best.license}, about {ram_needed_mb(best) / 1024:.1f} GiB RAM"
    )
    return Recommendation(best, reasons, [s.name for s in ranked[1:4]])


def _rank(spec: ModelSpec, languages: str) -> tuple[bool, bool, float, float]:
    score = spec.mteb_retrieval
    specialised = spec.languages == languages
    return (score is not None, specialised, score or 0.0, spec.params_m)
