"""Batching policy (token budget counting padding) and the shared input checks."""

from __future__ import annotations

import pytest

from lembed.engine.batching import check_texts, plan_batches, truncate_mode
from lembed.errors import EmptyInputError, ValidationError


def test_plan_batches_counts_padding() -> None:
    lengths = [10, 200, 30, 200, 5, 50]
    batches = plan_batches(lengths, budget=400, max_batch=64)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 400
        assert [lengths[i] for i in b] == sorted((lengths[i] for i in b), reverse=True)
    assert batches[0] == [1, 3]
    assert plan_batches([1000], budget=10, max_batch=4) == [[0]]  # too long alone: still run
    assert [len(b) for b in plan_batches([1] * 10, budget=1000, max_batch=4)] == [4, 4, 2]


def test_check_texts_takes_one_string_or_a_list_of_non_blank_strings() -> None:
    assert check_texts("a") == ["a"]
    assert check_texts(("a", "b")) == ["a", "b"]
    with pytest.raises(ValidationError, match="a string or a list of strings"):
        check_texts(3)
    with pytest.raises(EmptyInputError, match="input is empty"):
        check_texts([])
    with pytest.raises(ValidationError, match=r"input\[1\] must be a string, not int"):
        check_texts(["a", 1])
    with pytest.raises(EmptyInputError, match=r"input\[0\] is empty or whitespace only"):
        check_texts([" \n"])


def test_truncate_mode_maps_bools_and_refuses_other_values() -> None:
    assert [truncate_mode(t) for t in (True, False, "right", "left", "error")] == [
        "right",
        "error",
        "right",
        "left",
        "error",
    ]
    with pytest.raises(ValidationError, match="truncate must be one of right, left, error"):
        truncate_mode("middle")
