"""Tokenization with HF ``tokenizers``: exact counts, explicit truncation, pad to longest.

A model folder's ``tokenizer.json`` may carry fixed padding and truncation (the packaged
all-MiniLM-L6-v2 pads and cuts at 128 while the model is used at 256). We drop both and
apply the model's own window here, so counts are exact and truncation is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tokenizers import Encoding
from tokenizers import Tokenizer as HFTokenizer

from lembed.errors import ValidationError

Direction = Literal["right", "left"]


@dataclass(frozen=True)
class Batch:
    """Model inputs for one forward pass, padded to the longest sequence in the batch."""

    input_ids: np.ndarray  # int64 [batch, seq]
    attention_mask: np.ndarray  # int64 [batch, seq]
    token_type_ids: np.ndarray  # int64 [batch, seq]

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.input_ids.shape
        return rows, cols


def text_problem(text: object) -> str | None:
    """Why ``text`` cannot be tokenised (not a string, not valid Unicode), or None."""
    if not isinstance(text, str):
        return f"must be a string, not {type(text).__name__}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"is not valid Unicode text: it has an unpaired surrogate {text[exc.start]!r} "
            "(send UTF-8, or escape a character outside the BMP as a pair like \\ud83d\\ude00)"
        )
    return None


def check_unicode(texts: list[str], param: str) -> None:
    """Refuse text a tokenizer cannot take, naming it (``param[i]``), before any work."""
    for i, text in enumerate(texts):
        problem = text_problem(text)
        if problem is not None:
            where = param if len(texts) == 1 and param == "query" else f"{param}[{i}]"
            raise ValidationError(f"{where} {problem}", param=param)


def unencodable(texts: list[str]) -> ValidationError:
    """The error for a batch the tokenizer refused, naming the first bad input."""
    for i, text in enumerate(texts):
        problem = text_problem(text)
        if problem is not None:
            return ValidationError(f"input[{i}] {problem}", param="input")
    return ValidationError("the tokenizer cannot take this input", param="input")


class Tokenizer:
    """Wraps a ``tokenizers.Tokenizer`` with the model's context window."""

    def __init__(self, tokenizer: HFTokenizer, max_tokens: int) -> None:
        self._tok = tokenizer
        self._tok.no_padding()
        self._tok.no_truncation()
        self._truncating: dict[Direction, HFTokenizer] = {}
        self.max_tokens = max_tokens
        pad = self._tok.token_to_id("[PAD]")
        if pad is None:
            pad = self._tok.token_to_id("<pad>")
        self.pad_id = int(pad or 0)

    @classmethod
    def from_folder(cls, folder: Path, max_tokens: int) -> Tokenizer:
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise ValidationError(f"{folder}: no tokenizer.json (a fast tokenizer is required)")
        return cls(HFTokenizer.from_file(str(path)), max_tokens)

    def encode(self, texts: list[str]) -> list[Encoding]:
        """Encode without truncation: the lengths are the exact token counts."""
        try:
            return list(self._tok.encode_batch(texts, add_special_tokens=True))
        except Exception as exc:  # tokenizers raises TypeError on text Rust cannot hold
            raise unencodable(texts) from exc

    def truncate(self, texts: list[str], direction: Direction) -> list[Encoding]:
        """Encode cut to the window, keeping special tokens, from the given side."""
        tok = self._truncating.get(direction)
        if tok is None:
            tok = HFTokenizer.from_str(self._tok.to_str())
            tok.enable_truncation(self.max_tokens, direction=direction)
            self._truncating[direction] = tok
        try:
            return list(tok.encode_batch(texts, add_special_tokens=True))
        except Exception as exc:
            raise unencodable(texts) from exc

    def truncate_after(
        self, texts: list[str], keep_chars: int, direction: Direction
    ) -> list[Encoding]:
        """Cut to the window from ``direction`` while the tokens of each text's first
        ``keep_chars`` characters (a model's prefix) always stay, with the special tokens.

        The text is tokenised whole (so the ids are exactly those of the uncut text), then
        the kept head and the rest, cut to what the window leaves, are joined again.
        """
        specials = self._tok.num_special_tokens_to_add(is_pair=False)
        out: list[Encoding] = []
        for text in texts:
            whole = self.tokens(text, add_special_tokens=False)
            head = sum(1 for _, end in whole.offsets if end <= keep_chars)
            room = self.max_tokens - specials - head
            if room < 1 or head == 0:  # nothing to keep, or the prefix fills the window
                out.extend(self.truncate([text], direction))
                continue
            kept = self.tokens(text, add_special_tokens=False)
            kept.truncate(head, direction="right")
            rest = self.tokens(text, add_special_tokens=False)
            rest.truncate(len(rest.ids) - head, direction="left")  # drop the head
            rest.truncate(room, direction=direction)
            merged = Encoding.merge([kept, rest], growing_offsets=False)
            out.append(self._tok.post_process(merged, None, add_special_tokens=True))
        return out

    def encode_pairs(
        self, pairs: list[tuple[str, str]], direction: Direction | None = None
    ) -> list[Encoding]:
        """Encode (query, passage) pairs for a cross-encoder (token types 0, then 1): exact
        counts without ``direction``, else cut to the window from that side, the longer
        member of a pair first."""
        tok = self._tok
        if direction is not None:
            tok = self._truncating.get(direction) or self._truncating_for(direction)
        try:
            return list(tok.encode_batch(pairs, add_special_tokens=True))
        except Exception as exc:
            raise unencodable([t for pair in pairs for t in pair]) from exc

    def _truncating_for(self, direction: Direction) -> HFTokenizer:
        tok = HFTokenizer.from_str(self._tok.to_str())
        tok.enable_truncation(self.max_tokens, strategy="longest_first", direction=direction)
        self._truncating[direction] = tok
        return tok

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    def tokens(self, text: str, add_special_tokens: bool = True) -> Encoding:
        """One text's encoding (ids, tokens, offsets), not truncated."""
        try:
            return self._tok.encode(text, add_special_tokens=add_special_tokens)
        except Exception as exc:
            raise unencodable([text]) from exc

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return str(self._tok.decode(ids, skip_special_tokens=skip_special_tokens))

    def pad(self, encodings: list[Encoding]) -> Batch:
        """Stack encodings into arrays padded (on the right) to the longest one."""
        longest = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), longest), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), longest), dtype=np.int64)
        types = np.zeros((len(encodings), longest), dtype=np.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
            types[row, :n] = enc.type_ids
        return Batch(ids, mask, types)
