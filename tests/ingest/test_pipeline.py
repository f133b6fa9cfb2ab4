"""The indexing pipeline: re-index is a no-op, changes replace chunks, prune removes files,
unreadable files are reported and keep their chunks, PDFs lose their running boilerplate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.ingest.pipeline import IndexReport, Progress, index
from lembed.stores import StoreClient, VectorStore, open_client
from tests.ingest.conftest import scifact_docs, write_pdf


def corpus(folder: Path, n: int = 12) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, doc in enumerate(scifact_docs(n, skip=200)):
        (folder / f"doc{i:02d}.txt").write_text(f"{doc['title']}\n{doc['text']}", encoding="utf-8")
    return folder


@pytest.fixture(params=["memory", "chroma"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreClient]:
    uri = "memory:" if request.param == "memory" else f"chroma:{tmp_path / 'db'}"
    client = open_client(uri)
    yield client
    client.close()


def run(folder: Path, store: VectorStore, model: EmbeddingModel, **kw: object) -> IndexReport:
    return index([folder], store, model, chunk_tokens=128, **kw)  # type: ignore[arg-type]


def test_reindex_embeds_nothing(
    client: StoreClient, tmp_path: Path, fake_model: EmbeddingModel
) -> None:
    folder = corpus(tmp_path / "docs")
    store = client.open("docs", fake_model.dim, fake_model.name)
    events: list[Progress] = []
    first = run(folder, store, fake_model, progress=events.append)
    assert first.documents == 12 and first.embedded == first.chunks > 12
    assert first.tokens > 0 and first.tokens_per_second > 0
    assert store.count() == first.chunks
    assert events[-1].stage == "done" and events[-1].chunks == first.chunks
    assert {e.stage for e in events} == {"load", "chunk", "embed", "done"}
    snapshot = store.scan()
    again = run(folder, store, fake_model)
    assert (again.embedded, again.unchanged, again.deleted) == (0, first.chunks, 0)
    assert store.scan() == snapshot


def test_changed_file_replaces_its_chunks_and_prune_removes_deleted(
    client: StoreClient, tmp_path: Path, fake_model: EmbeddingModel
) -> None:
    folder = corpus(tmp_path / "docs")
    store = client.open("docs", fake_model.dim, fake_model.name)
    run(folder, store, fake_model)
    changed = folder / "doc03.txt"
    source = changed.resolve().as_posix()
    old_ids = set(store.scan({"source": source}))
    changed.write_text("A completely new text about sea turtles and their migration.", "utf-8")
    report = run(folder, store, fake_model)
    assert (report.embedded, report.deleted) == (1, len(old_ids))
    hits = store.scan({"source": source})
    assert len(hits) == 1 and not set(hits) & old_ids

    (folder / "doc05.txt").unlink()
    kept = run(folder, store, fake_model)  # without --prune the chunks stay
    assert kept.pruned == 0 and store.count({"source": (folder / "doc05.txt").as_posix()}) > 0
    pruned = run(folder, store, fake_model, prune=True)
    assert pruned.pruned > 0 and pruned.embedded == 0
    assert store.count({"source": (folder / "doc05.txt").resolve().as_posix()}) == 0
    fresh = open_client("memory:").open("fresh", fake_model.dim)
    run(folder, fresh, fake_model)
    assert store.scan() == fresh.scan()  # same as a clean run of what is there now


def test_prune_only_touches_the_given_paths(tmp_path: Path, fake_model: EmbeddingModel) -> None:
    store = open_client("memory:").open("docs", fake_model.dim)
    a, b = corpus(tmp_path / "a", 3), corpus(tmp_path / "b", 3)
    run(a, store, fake_model)
    run(b, store, fake_model)
    before = store.count()
    (a / "doc00.txt").unlink()
    report = run(b, store, fake_model, prune=True)
    assert report.pruned == 0 and store.count() == before


def test_unreadable_files_are_reported_and_keep_their_chunks(
    tmp_path: Path, fake_model: EmbeddingModel
) -> None:
    folder = corpus(tmp_path / "docs", 4)
    store = open_client("memory:").open("docs", fake_model.dim)
    run(folder, store, fake_model)
    target = folder / "doc01.txt"
    count = store.count({"source": target.resolve().as_posix()})
    target.write_bytes(b"\xff\xfe broken \x80")
    (folder / "notes.xyz").write_text("unknown type", "utf-8")
    report = run(folder, store, fake_model, prune=True)
    reasons = {Path(s.source).name: s.reason for s in report.skipped}
    assert set(reasons) == {"doc01.txt", "notes.xyz"}
    assert report.documents == 3 and report.embedded == 0
    assert store.count({"source": target.resolve().as_posix()}) == count


def test_pdf_is_chunked_without_header_footer_or_page_numbers(
    tmp_path: Path, fake_model: EmbeddingModel
) -> None:
    pages = [d["text"][:700] for d in scifact_docs(5, skip=300)]
    pdf = write_pdf(tmp_path / "report.pdf", pages, header="Initech Internal Memo")
    store = open_client("memory:").open("docs", fake_model.dim)
    report = index([pdf], store, fake_model, chunk_tokens=64)
    stored = store.query(fake_model.embed(["memo"]).vectors[0], k=1000)
    assert len(stored) == report.chunks > 5
    for hit in stored:
        assert "Initech" not in hit.text and "Page" not in hit.text, hit.text
        assert hit.metadata["kind"] == "pdf" and 1 <= int(hit.metadata["page"]) <= 5
    assert {int(h.metadata["page"]) for h in stored} == {1, 2, 3, 4, 5}
    assert dict(report.boilerplate.top()) == {"initech internal memo": 5, "page # of #": 5}
    assert report.boilerplate.removed == 10
    counts = fake_model.count_tokens([h.text for h in stored], input_type="document")
    assert max(counts) <= 64
