"""Issue 17's ingest defects: per-file failures stay per-file (a symlink loop included), a
per-file size limit, NUL-byte files skipped as binary, JSON Lines records with lone
surrogates skipped, progress while chunking, and one writer per collection."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import StoreBusyError
from lembed.ingest import pipeline
from lembed.ingest.chunking import Chunker
from lembed.ingest.loaders import Document, Section, load, source_id
from lembed.ingest.lock import writer_lock
from lembed.ingest.pipeline import Progress, index, plan_chunks
from lembed.stores import writer_key as lock_key
from lembed.stores.memory import MemoryClient


def test_symlink_loop_is_a_skipped_file(tmp_path: Path) -> None:
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)
    assert source_id(loop) == loop.absolute().as_posix()  # no exception
    docs, skipped = load(loop)
    assert docs == [] and len(skipped) == 1
    assert skipped[0].failed and "symbolic links" in skipped[0].reason


def test_symlink_loop_does_not_stop_the_run(tmp_path: Path, fake_model: EmbeddingModel) -> None:
    (tmp_path / "good.txt").write_text("A readable file about embeddings.", encoding="utf-8")
    (tmp_path / "a.txt").symlink_to(tmp_path / "b.txt")
    (tmp_path / "b.txt").symlink_to(tmp_path / "a.txt")
    store = MemoryClient().open("c", fake_model.dim, model=fake_model.name)
    report = index([tmp_path], store, fake_model)
    assert report.documents == 1 and report.embedded >= 1
    assert sorted(Path(s.source).name for s in report.skipped if s.failed) == ["a.txt", "b.txt"]


@pytest.mark.parametrize("name", ["big.txt", "big.md", "big.html"])
def test_files_over_the_limit_are_skipped_with_a_reason(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("word " * 300_000, encoding="utf-8")  # 1.5 MB on one line
    docs, skipped = load(path, max_mb=1)
    assert docs == [] and skipped[0].failed
    assert "1.5 MB, over the 1 MB limit" in skipped[0].reason
    assert "--max-file-mb" in skipped[0].reason
    docs, skipped = load(path, max_mb=None)
    assert len(docs) == 1 and skipped == []


def test_jsonl_records_over_the_limit_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    big = "x" * 1_200_000
    path.write_text(f'{{"text": "small"}}\n{{"text": "{big}"}}\n', encoding="utf-8")
    docs, skipped = load(path, max_mb=1)
    assert [d.sections[0].text for d in docs] == ["small"]
    assert skipped[0].source.endswith("#L2") and "over the 1 MB limit" in skipped[0].reason


@pytest.mark.parametrize("content", [b"\0" * 4096, b"text\0\0\0more", b"\0"])
def test_nul_byte_files_are_binary(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "nul.txt"
    path.write_bytes(content)
    docs, skipped = load(path)
    assert docs == [] and skipped[0].failed and "binary" in skipped[0].reason


def test_jsonl_lone_surrogates_skip_the_record(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"text": "fine"}\n{"text": "bad \\ud800 text"}\n{"text": "ok", "tag": "\\udfff"}\n',
        encoding="utf-8",
    )
    docs, skipped = load(path)
    assert [d.sections[0].text for d in docs] == ["fine"]
    assert [s.source.rsplit("#", 1)[1] for s in skipped] == ["L2", "L3"]
    assert all("surrogate" in s.reason for s in skipped)


def test_unsupported_and_empty_files_are_not_failures(
    tmp_path: Path, fake_model: EmbeddingModel
) -> None:
    (tmp_path / "pic.png").write_bytes(b"\x89PNG")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "ok.txt").write_text("Some text.", encoding="utf-8")
    store = MemoryClient().open("c", fake_model.dim, model=fake_model.name)
    report = index([tmp_path], store, fake_model)
    assert report.documents == 1 and len(report.skipped) == 2
    assert not any(s.failed for s in report.skipped)


def test_chunking_reports_progress(
    tmp_path: Path, fake_model: EmbeddingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "CHUNK_GROUP_CHARS", 3000)
    docs = [Document(f"d{i}", "text", [Section("Sentence one. " * 150)]) for i in range(5)]
    seen: list[int] = []
    chunks, _ = plan_chunks(docs, Chunker(fake_model), 0.3, progress=seen.append)
    assert seen == [2, 4, 5] and chunks  # groups of ~3000 characters, whole documents
    whole, _ = plan_chunks(docs, Chunker(fake_model), 0.3)
    assert [c.id for c in chunks] == [c.id for c in whole]  # grouping changes nothing
    events: list[Progress] = []
    for i in range(3):
        (tmp_path / f"f{i}.txt").write_text("Some words here. " * 100, encoding="utf-8")
    store = MemoryClient().open("c", fake_model.dim, model=fake_model.name)
    index([tmp_path], store, fake_model, progress=events.append)
    stages = [e.stage for e in events]
    assert stages.index("load") < stages.index("chunk") < stages.index("embed")
    assert [e.documents for e in events if e.stage == "chunk"][-1] == 3


def test_lock_keys() -> None:
    assert lock_key("memory:", "c") is None
    assert lock_key("qdrant:/x/q", "a") == lock_key("qdrant:/x/q", "b")  # whole folder
    assert lock_key("chroma:/x/c", "a") != lock_key("chroma:/x/c", "b")
    assert lock_key("chroma+http://h:8000/", "a") == lock_key("chroma+http://h:8000", "a")


def _hold(store: str, cache: str, ready: Any, stop: Any) -> None:
    with writer_lock(store, "docs", Path(cache)):
        ready.set()
        stop.wait(30)


def test_a_second_writer_fails_at_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    store = f"chroma:{tmp_path / 'db'}"
    holder = ctx.Process(target=_hold, args=(store, str(tmp_path), ready, stop))
    holder.start()
    try:
        assert ready.wait(60)
        busy = pytest.raises(StoreBusyError, match=r"pid \d+.*another collection")
        with busy, writer_lock(store, "docs", tmp_path):
            pass
        with writer_lock(store, "other", tmp_path):  # another collection is free
            pass
    finally:
        stop.set()
        holder.join(30)
    with writer_lock(store, "docs", tmp_path), writer_lock(store, "docs", tmp_path):
        pass  # free again once the holder is gone; re-entrant in one process
