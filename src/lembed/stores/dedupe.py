"""One result per text: a chunk stored under two ids (the same paragraph in two files, a
re-indexed copy) is shown once, the better-ranked copy kept. Used by ``lembed search`` and
by every retrieval mode of ``lembed ask``."""

from __future__ import annotations

import re
from collections.abc import Iterable

from lembed.stores.base import Hit

_SPACE = re.compile(r"\s+")


def text_key(text: str) -> str:
    """What makes two chunks "the same": their text, whitespace and case folded."""
    return _SPACE.sub(" ", text).strip().casefold()


def unique(hits: Iterable[Hit]) -> list[Hit]:
    """``hits`` without repeats of an earlier hit's text (the better one stays)."""
    seen: set[str] = set()
    out: list[Hit] = []
    for hit in hits:
        key = text_key(hit.text)
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out
