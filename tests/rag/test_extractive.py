"""Extractive answers: sentence splitting, the closest sentences with their citation, and a
plain "nothing relevant" when even the best sentence is far from the question."""

from __future__ import annotations

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.rag.extractive import NOT_FOUND, extract, split_sentences
from lembed.rag.prompt import Passage
from lembed.stores.base import Hit


def passages(*texts: str) -> list[Passage]:
    return [
        Passage(n, Hit(f"id{n}", 0.5, t, {"source": f"{n}.md"}), t) for n, t in enumerate(texts, 1)
    ]


def test_split_sentences() -> None:
    text = (
        "# The title here\n\nFirst sentence is here. Second one follows! Is this third?\n"
        "- a list item with words\n\nok"
    )
    assert split_sentences(text) == [
        "The title here",
        "First sentence is here.",
        "Second one follows!",
        "Is this third?",
        "- a list item with words",
    ]
    long = "word " * 200
    assert split_sentences(long)[0].endswith(" …") and len(split_sentences(long)[0]) <= 402


def test_extract_picks_the_closest_sentence_with_its_citation(fake_model: EmbeddingModel) -> None:
    ctx = passages(
        "Cats sleep most of the day. They hunt at night.",
        "The Eiffel Tower was completed in 1889. It is 330 metres tall.",
    )
    got = extract("The Eiffel Tower was completed in 1889.", ctx, fake_model)
    assert got.found and got.sentences[0].passage == 2 and got.best == pytest.approx(1.0, abs=1e-5)
    assert got.answer.startswith("The Eiffel Tower was completed in 1889. [2]")
    assert got.citations[0] == 2


def test_nothing_relevant_is_said_plainly(fake_model: EmbeddingModel) -> None:
    ctx = passages("Cats sleep most of the day.")
    got = extract("boiling point of mercury", ctx, fake_model, relevant=1.01)
    assert got.answer == NOT_FOUND and got.citations == [] and not got.found
    assert extract("anything", [], fake_model).answer == NOT_FOUND
