"""Loaders: files to :class:`Document` s, one per file (or per record of a JSON Lines file).

Supported: plain text (``.txt``, ``.text``, ``.rst``, ``.log``), Markdown (``.md``,
``.markdown``), HTML (``.html``, ``.htm``; the visible text as Markdown: headings, lists and
tables kept, ``<pre>`` blocks verbatim in code fences, navigation dropped), PDF (text layer,
one section per page with its page number), JSON Lines (``.jsonl``, ``.jsonl.gz``; a text
field plus scalar fields as metadata) and BEIR corpora (``corpus.jsonl[.gz]``: ``_id``, ``title``,
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
MAX_FILE_MB = 20.0  # default per-file limit (lembed index --max-file-mb)
_SNIFF_BYTES = 8192  # a NUL byte in a text file's first bytes marks it binary
_HIDDEN_TAGS = ("script", "style", "noscript", "template", "head", "svg", "iframe")
# Navigation, not content: the <nav> element and role, and the classes Sphinx and MkDocs
# (material) give their top/bottom navigation bars, sidebars, footers and permalink marks.
_NAV_TAGS = ("nav",)
_NAV_CLASSES = frozenset(
    {"related", "sphinxsidebar", "footer", "headerlink", "md-header", "md-footer", "md-sidebar"}
)


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
    """A file (or record) that was not loaded, and why. ``failed`` is False for what is
    skipped on purpose (a type lembed does not read, an empty file), True for a file that
    should have loaded and could not (unreadable, too large, binary, broken)."""

    source: str
    reason: str
    failed: bool = True


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
    """The stable id of a file: its absolute path, resolved (a path that cannot be resolved,
    such as a symlink loop, keeps its absolute spelling)."""
    try:
        return path.resolve().as_posix()
    except (OSError, RuntimeError):  # RuntimeError: Python < 3.13 on a symlink loop
        return path.absolute().as_posix()


def load(
    path: Path, *, text_field: str = "text", max_mb: float | None = MAX_FILE_MB
) -> tuple[list[Document], list[Skipped]]:
    """Load one file into documents; problems come back as ``Skipped`` entries.

    A text, Markdown, HTML or PDF file over ``max_mb`` megabytes is skipped (a JSON Lines
    record over it is); so is a text file with NUL bytes (binary)."""
    try:
        source = source_id(path)
    except Exception as exc:  # never fatal, whatever the path
        return [], [Skipped(str(path), f"cannot read: {type(exc).__name__}: {exc}")]
    kind = kind_of(path)
    if kind is None:
        reason = f"unsupported file type {path.suffix or path.name!r}"
        return [], [Skipped(source, reason, failed=False)]
    limit = None if max_mb is None else int(max_mb * 1_000_000)
    try:
        size = path.stat().st_size
        if limit is not None and size > limit and kind not in ("jsonl", "beir"):
            return [], [Skipped(source, _too_large(size, max_mb))]
        if kind == "pdf":
            return [_pdf(path, source)], []
        if kind in ("jsonl", "beir"):
            return _jsonl(path, source, kind, text_field, limit, max_mb)
        raw = path.read_bytes()
        if b"\0" in raw[:_SNIFF_BYTES]:
            return [], [Skipped(source, "binary file (NUL bytes), not text")]
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [Skipped(source, "not UTF-8 text")]
    except OSError as exc:  # missing, permissions, a symlink loop (ELOOP), a folder, ...
        return [], [Skipped(source, f"cannot read: {exc.strerror or exc}")]
    except Exception as exc:  # broken PDF, ...: reported, never fatal
        return [], [Skipped(source, f"cannot read: {type(exc).__name__}: {exc}")]
    if kind == "html":
        text = html_text(text)
    return [Document(source, kind, [Section(text)])], []


def html_text(markup: str) -> str:
    """The text a browser would show, as Markdown (markdownify over a cleaned bs4 tree).

    Inline elements stay inside their line; ``<pre>`` blocks come out verbatim between code
    fences (which the boilerplate rule never touches); headings become ``#`` lines, lists and
    tables keep their shape. Scripts, styles, the head, hidden elements, comments and
    navigation (``<nav>``, ``role="navigation"``, Sphinx/MkDocs navigation classes) are
    dropped; links and images keep their text only.
    """
    bs4 = require("bs4", "ingest", "reading HTML")
    markdownify = require("markdownify", "ingest", "reading HTML")
    soup = bs4.BeautifulSoup(markup, "html.parser")
    for tag in soup([*_HIDDEN_TAGS, *_NAV_TAGS]):
        tag.decompose()
    for tag in soup.find_all(_is_hidden_or_nav):
        if not tag.decomposed:
            tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, bs4.Comment)):
        comment.extract()
    converter = markdownify.MarkdownConverter(
        heading_style="ATX",
        bullets="-",
        strip=["a", "img"],
        escape_underscores=False,
        escape_asterisks=False,
        escape_misc=False,
        wrap=True,  # with no width: a paragraph's source line breaks become spaces
        wrap_width=None,
    )
    text = str(converter.convert_soup(soup))
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def _is_hidden_or_nav(tag: Any) -> bool:
    classes = tag.get("class") or ()
    return (
        _is_hidden(tag)
        or str(tag.get("role", "")).lower() == "navigation"
        or not _NAV_CLASSES.isdisjoint(classes)
    )


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


def _too_large(size: int, max_mb: float | None) -> str:
    return f"{size / 1_000_000:.1f} MB, over the {max_mb:g} MB limit (raise --max-file-mb)"


def _jsonl(
    path: Path,
    source: str,
    kind: str,
    text_field: str,
    limit: int | None = None,
    max_mb: float | None = None,
) -> tuple[list[Document], list[Skipped]]:
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    docs: list[Document] = []
    skipped: list[Skipped] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            if limit is not None and len(line) > limit:
                skipped.append(Skipped(f"{source}#L{number}", _too_large(len(line), max_mb)))
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                skipped.append(Skipped(f"{source}#L{number}", f"invalid JSON: {exc.msg}"))
                continue
            doc = _record(record, source, number, kind, text_field)
            if isinstance(doc, Document) and _has_surrogates(doc):
                doc = Skipped(f"{source}#L{number}", "not valid Unicode: an unpaired surrogate")
            if isinstance(doc, Skipped):
                skipped.append(doc)
            else:
                docs.append(doc)
    return docs, skipped


def _has_surrogates(doc: Document) -> bool:
    """JSON can escape lone surrogates (``"\\ud800"``), which no tokenizer or store takes."""
    strings = [s.text for s in doc.sections] + [
        v for v in doc.metadata.values() if isinstance(v, str)
    ]
    try:
        for text in strings:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
