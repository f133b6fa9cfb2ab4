"""Chunking on sentence and token boundaries, sized in the model's own tokens.

The splitting is done by `semantic-text-splitter` (Rust; Unicode sentence and word
boundaries per UAX #29, and Markdown structure for ``.md``), counting tokens with the
model's tokenizer. It packs the largest semantic units that fit — sections, paragraphs,
sentences, and only for a single over-long sentence, words — so a chunk never ends mid-word
unless one "word" alone is longer than the chunk. Consecutive chunks share up to ``overlap``
tokens.

The budget leaves room for the model's special tokens and document prefix, and every chunk
is counted again exactly as it will be embedded: a chunk over the model's window is split
further, never truncated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError, require


@dataclass(frozen=True)
class Chunk:
    """A piece of a section: its text, where it starts in the section, and its tokens."""

    text: str
    start: int
    tokens: int


class Chunker:
    """Split texts into chunks of at most ``chunk_tokens`` model tokens (prefix included)."""

    def __init__(
        self,
        model: EmbeddingModel,
        chunk_tokens: int | None = None,
        overlap: int | None = None,
    ) -> None:
        window = model.max_tokens
        size = window if chunk_tokens is None else chunk_tokens
        if isinstance(size, bool) or not isinstance(size, int) or size < 8:
            raise ValidationError("chunk tokens must be an integer of at least 8", param="chunk")
        if size > window:
            raise ValidationError(
                f"--chunk-tokens {size} is more than the {window}-token window of {model.name}; "
                f"use at most {window} (or a long-context model such as nomic-embed-text)",
                param="chunk_tokens",
            )
        self.model = model
        self.chunk_tokens = size
        # special tokens and the document prefix come on top of the splitter's count
        with_extras = model.count_tokens(["a"], input_type="document")[0]
        bare = len(model.tokenizer.encode(["a"])[0].ids) - _specials(model)
        self.overhead = with_extras - bare
        self.capacity = size - self.overhead
        if self.capacity < 4:
            raise ValidationError(f"chunk tokens {size} leave no room for text", param="chunk")
        self.overlap = self.capacity // 8 if overlap is None else overlap
        if not 0 <= self.overlap < self.capacity:
            raise ValidationError(
                f"overlap must be between 0 and {self.capacity - 1} tokens, not {self.overlap}",
                param="overlap",
            )
        self._tok = _raw_tokenizer(model)
        self._splitters: dict[tuple[bool, int], Any] = {}

    def _splitter(self, markdown: bool, capacity: int) -> Any:
        key = (markdown, capacity)
        if key not in self._splitters:
            sts = require("semantic_text_splitter", "ingest", "chunking")
            cls = sts.MarkdownSplitter if markdown else sts.TextSplitter
            overlap = min(self.overlap, capacity - 1)
            self._splitters[key] = cls.from_huggingface_tokenizer(
                self._tok, capacity, overlap=overlap
            )
        return self._splitters[key]

    def split(self, text: str, *, markdown: bool = False) -> list[Chunk]:
        """Chunks of ``text``, in order; none is over the budget, none is blank."""
        return self.split_many([text], markdown=[markdown])[0]

    def split_many(self, texts: Sequence[str], markdown: Sequence[bool]) -> list[list[Chunk]]:
        """:meth:`split` for many texts, with one tokenizer pass to check every chunk."""
        pieces = [self._pieces(t, md, self.capacity) for t, md in zip(texts, markdown, strict=True)]
        flat = [p for ps in pieces for _, p in ps]
        counts = iter(self.model.count_tokens(flat, input_type="document") if flat else [])
        out: list[list[Chunk]] = []
        for ps, md in zip(pieces, markdown, strict=True):
            chunks: list[Chunk] = []
            for start, piece in ps:
                chunks.extend(self._fit(piece, start, next(counts), md, self.capacity))
            out.append(chunks)
        return out

    def _pieces(self, text: str, markdown: bool, capacity: int) -> list[tuple[int, str]]:
        return [
            (start, piece)
            for start, piece in self._splitter(markdown, capacity).chunk_indices(text)
            if piece.strip()
        ]

    def _fit(
        self, piece: str, start: int, tokens: int, markdown: bool, capacity: int
    ) -> list[Chunk]:
        """``piece`` as one chunk, or split tighter if it came out over the budget (tokens
        can merge differently once text is joined)."""
        if tokens <= self.chunk_tokens or capacity <= 8:
            return [Chunk(piece, start, tokens)]
        smaller = max(8, capacity - (tokens - self.chunk_tokens) - 1)
        parts = self._pieces(piece, markdown, smaller)
        counts = self.model.count_tokens([p for _, p in parts], input_type="document")
        out: list[Chunk] = []
        for (offset, part), n in zip(parts, counts, strict=True):
            out.extend(self._fit(part, start + offset, n, markdown, smaller))
        return out


def _specials(model: EmbeddingModel) -> int:
    """Special tokens the tokenizer adds around one text ([CLS] ... [SEP] = 2)."""
    return sum(model.tokenizer.encode(["a"])[0].special_tokens_mask)


def _raw_tokenizer(model: EmbeddingModel) -> Any:
    """The model's HF tokenizer without padding or truncation (the splitter counts with it)."""
    tokenizers = require("tokenizers", "ingest", "chunking")
    tok = tokenizers.Tokenizer.from_file(str(model.resolved.path / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok
