"""Chunking in the model's tokens: never over the window, never mid-word, with overlap."""

from __future__ import annotations

import itertools
import re

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.ingest.chunking import Chunker
from tests.ingest.conftest import scifact_docs


def texts() -> list[str]:
    docs = scifact_docs(60, skip=100)
    long = " ".join(d["text"] for d in docs[:12])  # several windows long
    return [f"{d['title']}\n{d['text']}" for d in docs] + [long]


def cut_mid_word(text: str, start: int, piece: str) -> bool:
    end = start + len(piece)
    before = text[start - 1 : start + 1] if start > 0 else ""
    after = text[end - 1 : end + 1] if end < len(text) else ""
    return any(re.fullmatch(r"\w\w", pair) for pair in (before, after) if len(pair) == 2)


@pytest.mark.parametrize("size", [None, 64, 128])
def test_no_chunk_over_the_budget_or_cut_mid_word(
    fake_model: EmbeddingModel, size: int | None
) -> None:
    chunker = Chunker(fake_model, chunk_tokens=size)
    budget = size or fake_model.max_tokens
    for text in texts():
        chunks = chunker.split(text)
        assert chunks
        counts = fake_model.count_tokens([c.text for c in chunks], input_type="document")
        assert max(counts) <= budget <= fake_model.max_tokens
        assert [c.tokens for c in chunks] == counts
        for chunk in chunks:
            assert text[chunk.start : chunk.start + len(chunk.text)] == chunk.text
            assert not cut_mid_word(text, chunk.start, chunk.text), chunk.text[:40]


def test_long_text_is_split_with_overlap(fake_model: EmbeddingModel) -> None:
    text = texts()[-1]
    chunks = Chunker(fake_model, chunk_tokens=96, overlap=24).split(text)
    assert len(chunks) > 5
    shared = [
        text[b.start : a.start + len(a.text)]
        for a, b in itertools.pairwise(chunks)
        if b.start < a.start + len(a.text)
    ]
    assert len(shared) >= 5  # whole sentences of up to 24 tokens are repeated
    assert max(fake_model.count_tokens(shared, input_type="none")) <= 24 + 2
    no_overlap = Chunker(fake_model, chunk_tokens=96, overlap=0).split(text)
    assert all(b.start >= a.start + len(a.text) for a, b in itertools.pairwise(no_overlap))
    covered = "".join(c.text for c in no_overlap).replace(" ", "")
    assert covered == text.replace(" ", "")  # nothing lost


def test_sentences_are_the_preferred_boundary(fake_model: EmbeddingModel) -> None:
    text = " ".join(f"Sentence number {i} says something about topic {i}." for i in range(80))
    for chunk in Chunker(fake_model, chunk_tokens=64, overlap=0).split(text):
        assert chunk.text.startswith("Sentence") and chunk.text.endswith(".")


def test_markdown_structure(fake_model: EmbeddingModel) -> None:
    sections = [f"## Part {i}\n\n" + "A line of prose. " * 20 for i in range(6)]
    chunks = Chunker(fake_model, chunk_tokens=128, overlap=0).split(
        "\n\n".join(sections), markdown=True
    )
    assert all(c.text.startswith("## Part") for c in chunks)


def test_bad_sizes_are_refused(fake_model: EmbeddingModel) -> None:
    with pytest.raises(ValidationError, match="256-token window"):
        Chunker(fake_model, chunk_tokens=1000)
    with pytest.raises(ValidationError):
        Chunker(fake_model, chunk_tokens=2)
    with pytest.raises(ValidationError, match="overlap"):
        Chunker(fake_model, chunk_tokens=64, overlap=64)


def test_blank_text_has_no_chunks(fake_model: EmbeddingModel) -> None:
    assert Chunker(fake_model).split("  \n\n ") == []
