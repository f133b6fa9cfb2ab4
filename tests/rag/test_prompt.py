"""Prompt assembly: numbered passages with sources, the token budget, the refusal rule."""

from __future__ import annotations

from lembed.rag.prompt import INSTRUCTION, REFUSAL, SYSTEM, build_prompt, cited
from lembed.stores.base import Hit


def words(text: str) -> int:
    return len(text.split())


HITS = [
    Hit(f"id{i}", 1.0 - i / 10, f"passage {i} " + "word " * 60, {"source": f"{i}.md"})
    for i in range(5)
]


def test_passages_are_numbered_with_sources_and_the_refusal_rule() -> None:
    prompt = build_prompt("What is in passage 2?", HITS[:3], count_tokens=words, budget=10_000)
    system, user = prompt.messages
    assert system == {"role": "system", "content": SYSTEM}
    assert REFUSAL in INSTRUCTION and INSTRUCTION in user["content"]
    text = user["content"]
    assert text.index("[1] (source: 0.md)") < text.index("[2] (source: 1.md)") < text.index("[3]")
    assert text.rstrip().endswith("Question: What is in passage 2?")
    assert [p.number for p in prompt.passages] == [1, 2, 3] and prompt.dropped == 0


def test_budget_drops_and_cuts_passages() -> None:
    empty = build_prompt("q?", [], count_tokens=words, budget=10_000).tokens
    whole = words("[1] (source: 0.md)\n" + HITS[0].text) + 2
    budget = empty + 16 + 2 * whole + 60  # two whole passages and part of a third
    prompt = build_prompt("q?", HITS, count_tokens=words, budget=budget)
    assert prompt.tokens <= budget
    assert 1 <= len(prompt.passages) < len(HITS) and prompt.dropped == len(HITS) - len(
        prompt.passages
    )
    assert prompt.passages[-1].text.endswith("…")  # the last one was cut, not dropped whole
    assert any("context window" in n for n in prompt.notes)


def test_no_passages_still_carries_the_instruction() -> None:
    prompt = build_prompt("q?", [], count_tokens=words, budget=500)
    assert prompt.passages == [] and REFUSAL in prompt.messages[1]["content"]


def test_citations_are_parsed_and_checked() -> None:
    passages = build_prompt("q?", HITS[:3], count_tokens=words, budget=10_000).passages
    assert cited("Paris [2]. Also [1, 3] and [2] again; [9] is not a passage.", passages) == [
        2,
        1,
        3,
    ]
    assert cited("no citations", passages) == []
