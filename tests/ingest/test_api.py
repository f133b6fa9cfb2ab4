"""The Python API mirrors the CLI: index / search / collections / drop on a URI or a client."""

from __future__ import annotations

from pathlib import Path

import pytest

from lembed.errors import ValidationError
from lembed.ingest import collections, drop, index, search
from lembed.settings import Settings
from lembed.stores import open_client
from tests.ingest.conftest import scifact_docs


def test_index_then_search_with_the_collections_model(tmp_path: Path, settings: Settings) -> None:
    fake = settings.model_copy(update={"backend": "fake"})
    docs = tmp_path / "docs"
    docs.mkdir()
    rows = scifact_docs(8, skip=20)
    for i, row in enumerate(rows):
        (docs / f"{i}.md").write_text(f"# {row['title']}\n\n{row['text']}", encoding="utf-8")
    client = open_client("memory:")  # an open client: the caller keeps it
    report = index([docs], store=client, collection="notes", settings=fake, chunk_tokens=96)
    assert report.embedded == report.chunks and report.documents == 8
    [info] = collections(client)
    assert (info.name, info.count, info.model) == ("notes", report.chunks, "all-minilm-l6-v2")

    hits = search(rows[5]["title"], store=client, collection="notes", k=3, settings=fake)
    assert len(hits) == 3 and hits[0].metadata["source"].endswith("/5.md")
    assert hits[0].metadata["kind"] == "markdown"
    only = search(
        rows[5]["title"], store=client, collection="notes", where={"chunk": 0}, settings=fake
    )
    assert only and all(h.metadata["chunk"] == 0 for h in only)
    with pytest.raises(ValidationError):
        search("   ", store=client, collection="notes", settings=fake)
    client.open("other", 384, model="bge-small-en-v1.5")  # same size, another model
    with pytest.raises(ValidationError, match=r"bge-small-en-v1\.5"):
        index([docs], store=client, collection="other", settings=fake)
    assert drop("notes", client) and not drop("notes", client)


def test_chroma_telemetry_is_off(tmp_path: Path) -> None:
    client = open_client(f"chroma:{tmp_path}")
    assert client._client.get_settings().anonymized_telemetry is False  # type: ignore[attr-defined]
    client.close()
