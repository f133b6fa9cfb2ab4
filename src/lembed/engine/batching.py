"""Batching policy and the input checks every embedding path shares.

:func:`plan_batches` cuts a request's inputs into forward passes by a token budget that
counts padding (the longest first); :func:`check_texts` and :func:`truncate_mode` validate
what callers send before any work is done. Embedding models, cross-encoders, the model pool
and the server's dialects use these; windows across requests are planned by
:func:`lembed.engine.batcher.plan_window`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from lembed.errors import EmptyInputError, ValidationError

Truncate = Literal["right", "left", "error"]
TRUNCATE_MODES: tuple[Truncate, ...] = ("right", "left", "error")


def plan_batches(lengths: Sequence[int], budget: int, max_batch: int) -> list[list[int]]:
    """Group indices into batches, longest first, so ``len(batch) * longest <= budget``.

    Padding counts: every row of a batch is as long as its longest member. An input longer
    than the budget on its own still gets a batch of one.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (
            len(current) >= max_batch or (len(current) + 1) * lengths[current[0]] > budget
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def check_texts(texts: object) -> list[str]:
    """Validate an input list: a non-empty list of non-blank strings."""
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list | tuple):
        raise ValidationError("input must be a string or a list of strings", param="input")
    if not texts:
        raise EmptyInputError("input is empty: give at least one text", param="input")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValidationError(
                f"input[{i}] must be a string, not {type(text).__name__}", param="input"
            )
        if not text.strip():
            raise EmptyInputError(f"input[{i}] is empty or whitespace only", param="input")
    return list(texts)


def truncate_mode(truncate: object) -> Truncate:
    """``truncate`` as a mode: a mode name, or True ("right") / False ("error")."""
    if truncate is True:
        return "right"
    if truncate is False:
        return "error"
    if truncate in TRUNCATE_MODES:
        return truncate
    raise ValidationError(
        f"truncate must be one of {', '.join(TRUNCATE_MODES)} (or a bool), not {truncate!r}",
        param="truncate",
    )
