"""Model recommendation: the seed's decision questions answered from catalog data."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lembed.errors import ValidationError
from lembed.evaluate.recommend import recommend
from lembed.models.catalog import CATALOG


def test_seed_answers() -> None:
    assert recommend().model.name == "nomic-embed-text-v1.5"  # undecided
    assert recommend(cpu_only=True).model.name == "nomic-embed-text-v1.5"
    assert recommend(priority="recall").model.name == "mxbai-embed-large-v1"  # English, short
    assert recommend(languages="multilingual").model.name == "bge-m3"


def test_long_documents_need_a_long_window() -> None:
    answer = recommend(doc_tokens=3000, priority="recall")
    assert answer.model.max_tokens >= 3000
    assert "mxbai-embed-large-v1" not in answer.alternatives  # 512-token window
    assert any("fit whole" in r for r in answer.reasons)


def test_constraints_filter_the_catalog() -> None:
    small = recommend(ram_gb=1.0)
    assert small.model.size_mb * 2 + 512 <= 1024
    multi = recommend(languages="multilingual", doc_tokens=3000, commercial=True)
    assert "NC" not in multi.model.license
    with pytest.raises(ValidationError, match=r"fits in 0\.5 GiB"):
        recommend(ram_gb=0.5)
    with pytest.raises(ValidationError, match="en or multilingual"):
        recommend(languages="fr")


def test_the_answer_follows_the_data() -> None:
    # a catalog where nomic's window were short: long documents go elsewhere
    edited = tuple(
        replace(s, max_tokens=512) if s.name == "nomic-embed-text-v1.5" else s for s in CATALOG
    )
    answer = recommend(doc_tokens=3000, catalog=edited)
    assert answer.model.name != "nomic-embed-text-v1.5" and answer.model.max_tokens >= 3000
    no_window = recommend(doc_tokens=100_000, catalog=edited)
    assert any("chunk to 8,192" in r for r in no_window.reasons)


def test_published_scores_are_catalog_fields() -> None:
    scored = {s.name: s.mteb_retrieval for s in CATALOG if s.mteb_retrieval is not None}
    assert scored == {
        "nomic-embed-text-v1.5": 53.0,
        "bge-m3": 58.4,
        "mxbai-embed-large-v1": 56.0,
        "jina-embeddings-v3": 55.8,
    }
    best = recommend(priority="recall")
    assert any(f"MTEB retrieval {best.model.mteb_retrieval} (published)" in r for r in best.reasons)
    # ranked by the field: give the packaged default the top score and it wins
    edited = tuple(replace(s, mteb_retrieval=99.0) if s.packaged else s for s in CATALOG)
    assert recommend(priority="recall", catalog=edited).model.packaged
