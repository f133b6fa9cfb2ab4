"""Prompt assembly: numbered context passages with their sources, fitted to a token budget,
and the instruction to answer from them only — and to say so when they lack the answer."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lembed.stores.base import Hit

REFUSAL = "The context does not contain the answer."
SYSTEM = "You are a helpful assistant. You answer questions from the given context only."
# After the context, right before the question: small models follow the nearest instruction.
INSTRUCTION = (
    "Answer the question using only the context above and cite the passage numbers like "
    f'[1]. If the context does not contain the answer, say "{REFUSAL}"'
)
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class Passage:
    """One context passage as the model sees it: number (1-based), source, text."""

    number: int
    hit: Hit
    text: str  # possibly cut to fit the budget

    @property
    def source(self) -> str:
        meta = self.hit.metadata
        where = str(meta.get("source", self.hit.id))
        if "page" in meta:
            where += f" (page {meta['page']})"
        return where


@dataclass(frozen=True)
class Prompt:
    messages: list[dict[str, str]]
    passages: list[Passage]
    tokens: int
    dropped: int = 0  # passages left out to fit the budget
    notes: list[str] = field(default_factory=list)


def render_context(passages: Sequence[Passage]) -> str:
    return "\n\n".join(f"[{p.number}] (source: {p.source})\n{p.text.strip()}" for p in passages)


def user_message(question: str, context: str) -> str:
    return f"Context:\n{context}\n\n{INSTRUCTION}\n\nQuestion: {question.strip()}"


def build_prompt(
    question: str,
    hits: Sequence[Hit],
    *,
    count_tokens: Callable[[str], int],
    budget: int,
) -> Prompt:
    """Messages for a chat model: as many of ``hits`` (best first) as fit in ``budget``
    tokens together with the instruction and the question; the last one may be cut."""
    overhead = count_tokens(SYSTEM) + count_tokens(user_message(question, "")) + 16
    room = budget - overhead
    passages: list[Passage] = []
    notes: list[str] = []
    for hit in hits:
        number = len(passages) + 1
        head = f"[{number}] (source: {Passage(number, hit, '').source})\n"
        need = count_tokens(head + hit.text) + 2
        if need <= room:
            passages.append(Passage(number, hit, hit.text))
            room -= need
            continue
        if room > 48:  # worth a cut passage
            share = (room - count_tokens(head) - 4) / max(1, count_tokens(hit.text))
            cut = hit.text[: max(0, int(len(hit.text) * share))].rsplit(" ", 1)[0]
            while cut and count_tokens(head + cut) + 2 > room:
                cut = cut[: int(len(cut) * 0.9)]
            if cut:
                passages.append(Passage(number, hit, cut + " …"))
                notes.append(f"passage [{number}] cut to fit the generator's context window")
        break
    dropped = len(hits) - len(passages)
    if dropped:
        notes.append(f"{dropped} passage(s) left out to fit the generator's context window")
    context = render_context(passages) if passages else "(no passages found)"
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": user_message(question, context)},
    ]
    tokens = sum(count_tokens(m["content"]) for m in messages)
    return Prompt(messages, passages, tokens, dropped, notes)


def cited(answer: str, passages: Sequence[Passage]) -> list[int]:
    """Passage numbers the answer cites (``[2]``, ``[1, 3]``), in order, existing ones only."""
    numbers: list[int] = []
    valid = {p.number for p in passages}
    for match in _CITE.finditer(answer):
        for part in match.group(1).split(","):
            n = int(part)
            if n in valid and n not in numbers:
                numbers.append(n)
    return numbers
