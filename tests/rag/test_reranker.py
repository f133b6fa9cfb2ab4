"""Cross-encoder rerankers: resolution, ONNX agrees with torch, ordering, limits, the
shared export recipe and backends (logits head); and the real catalog weights when they are
on this machine."""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pytest

from lembed.engine.cross_encoder import CrossEncoder, load_cross_encoder
from lembed.errors import EmptyInputError, InputTooLongError, ModelNotFoundError
from lembed.models.rerankers import RERANKERS, find_reranker, resolve_reranker
from lembed.models.resolve import find_in_hf_cache
from lembed.rag.reranker import Reranker, load_reranker, sigmoid
from lembed.runtime.backends.onnx import OnnxBackend
from lembed.runtime.cross_encoder import LOGITS, relevance
from lembed.runtime.export import cache_folder
from lembed.settings import Settings

TEXTS = ["the eiffel tower is in paris", "bananas", "a b c", "paris, france", "lentil soup"]


@pytest.fixture(scope="module")
def onnx_reranker(tiny_reranker_path: Path, settings: Settings) -> Reranker:
    return Reranker(str(tiny_reranker_path), settings=settings)


def test_onnx_graph_agrees_with_torch(
    onnx_reranker: Reranker, tiny_reranker_path: Path, settings: Settings
) -> None:
    torch_reranker = Reranker(str(tiny_reranker_path), backend="torch", settings=settings)
    assert onnx_reranker.backend == "onnx" and torch_reranker.backend == "torch"
    a = onnx_reranker.score("where is the tower", TEXTS)
    b = torch_reranker.score("where is the tower", TEXTS)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert len(set(np.round(a, 4))) == len(TEXTS)  # the random model tells them apart


def test_rerank_sorts_and_cuts(onnx_reranker: Reranker) -> None:
    scores = onnx_reranker.score("where is the tower", TEXTS)
    ranked = onnx_reranker.rerank("where is the tower", TEXTS)
    assert [r.index for r in ranked] == list(np.argsort(-scores))
    assert [r.score for r in ranked] == pytest.approx(sorted(scores.tolist(), reverse=True))
    top = onnx_reranker.rerank("where is the tower", TEXTS, top_n=2, normalize=True)
    assert [r.index for r in top] == [r.index for r in ranked[:2]]
    assert top[0].score == pytest.approx(sigmoid(ranked[0].score))


def test_batches_do_not_change_scores(tiny_reranker_path: Path, settings: Settings) -> None:
    """Padding and batch cuts must not leak into a pair's score."""
    small = Reranker(
        str(tiny_reranker_path), settings=settings.model_copy(update={"batch_tokens": 16})
    )
    big = Reranker(str(tiny_reranker_path), settings=settings)
    texts = TEXTS * 3
    np.testing.assert_allclose(small.score("q", texts), big.score("q", texts), atol=1e-5)


def test_limits_and_empty_inputs(onnx_reranker: Reranker) -> None:
    long_text = " ".join(string.ascii_lowercase * 10)
    with pytest.raises(InputTooLongError, match="128"):
        onnx_reranker.score("q", ["short", long_text], truncate=False)
    assert onnx_reranker.score("q", [long_text]).shape == (1,)  # cut by default
    two_halves = "x " * 150 + "y " * 150  # the right cut keeps the x's, the left the y's
    right = onnx_reranker.score("q", [two_halves, "x " * 150])
    left = onnx_reranker.score("q", [two_halves, "y " * 150], direction="left")
    assert right[0] == pytest.approx(right[1], abs=1e-4) and right[0] != pytest.approx(left[0])
    with pytest.raises(EmptyInputError):
        onnx_reranker.score(" ", ["a"])
    with pytest.raises(EmptyInputError):
        onnx_reranker.score("q", [])
    with pytest.raises(EmptyInputError):
        onnx_reranker.score("q", ["a", ""])


def test_relevance_of_one_and_two_label_heads() -> None:
    np.testing.assert_allclose(relevance(np.array([[0.5], [-1.0]])), [0.5, -1.0])
    np.testing.assert_allclose(relevance(np.array([[0.0, 2.0], [1.0, 0.0]])), [2.0, -1.0])
    assert sigmoid(0.0) == 0.5 and sigmoid(-800.0) == pytest.approx(0.0)


def test_resolution_errors_name_the_way_out(tmp_path: Path, settings: Settings) -> None:
    absent = [s for s in RERANKERS if find_in_hf_cache(s.hf_id) is None]
    for spec in absent:
        with pytest.raises(ModelNotFoundError, match=f"lembed pull {spec.name}"):
            resolve_reranker(spec.name)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        resolve_reranker(str(tmp_path / "empty"))
    assert load_reranker("none", settings=settings) is None
    assert find_reranker("BAAI/bge-reranker-base") is find_reranker("bge-reranker")


def test_folder_window_comes_from_the_config(tiny_reranker_path: Path) -> None:
    resolved = resolve_reranker(str(tiny_reranker_path))
    config = json.loads((resolved.path / "config.json").read_text())
    assert resolved.spec.max_tokens == config["max_position_embeddings"] == 128


def test_runs_on_the_runtime_backends_with_the_logits_head(
    onnx_reranker: Reranker, tiny_reranker_path: Path, settings: Settings
) -> None:
    """One runtime: the ONNX backend with the logits head, the tokenizer's padding, and the
    export recipe's cache (its own folder beside the embedding graphs)."""
    model = onnx_reranker.model
    assert isinstance(model, CrossEncoder) and isinstance(model.backend, OnnxBackend)
    folder = cache_folder(model.resolved, settings.cache_dir, LOGITS)
    assert model.backend.graph == folder / "model.onnx" and folder.name.startswith(
        f"{model.name}-logits-"
    )
    encodings = model.encode("q", ["a b", "c d e f"])
    batch = model.tokenizer.pad(encodings)
    assert batch.token_type_ids[0].tolist().count(1) == 3  # "a b [SEP]" is the second member
    logits = model.backend.forward(batch)
    assert logits.shape == (2, 1)
    np.testing.assert_allclose(model.forward(encodings)[:, 0], logits[:, 0], atol=1e-6)
    again = load_cross_encoder(str(tiny_reranker_path), settings=settings)  # from the cache
    np.testing.assert_allclose(again.score("q", TEXTS), model.score("q", TEXTS), atol=1e-6)


@pytest.mark.model
@pytest.mark.parametrize("spec", RERANKERS, ids=[s.name for s in RERANKERS])
def test_real_catalog_reranker(spec: object, settings: Settings) -> None:
    name = spec.name  # type: ignore[attr-defined]
    if find_in_hf_cache(spec.hf_id) is None:  # type: ignore[attr-defined]
        pytest.skip(f"{name} is not on this machine (lembed pull {name})")
    reranker = Reranker(name, settings=settings)
    ranked = reranker.rerank(
        "How many people live in Berlin?",
        [
            "Berlin is well known for its museums.",
            "Berlin had a population of 3,520,031 registered inhabitants in 2016.",
            "The weather in Madrid is hot in summer.",
        ],
    )
    assert ranked[0].index == 1
