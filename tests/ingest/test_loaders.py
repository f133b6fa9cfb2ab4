"""Loaders: each format, and files that are reported and skipped instead of failing the run."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from lembed.ingest.loaders import discover, html_text, kind_of, load
from tests.ingest.conftest import scifact_docs


def test_text_and_markdown(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("plain text\nsecond line", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Title\n\nSome *markdown*.", encoding="utf-8")
    docs, skipped = load(tmp_path / "a.txt")
    assert skipped == [] and docs[0].kind == "text"
    assert docs[0].sections[0].text == "plain text\nsecond line"
    assert docs[0].source == (tmp_path / "a.txt").resolve().as_posix()
    md, _ = load(tmp_path / "b.md")
    assert md[0].kind == "markdown" and "# Title" in md[0].sections[0].text


def test_html_keeps_visible_text_only() -> None:
    markup = """<html><head><title>T</title><style>p {color: red}</style>
    <script>var secret = 1;</script></head><body><h1>Heading</h1><!-- hidden comment -->
    <p>First   paragraph.</p><noscript>enable js</noscript><div>Second</div>
    <div hidden>gone</div><span style="display: none">gone</span>
    <nav aria-hidden="true"><p>gone</p></nav></body></html>"""
    text = html_text(markup)
    assert [line for line in text.splitlines() if line] == [
        "# Heading",
        "First paragraph.",
        "Second",
    ]


def test_pdf_pages_with_numbers(report_pdf: Path) -> None:
    docs, skipped = load(report_pdf)
    assert skipped == []
    doc = docs[0]
    assert doc.kind == "pdf" and doc.metadata == {"pages": 6}
    assert [s.metadata["page"] for s in doc.sections] == [1, 2, 3, 4, 5, 6]
    assert "Page 3 of 6" in doc.sections[2].text


def test_jsonl_text_field_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    rows = [
        json.dumps({"id": "n1", "body": "first note", "author": "ann", "stars": 3}),
        "{not json",
        json.dumps({"id": "n2", "title": "no body"}),
        json.dumps({"id": "n3", "body": "third", "tags": ["x"]}),
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    docs, skipped = load(path, text_field="body")
    assert [d.sections[0].text for d in docs] == ["first note", "third"]
    assert docs[0].metadata == {"id": "n1", "author": "ann", "stars": 3}
    assert docs[1].metadata == {"id": "n3"}  # lists are not flat metadata
    assert docs[0].source.endswith("notes.jsonl#n1")
    assert [s.source.rsplit("#", 1)[1] for s in skipped] == ["L2", "L3"]


def test_beir_corpus(tmp_path: Path) -> None:
    rows = scifact_docs(5)
    path = tmp_path / "corpus.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    assert kind_of(path) == "beir"
    docs, skipped = load(path)
    assert skipped == [] and len(docs) == 5
    assert docs[0].metadata == {"doc_id": rows[0]["_id"], "title": rows[0]["title"]}
    assert docs[0].sections[0].text == f"{rows[0]['title']} {rows[0]['text']}"


def test_unknown_and_unreadable_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    cases = {
        "image.png": "unsupported file type",
        "latin1.txt": "not UTF-8",
        "broken.pdf": "cannot read",
        "missing.txt": "cannot read",
    }
    for name, reason in cases.items():
        docs, skipped = load(tmp_path / name)
        assert docs == [] and len(skipped) == 1 and reason in skipped[0].reason, name


def test_discover_walks_folders_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".lembed").mkdir()
    for rel in ("b.txt", "sub/a.md", ".hidden.txt", ".lembed/x.txt"):
        (tmp_path / rel).write_text("x", encoding="utf-8")
    found = [p.relative_to(tmp_path).as_posix() for p in discover([tmp_path])]
    assert found == ["b.txt", "sub/a.md"]
