"""BM25 over chunks (bm25s, stop words, stemming) and its persistent index beside a store
(lembed.stores.lexical: a lexical store, so ingest never imports rag)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import StoreError
from lembed.settings import Settings
from lembed.stores import open_client
from lembed.stores.lexical import BM25, LexicalIndex, lexical_folder

CHUNKS = [
    ("a", "Paris is the capital of France.", {"source": "a.md"}),
    ("b", "Cats sleep for most of the day.", {"source": "b.md"}),
    ("c", "France exports cheese and wine.", {"source": "c.md"}),
    ("d", "The capitals of Europe: Berlin, Madrid, Rome.", {"source": "d.md"}),
]


def test_bm25_ranks_shared_terms_with_stemming_and_drops_non_matches() -> None:
    index = BM25(CHUNKS)
    hits = index.search("capital of France", k=10)
    assert hits[0].id == "a"  # both terms
    assert {h.id for h in hits} == {"a", "c", "d"}  # "capitals" stems to "capital"; b shares none
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.score > 0 for h in hits)
    assert hits[0].text == CHUNKS[0][1] and hits[0].metadata == {"source": "a.md"}
    assert index.search("capital of France", k=1)[0].id == "a"


def test_bm25_queries_without_known_terms_find_nothing() -> None:
    index = BM25(CHUNKS)
    assert index.search("the of and", k=5) == []  # stop words only
    assert index.search("zeppelin", k=5) == []
    assert BM25([]).search("paris") == []


def test_lexical_index_persists_updates_and_deletes(tmp_path: Path) -> None:
    folder = tmp_path / "lexical" / "docs"
    LexicalIndex(folder).update(CHUNKS)
    reopened = LexicalIndex(folder)
    assert reopened.count() == 4
    assert reopened.search("cheese wine", k=3)[0].id == "c"

    LexicalIndex(folder).update([("e", "Wine from Bordeaux.", {"source": "e.md"})], ["c"])
    again = LexicalIndex(folder)
    assert again.count() == 4
    assert [h.id for h in again.search("cheese wine", k=3)] == ["e"]


def test_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="lembed index"):
        LexicalIndex(tmp_path / "none").search("paris")


def test_lexical_folder_follows_the_store(tmp_path: Path) -> None:
    assert lexical_folder("chroma:/data/db", "docs", tmp_path) == Path("/data/db/lexical/docs")
    assert lexical_folder("qdrant:./q", "docs", tmp_path) == Path("q/lexical/docs")
    assert lexical_folder("memory:", "docs", tmp_path) is None
    remote = lexical_folder("qdrant+http://127.0.0.1:6333", "docs", tmp_path)
    assert remote is not None and remote.parent.parent == tmp_path / "lexical"
    other = lexical_folder("qdrant+http://127.0.0.1:6334", "docs", tmp_path)
    assert other != remote


@pytest.mark.store
def test_lembed_index_keeps_the_bm25_index_in_step(
    tmp_path: Path, fake_model: EmbeddingModel, settings: Settings
) -> None:
    from lembed.ingest.api import drop, index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Volcano\n\nMagma rises through the crust.", encoding="utf-8")
    (docs / "b.md").write_text("# Glacier\n\nIce flows slowly downhill.", encoding="utf-8")
    store = f"chroma:{tmp_path / 'db'}"
    lexical = lexical_folder(store, "notes", settings.cache_dir)
    assert lexical == tmp_path / "db" / "lexical" / "notes"

    def state() -> tuple[int, int, list[str]]:
        client = open_client(store)
        try:
            count = client.get("notes").count()
        finally:
            client.close()
        found = LexicalIndex(lexical).search("magma lava ice", k=10)
        return LexicalIndex(lexical).count(), count, sorted(h.text.split()[-1] for h in found)

    opts = {"store": store, "collection": "notes", "model": fake_model, "settings": settings}
    index([docs], **opts)  # type: ignore[arg-type]
    assert state() == (2, 2, ["crust.", "downhill."])

    (docs / "a.md").write_text("# Volcano\n\nLava cools into basalt.", encoding="utf-8")
    index([docs], **opts)  # type: ignore[arg-type]
    assert state() == (2, 2, ["basalt.", "downhill."])  # the old chunk is gone from both

    (docs / "b.md").unlink()
    index([docs], prune=True, **opts)  # type: ignore[arg-type]
    assert state() == (1, 1, ["basalt."])

    drop("notes", store)  # a dropped and rebuilt collection leaves no strays behind
    (docs / "c.md").write_text("# Ice\n\nIce ages recur.", encoding="utf-8")
    index([docs / "c.md"], **opts)  # type: ignore[arg-type]
    assert state() == (1, 1, ["recur."])
