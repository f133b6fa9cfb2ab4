"""Boilerplate stripping: lines that repeat across too many pages are not content.

Headers, footers, page numbers and navigation repeat on most pages and make every chunk look
alike. A *unit* is one section (a PDF page, or a whole file). A line is boilerplate when its
normalised form (whitespace collapsed, lower-cased, every digit run replaced by ``#`` so
"Page 3 of 9" matches "Page 4 of 9") appears in more than ``share`` of the units — across
the whole corpus, or across the pages of one multi-page document — and in at least
``min_units`` of them. Such lines are removed before chunking; the report lists them. A
document that would lose all its text (short records that all look alike) is kept whole.

Some lines are never boilerplate, however often they repeat: lines inside fenced code blocks
(```` ``` ```` or ``~~~``, as the HTML loader writes ``<pre>`` and as Markdown has them), and
lines of one short token (``(``, ``=``, ``import``, ``Returns``: code and document structure,
not navigation), unless that token is only digits (a bare page number).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lembed.errors import ValidationError

_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
SHORT_TOKEN = 40  # characters: a single token up to this long is never boilerplate


def normalise(line: str) -> str:
    """The form under which repeated lines are compared."""
    return _DIGITS.sub("#", _SPACE.sub(" ", line).strip().lower())


def _protected(line: str) -> bool:
    """A line of one short token that is not a bare number: code or structure, kept."""
    token = line.strip()
    return 0 < len(token) <= SHORT_TOKEN and len(token.split()) == 1 and not token.isdigit()


def candidate_mask(text: str) -> list[bool]:
    """For each line of ``text``: whether it may be boilerplate (not code, not one token)."""
    mask, fence = [], ""
    for line in text.splitlines():
        opener = _FENCE.match(line)
        if fence:
            mask.append(False)
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = ""
        elif opener:
            fence = opener.group(1)
            mask.append(False)
        else:
            mask.append(not _protected(line))
    return mask


def candidates_of(text: str) -> set[str]:
    """The normalised lines of ``text`` that count towards boilerplate."""
    lines = text.splitlines()
    return {normalise(line) for line, ok in zip(lines, candidate_mask(text), strict=True) if ok} - {
        ""
    }


@dataclass
class BoilerplateReport:
    """What was removed: each normalised line, the units it was in, and lines dropped."""

    lines: dict[str, int] = field(default_factory=dict)
    units: int = 0
    removed: int = 0

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        return sorted(self.lines.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def repeated_lines(units: Sequence[str], share: float, min_units: int = 3) -> dict[str, int]:
    """Normalised lines present in more than ``share`` of ``units`` (and in ``min_units``)."""
    if len(units) < min_units:
        return {}
    counts: Counter[str] = Counter()
    for text in units:
        counts.update(candidates_of(text))
    floor = max(min_units, int(share * len(units)) + 1)
    return {line: n for line, n in counts.items() if n >= floor and n > share * len(units)}


def strip_lines(text: str, boilerplate: Iterable[str] | set[str]) -> tuple[str, int]:
    """``text`` without the lines whose normalised form is in ``boilerplate``."""
    drop = boilerplate if isinstance(boilerplate, set) else set(boilerplate)
    if not drop:
        return text, 0
    kept, removed = [], 0
    for line, candidate in zip(text.splitlines(), candidate_mask(text), strict=True):
        if candidate and normalise(line) in drop:
            removed += 1
        else:
            kept.append(line)
    return "\n".join(kept), removed


class Boilerplate:
    """Find boilerplate over a corpus (a list of documents' sections), then strip it."""

    def __init__(self, documents: Sequence[Sequence[str]], share: float = 0.3) -> None:
        if not 0 < share <= 1:
            raise ValidationError("the boilerplate share must be in (0, 1]", param="share")
        self.share = share
        units = [text for sections in documents for text in sections]
        self.corpus = repeated_lines(units, share)
        self.report = BoilerplateReport(dict(self.corpus), len(units))

    @classmethod
    def known(cls, corpus: dict[str, int], units: int, share: float = 0.3) -> Boilerplate:
        """A cleaner whose corpus-wide lines were counted elsewhere (e.g. by Ray workers)."""
        cleaner = cls([], share)
        cleaner.corpus = dict(corpus)
        cleaner.report = BoilerplateReport(dict(corpus), units)
        return cleaner

    def strip(self, sections: Sequence[str]) -> list[str]:
        """One document's sections without corpus-wide or document-wide repeated lines."""
        local = repeated_lines(sections, self.share) if len(sections) > 1 else {}
        for line, n in local.items():
            self.report.lines[line] = max(self.report.lines.get(line, 0), n)
        drop = set(self.corpus) | set(local)
        out, removed = [], 0
        for text in sections:
            cleaned, n = strip_lines(text, drop)
            removed += n
            out.append(cleaned)
        if removed and not any(t.strip() for t in out):
            return list(sections)  # all of it "repeats": it is content, not boilerplate
        self.report.removed += removed
        return out


def unwrap(text: str) -> str:
    """Join lines a PDF wrapped inside a paragraph (blank lines stay paragraph breaks)."""
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())
