"""``lembed index --engine ray`` against the single-process path, on a local Ray (2 CPUs)
started by the test: Qdrant local mode and Chroma, a few hundred documents, the real
default model. Same ids, same texts and metadata, vectors equal to 1e-6, same report; then
an edit, a deletion and ``--prune`` re-indexed both ways give the same store again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lembed.cli import main
from lembed.ingest.clean import normalise
from lembed.scale.ray_guard import RaySession
from lembed.settings import Settings
from lembed.stores.qdrant import unpack
from tests.scale.conftest import FOOTER, make_corpus

pytestmark = [pytest.mark.store, pytest.mark.model, pytest.mark.slow]

Stored = dict[str, tuple[np.ndarray, str, dict[str, Any]]]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    assert rc == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def stored_qdrant(folder: Path, collection: str) -> Stored:
    from qdrant_client import QdrantClient

    client = QdrantClient(path=str(folder))
    try:
        out: Stored = {}
        offset = None
        while True:
            points, offset = client.scroll(
                collection, limit=500, offset=offset, with_payload=True, with_vectors=True
            )
            for p in points:
                id_, text, meta = unpack(p.payload)
                out[id_] = (np.asarray(p.vector, dtype=np.float32), text, meta)
            if offset is None:
                return out
    finally:
        client.close()


def stored_chroma(folder: Path, collection: str) -> Stored:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
    )
    got = client.get_collection(collection).get(include=["embeddings", "documents", "metadatas"])
    return {
        id_: (np.asarray(vec, dtype=np.float32), doc, dict(meta or {}))
        for id_, vec, doc, meta in zip(
            got["ids"], got["embeddings"], got["documents"], got["metadatas"], strict=True
        )
    }


def same_store(ref: Stored, got: Stored) -> None:
    assert sorted(got) == sorted(ref)
    worst = 0.0
    for id_, (vec, text, meta) in ref.items():
        other = got[id_]
        assert other[1] == text and other[2] == meta, id_
        worst = max(worst, float(np.abs(other[0] - vec).max()))
    assert worst <= 1e-6, worst


def lexical_rows(folder: Path) -> list[tuple[str, str, str]]:
    """The BM25 sidecar's chunks (lembed.stores.lexical), kept by both engines."""
    db = sqlite3.connect(folder / "lexical" / "docs" / "chunks.sqlite")
    try:
        return list(db.execute("SELECT id, text, metadata FROM chunks ORDER BY id"))
    finally:
        db.close()


def same_report(ref: dict[str, Any], got: dict[str, Any]) -> None:
    keys = ("documents", "chunks", "embedded", "unchanged", "deleted", "pruned", "tokens")
    assert {k: got[k] for k in keys} == {k: ref[k] for k in keys}
    assert sorted(map(str, got["skipped"])) == sorted(map(str, ref["skipped"]))
    assert got["boilerplate"] == ref["boilerplate"]


@pytest.mark.parametrize("scheme", ["qdrant+local", "chroma"])
def test_ray_matches_single_process(
    scheme: str,
    local_ray: RaySession,
    cli_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    docs = make_corpus(tmp_path / "docs")
    read = stored_qdrant if scheme == "qdrant+local" else stored_chroma
    common = ["-c", "docs", "--chunk-tokens", "64", "--json"]
    ref_uri, ray_uri = f"{scheme}:{tmp_path / 'ref'}", f"{scheme}:{tmp_path / 'ray'}"

    ref = run(capsys, "index", str(docs), "--store", ref_uri, *common)
    got = run(capsys, "index", str(docs), "--store", ray_uri, "--engine", "ray", "--workers",
              "2", *common)  # fmt: skip
    assert ref["documents"] == 280 + 12 + 2 and ref["chunks"] > ref["documents"]
    assert ref["boilerplate"]["lines"][normalise(FOOTER)] == 280 + 12
    same_report(ref, got)
    same_store(read(tmp_path / "ref", "docs"), read(tmp_path / "ray", "docs"))
    assert lexical_rows(tmp_path / "ray") == lexical_rows(tmp_path / "ref") != []
    if scheme != "qdrant+local":
        return

    # an edited file, a deleted one, --prune: both engines end on the same store again
    edited = docs / "l03.txt"
    edited.write_text(edited.read_text(encoding="utf-8") + "\nA new closing sentence.\n")
    (docs / "s007.txt").unlink()
    ref = run(capsys, "index", str(docs), "--store", ref_uri, "--prune", *common)
    got = run(capsys, "index", str(docs), "--store", ray_uri, "--prune", "--engine", "ray",
              *common)  # fmt: skip
    assert ref["pruned"] == 1 and ref["deleted"] >= 1 and 0 < ref["embedded"] < 10
    same_report(ref, got)
    same_store(read(tmp_path / "ref", "docs"), read(tmp_path / "ray", "docs"))
    assert lexical_rows(tmp_path / "ray") == lexical_rows(tmp_path / "ref")
