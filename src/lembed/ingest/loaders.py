"""Loaders: files to :class:`Document` s, one per file (or per record of a JSON Lines file).

Supported: plain text (``.txt``, ``.text``, ``.rst``, ``.log``), Markdown (``.md``,
``.markdown``), HTML (``.html``, ``.htm``; visible text only), PDF (text layer, one section
per page with its page number), JSON Lines (``.jsonl``, ``.jsonl.gz``; a text field plus
scalar fields as metadata) and BEIR corpora (``corpus.jsonl[.gz]``: ``_id``, ``title``,
``text``). Anything else, and any file that cannot be read, is reported as a
:class:`Skipped` entry: never fatal for the run.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lembed.errors import require
from lembed.stores.base import Metadata

TEXT = (".txt", ".text", ".rst", ".log")
MARKDOWN = (".md", ".markdown")
HTML = (".html", ".htm")
_HIDDEN_TAGS = ("script", "style", "noscript", "template", "head", "svg", "iframe")


@dataclass(frozen=True)
class Section:
    """A run of text chunked on its own (a whole file, or one PDF page)."""

    text: str
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """One source: its id (path, or ``path#record``), format, sections and metadata."""

    source: str
    kind: str  # text | markdown | html | pdf | jsonl | beir
    sections: list[Section]
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    """A file (or record) that was not loaded, and why."""

    source: str
    reason: str


def kind_of(path: Path) -> str | None:
    """The loader for ``path`` by name, or None when the type is not supported."""
    name = path.name.lower()
    if name in ("corpus.jsonl", "corpus.jsonl.gz"):
        return "beir"
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return "jsonl"
    suffix = path.suffix.lower()
    for kind, suffixes in (("text", TEXT), ("markdown", MARKDOWN), ("html", HTML)):
        if suffix in suffixes:
            return kind
    return "pdf" if suffix == ".pdf" else None


def discover(paths: Sequence[str | Path]) -> Iterator[Path]:
    """Files under ``paths`` (recursively, sorted, skipping hidden files and folders)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name
        else:
            yield path  # a missing file is reported by load()


def source_id(path: Path) -> str:
    """The stable id of a file: its absolute path."""
    return path.resolve().as_posix()


def load(path: Path, *, text_field: str = "text") -> tuple[list[Document], list[Skipped]]:
    """Load one file into documents; problems come back as ``Skipped`` entries."""
    source = source_id(path)
    kind = kind_of(path)
    if kind is None:
        return [], [Skipped(source, f"unsupported file type {path.suffix or path.name!r}")]
    try:
        if kind == "pdf":
            return [_pdf(path, source)], []
        if kind in ("jsonl", "beir"):
            return _jsonl(path, source, kind, text_field)
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [Skipped(source, "not UTF-8 text")]
    except Exception as exc:  # unreadable, broken PDF, ...: reported, never fatal
        return [], [Skipped(source, f"cannot read: {type(exc).__name__}: {exc}")]
    if kind == "html":
        text = html_text(text)
    return [Document(source, kind, [Section(text)])], []


def html_text(markup: str) -> str:
    """The text a browser would show: no scripts, styles or head; block elements on lines."""
    bs4 = require("bs4", "ingest", "reading HTML")
    soup = bs4.BeautifulSoup(markup, "html.parser")
    for tag in soup(list(_HIDDEN_TAGS)):
        tag.decompose()
    for tag in soup.find_all(_is_hidden):
        if not tag.decomposed:
            tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, bs4.Comment)):
        comment.extract()
    lines = (" ".join(line.split()) for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def _is_hidden(tag: Any) -> bool:
    """Elements a browser does not show: ``hidden``, ``aria-hidden``, ``display: none``."""
    style = str(tag.get("style") or "").replace(" ", "").lower()
    return (
        tag.has_attr("hidden")
        or str(tag.get("aria-hidden", "")).lower() == "true"
        or "display:none" in style
        or "visibility:hidden" in style
    )


def _pdf(path: Path, source: str) -> Document:
    pypdf = require("pypdf", "ingest", "reading PDF")
    reader = pypdf.PdfReader(str(path))
    if reader.is_encrypted:
        raise ValueError("encrypted PDF")
    sections = [
        Section(page.extract_text() or "", {"page": number})
        for number, page in enumerate(reader.pages, start=1)
    ]
    return Document(source, "pdf", sections, {"pages": len(sections)})


def _jsonl(
    path: Path, source: str, kind: str, text_field: str
) -> tuple[list[Document], list[Skipped]]:
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    docs: list[Document] = []
    skipped: list[Skipped] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                skipped.append(Skipped(f"{source}#L{number}", f"invalid JSON: {exc.msg}"))
                continue
            doc = _record(record, source, number, kind, text_field)
            if isinstance(doc, Skipped):
                skipped.append(doc)
            else:
                docs.append(doc)
    return docs, skipped


def _record(
    record: object, source: str, number: int, kind: str, text_field: str
) -> Document | Skipped:
    if not isinstance(record, dict):
        return Skipped(f"{source}#L{number}", "a JSON Lines record must be an object")
    if kind == "beir":
        doc_id = str(record.get("_id", number))
        title, body = str(record.get("title") or ""), str(record.get("text") or "")
        text = f"{title} {body}" if title else body  # as BEIR/MTEB join them
        meta: Metadata = {"doc_id": doc_id}
        if title:
            meta["title"] = title
        return Document(f"{source}#{doc_id}", kind, [Section(text)], meta)
    field_value = record.get(text_field)
    if not isinstance(field_value, str):
        return Skipped(f"{source}#L{number}", f"no string field {text_field!r}")
    meta = {
        k: v
        for k, v in record.items()
        if k != text_field and isinstance(v, str | int | float | bool) and v is not None
    }
    key = record.get("id", record.get("_id", f"L{number}"))
    return Document(f"{source}#{key}", kind, [Section(field_value)], meta)
