"""The extractive answer: the sentences of the retrieved passages closest in meaning to the
question, each with its passage's citation number, computed with the collection's own
embedding model (one small batch: milliseconds, no language model).

It is ``lembed ask``'s answer when no capable generator is configured, and the fallback
when a generated answer cites no passage. When even the best sentence is far from the
question (cosine below :data:`RELEVANT`), it says plainly that nothing relevant was found
instead of quoting unrelated text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lembed.engine.model import EmbeddingModel
from lembed.rag.prompt import Passage

NOT_FOUND = "Nothing relevant to this question was found in the collection."
RELEVANT = 0.3  # cosine (all-MiniLM-L6-v2): unrelated sentences score ≈ 0.0-0.2
KEEP_WITHIN = 0.12  # sentences this close to the best one are kept too
MAX_SENTENCES = 3
MAX_CHARS = 400  # a "sentence" longer than this (a table, a code block) is cut

# a sentence ends at . ! ? followed by space and a capital, digit, quote or bracket; lines
# that end without punctuation (headings, list items, code) end a sentence too
_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[`])|\n\s*\n|\n(?=\s*[-*•>#]|\s*\d+\.)")
_WORD = re.compile(r"\w+")
_EMPHASIS = re.compile(r"(?<![*\w])\*{1,2}([^*\s][^*\n]*?)\*{1,2}(?![*\w])")  # Markdown *x*, **x**


@dataclass(frozen=True)
class Sentence:
    text: str
    passage: int  # citation number
    score: float = 0.0


@dataclass(frozen=True)
class Extract:
    answer: str  # the sentences with citation marks, or NOT_FOUND
    sentences: list[Sentence]  # the chosen ones, best first
    best: float  # cosine of the best sentence (-1 when there was none)

    @property
    def found(self) -> bool:
        return bool(self.sentences)

    @property
    def citations(self) -> list[int]:
        out: list[int] = []
        for s in self.sentences:
            if s.passage not in out:
                out.append(s.passage)
        return out


def split_sentences(text: str) -> list[str]:
    """Sentences (and sentence-like lines) of ``text``, whitespace folded, 3+ words each."""
    out: list[str] = []
    for piece in _END.split(text):
        flat = _EMPHASIS.sub(r"\1", " ".join(piece.split())).lstrip("#:").strip(" …")
        if len(_WORD.findall(flat)) < 3:
            continue
        if len(flat) > MAX_CHARS:
            flat = flat[:MAX_CHARS].rsplit(" ", 1)[0] + " …"
        out.append(flat)
    return out


def extract(
    question: str,
    passages: Sequence[Passage],
    model: EmbeddingModel,
    *,
    max_sentences: int = MAX_SENTENCES,
    relevant: float = RELEVANT,
) -> Extract:
    """The ``max_sentences`` sentences of ``passages`` most similar to ``question``."""
    candidates: list[Sentence] = []
    seen: set[str] = set()
    for p in passages:
        for text in split_sentences(p.text):
            key = text.casefold()
            if key not in seen:
                seen.add(key)
                candidates.append(Sentence(text, p.number))
    if not candidates:
        return Extract(NOT_FOUND, [], -1.0)
    q = model.embed([question], input_type="query").vectors[0]
    vectors = model.embed([c.text for c in candidates], input_type="document").vectors
    scores = np.asarray(vectors, dtype=np.float32) @ np.asarray(q, dtype=np.float32)
    order = np.argsort(-scores, kind="stable")
    best = float(scores[order[0]])
    if best < relevant:
        return Extract(NOT_FOUND, [], best)
    chosen = [
        Sentence(candidates[i].text, candidates[i].passage, float(scores[i]))
        for i in order[:max_sentences]
        if scores[i] >= max(relevant, best - KEEP_WITHIN)
    ]
    answer = " ".join(f"{_ended(s.text)} [{s.passage}]" for s in chosen)
    return Extract(answer, chosen, best)


def _ended(text: str) -> str:
    return text if text.endswith((".", "!", "?", "…", ":")) else text + "."
