"""One result per text, whatever ids the copies have."""

from __future__ import annotations

from pathlib import Path

from lembed.engine.model import EmbeddingModel
from lembed.settings import Settings
from lembed.stores.base import Hit
from lembed.stores.dedupe import text_key, unique
from lembed.stores.memory import MemoryClient


def test_unique_keeps_the_first_of_each_text() -> None:
    hits = [Hit("a", 0.9, "Same  text."), Hit("b", 0.8, "same text.\n"), Hit("c", 0.7, "Other")]
    assert [h.id for h in unique(hits)] == ["a", "c"]
    assert text_key("  A\tB \n") == "a b" and unique([]) == []


def test_search_returns_a_text_stored_twice_once(
    tmp_path: Path, fake_model: EmbeddingModel, settings: Settings
) -> None:
    from lembed.ingest.api import index, search

    docs = tmp_path / "docs"
    docs.mkdir()
    same = "Paris is the capital of France and home to the Eiffel Tower."
    (docs / "a.md").write_text(same, encoding="utf-8")
    (docs / "b.md").write_text(same, encoding="utf-8")  # the same chunk, another source
    (docs / "c.md").write_text("Cats sleep most of the day.", encoding="utf-8")
    client = MemoryClient()
    index([docs], store=client, model=fake_model, settings=settings, lexical=False)
    assert client.get("lembed").count() == 3
    hits = search(same, store=client, model=fake_model, k=3)
    assert [h.text for h in hits] == [same, "Cats sleep most of the day."]
