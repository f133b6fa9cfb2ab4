"""Engine behaviour on the fake backend (real tokenizer, deterministic vectors)."""

import asyncio
import dataclasses
import warnings

import numpy as np
import pytest

from lembed.engine.model import EmbeddingModel, MatryoshkaWarning
from lembed.engine.pool import ModelPool
from lembed.errors import EmptyInputError, InputTooLongError, ValidationError


def with_prefixes(model: EmbeddingModel) -> EmbeddingModel:
    spec = dataclasses.replace(model.spec, query_prefix="query: ", document_prefix="passage: ")
    resolved = dataclasses.replace(model.resolved, spec=spec)
    return EmbeddingModel(resolved, model.tokenizer, model.backend)


def test_vectors_are_unit_and_deterministic(fake_model: EmbeddingModel) -> None:
    out = fake_model.embed(["hello world", "another text"])
    assert out.vectors.shape == (2, 384) and out.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out.vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(fake_model.embed("hello world").vectors[0], out.vectors[0])
    assert out.token_counts == [4, 4] and out.prompt_tokens == 8


def test_prefixes_only_for_the_asked_input_type(fake_model: EmbeddingModel) -> None:
    model = with_prefixes(fake_model)
    assert model.tokenize(["cats"], input_type="query") == fake_model.tokenize(["query: cats"])
    assert model.count_tokens(["cats"], input_type="none") == [3]
    q = model.embed("cats", input_type="query").vectors[0]
    d = model.embed("cats", input_type="document").vectors[0]
    n = model.embed("cats", input_type="none").vectors[0]
    np.testing.assert_array_equal(q, fake_model.embed("query: cats", input_type="none").vectors[0])
    np.testing.assert_array_equal(d, fake_model.embed("passage: cats").vectors[0])
    np.testing.assert_array_equal(n, fake_model.embed("cats").vectors[0])  # no prefixes defined
    with pytest.raises(ValidationError, match="input_type"):
        model.embed("cats", input_type="question")  # type: ignore[arg-type]


def test_truncate_error_names_limit_and_count(fake_model: EmbeddingModel) -> None:
    with pytest.raises(InputTooLongError) as err:
        fake_model.embed(["short", "word " * 300], truncate="error")
    assert err.value.index == 1 and err.value.tokens == 302 and err.value.limit == 256
    assert "302 tokens" in err.value.message and "256-token window" in err.value.message
    with pytest.raises(InputTooLongError):
        fake_model.embed("word " * 300, truncate=False)


def test_truncation_reports_cut_inputs_and_side(fake_model: EmbeddingModel) -> None:
    text = "alpha " + "word " * 300 + "omega"
    right = fake_model.embed(["ok", text], truncate="right")
    left = fake_model.embed(["ok", text], truncate="left")
    assert right.truncated == left.truncated == [1]
    assert right.token_counts == [3, 256]
    assert not np.allclose(right.vectors[1], left.vectors[1])


def test_order_is_restored_after_length_sorting(fake_model: EmbeddingModel) -> None:
    texts = ["a " * n for n in (5, 60, 1, 33, 120, 2)]
    together = fake_model.embed(texts).vectors
    alone = np.stack([fake_model.embed(t).vectors[0] for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)


@pytest.mark.parametrize("bad", [[], "", "   ", ["ok", ""], [1], None])
def test_bad_inputs_raise_validation_errors(fake_model: EmbeddingModel, bad: object) -> None:
    with pytest.raises(ValidationError):
        fake_model.embed(bad)  # type: ignore[arg-type]


def test_empty_list_is_empty_input(fake_model: EmbeddingModel) -> None:
    with pytest.raises(EmptyInputError):
        fake_model.embed([])


def test_dimensions_slice_renormalise_and_warn(fake_model: EmbeddingModel) -> None:
    full = fake_model.embed("hello").vectors[0]
    with pytest.warns(MatryoshkaWarning, match="not trained for 128"):
        cut = fake_model.embed("hello", dimensions=128).vectors[0]
    np.testing.assert_allclose(cut, full[:128] / np.linalg.norm(full[:128]), rtol=1e-5)
    for bad in (0, -1, 385, 1.5, True):
        with pytest.raises(ValidationError, match="dimensions"):
            fake_model.embed("hello", dimensions=bad)  # type: ignore[arg-type]


def test_a_served_cut_does_not_warn(fake_model: EmbeddingModel) -> None:
    """A server answers an untrained size; it does not print a warning per request."""

    async def served() -> np.ndarray:
        pool = ModelPool([fake_model])
        await pool.start()
        try:
            return (await pool.embed(None, ["hello"], dimensions=128)).vectors
        finally:
            await pool.stop()

    with warnings.catch_warnings():
        warnings.simplefilter("error", MatryoshkaWarning)
        cut = asyncio.run(served())
    full = fake_model.embed("hello").vectors[0]
    np.testing.assert_allclose(cut[0], full[:128] / np.linalg.norm(full[:128]), rtol=1e-5)


def test_trained_matryoshka_dims_do_not_warn(fake_model: EmbeddingModel) -> None:
    spec = dataclasses.replace(fake_model.spec, matryoshka_dims=(384, 128))
    model = EmbeddingModel(
        dataclasses.replace(fake_model.resolved, spec=spec),
        fake_model.tokenizer,
        fake_model.backend,
    )
    assert model.embed("hello", dimensions=128).vectors.shape == (1, 128)


def test_output_dtypes(fake_model: EmbeddingModel) -> None:
    assert fake_model.embed("x", dtype="int8").vectors.dtype == np.int8
    assert fake_model.embed("x", dtype="ubinary").vectors.shape == (1, 48)
    with pytest.raises(ValidationError, match="dtype"):
        fake_model.embed("x", dtype="float16")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="multiple of 8"):
        fake_model.embed("x", dtype="binary", dimensions=100)


def test_bad_truncate_value(fake_model: EmbeddingModel) -> None:
    with pytest.raises(ValidationError, match="truncate"):
        fake_model.embed("x", truncate="middle")  # type: ignore[arg-type]


def test_forward_uses_budgeted_batches(fake_model: EmbeddingModel) -> None:
    seen: list[tuple[int, int]] = []
    backend = fake_model.backend

    class Spy:
        name, device = "spy", "cpu"

        def forward(self, batch):  # type: ignore[no-untyped-def]
            seen.append(batch.shape)
            return backend.forward(batch)

    model = EmbeddingModel(fake_model.resolved, fake_model.tokenizer, Spy(), batch_tokens=64)
    model.embed(["a " * n for n in (30, 2, 14, 3, 1)])
    assert all(rows * cols <= 64 or rows == 1 for rows, cols in seen)
    assert sum(rows for rows, _ in seen) == 5
