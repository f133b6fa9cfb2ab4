"""bge-m3 on a random-weight fixture in the hub layout: dense through onnx and torch against
sentence-transformers, sparse and multi-vector outputs against FlagEmbedding's computation.

The reference for the heads is ``M3Embedder.encode_single_device`` transcribed in torch
(FlagEmbedding is not installed here): the same tokenizer call, ``relu(sparse_linear(h))``
max-pooled per id without CLS/EOS/PAD/UNK, and ``normalize(colbert_linear(h[:, 1:]) *
mask[:, 1:])[: tokens - 1]``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.runtime.outputs import load_state_dict
from lembed.settings import Settings
from tests.fixtures.bge_m3 import MULTILINGUAL, in_hub_cache, load_from_hub

pytestmark = pytest.mark.model

LONG_WINDOW = 8192


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub")
    in_hub_cache(root)
    return root


@pytest.fixture(scope="module")
def folder(hub: Path) -> Path:
    return next((hub / "models--BAAI--bge-m3" / "snapshots").iterdir())


@pytest.fixture(scope="module", params=["onnx", "torch"])
def m3(request: pytest.FixtureRequest, hub: Path, settings: Settings) -> EmbeddingModel:
    return load_from_hub(hub, str(request.param), settings)


@pytest.fixture(scope="module")
def texts(sts_sentences: list[str]) -> list[str]:
    """A few hundred varied inputs: English, other scripts, and two past the 8192 window."""
    long_en = " ".join(sts_sentences) * 2
    long_mixed = " ".join(MULTILINGUAL) * 150
    return [*sts_sentences, *MULTILINGUAL, "a", "?", long_en, long_mixed]


class FlagReference:
    """FlagEmbedding's M3 inference on the fixture, in torch (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        import torch
        import transformers

        self.torch = torch
        self.tok = transformers.AutoTokenizer.from_pretrained(str(folder))
        self.model = transformers.AutoModel.from_pretrained(str(folder)).eval()
        hidden = self.model.config.hidden_size
        self.sparse_linear = torch.nn.Linear(hidden, 1)
        self.colbert_linear = torch.nn.Linear(hidden, hidden)
        heads = {"sparse_linear.pt": self.sparse_linear, "colbert_linear.pt": self.colbert_linear}
        for file, linear in heads.items():
            linear.load_state_dict(torch.load(folder / file, map_location="cpu", weights_only=True))
        self.unused = {
            self.tok.convert_tokens_to_ids(self.tok.special_tokens_map[t])
            for t in ("cls_token", "eos_token", "pad_token", "unk_token")
            if t in self.tok.special_tokens_map
        }

    def encode(self, texts: list[str], batch_size: int = 16) -> dict[str, list[Any]]:
        torch = self.torch
        out: dict[str, list[Any]] = {"dense": [], "sparse": [], "colbert": []}
        for start in range(0, len(texts), batch_size):
            inputs = self.tok(
                texts[start : start + batch_size],
                truncation=True,
                max_length=LONG_WINDOW,
                padding=True,
                return_tensors="pt",
            )
            with torch.inference_mode():
                last = self.model(**inputs, return_dict=True).last_hidden_state
                dense = torch.nn.functional.normalize(last[:, 0], dim=-1)
                weights = torch.relu(self.sparse_linear(last)).squeeze(-1)
                colbert = self.colbert_linear(last[:, 1:])
                colbert = colbert * inputs["attention_mask"][:, 1:][:, :, None].float()
                colbert = torch.nn.functional.normalize(colbert, dim=-1)
            out["dense"].extend(dense.numpy())
            for w_row, ids in zip(weights.numpy(), inputs["input_ids"].tolist(), strict=True):
                result: dict[str, float] = defaultdict(int)
                for w, idx in zip(w_row, ids, strict=True):
                    if idx not in self.unused and w > 0 and w > result[str(idx)]:
                        result[str(idx)] = float(w)
                out["sparse"].append(dict(result))
            for vecs, mask in zip(colbert.numpy(), inputs["attention_mask"].numpy(), strict=True):
                out["colbert"].append(vecs[: int(mask.sum()) - 1])
        return out


@pytest.fixture(scope="module")
def reference(folder: Path, texts: list[str]) -> dict[str, list[Any]]:
    return FlagReference(folder).encode(texts[::3] + texts[-2:])


def test_the_fixture_is_the_catalog_model(m3: EmbeddingModel, folder: Path) -> None:
    assert m3.resolved.source == "hf-cache"
    assert m3.spec.pooling == "cls"
    assert m3.max_tokens == LONG_WINDOW
    assert m3.spec.query_prefix == m3.spec.document_prefix == ""
    assert m3.spec.outputs == ("dense", "sparse", "multivector")


@pytest.fixture(scope="module")
def st_reference(folder: Path, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """sentence-transformers' vectors of ``texts``, and mean-pooled ones of the first 50."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(folder), device="cpu")
    assert st.max_seq_length == LONG_WINDOW
    want = st.encode(texts, batch_size=16, convert_to_numpy=True)
    tokens = st.encode(texts[:50], output_value="token_embeddings")
    mean = np.stack([t.numpy().mean(axis=0) for t in tokens])
    return want, mean / np.linalg.norm(mean, axis=1, keepdims=True)


def test_dense_matches_sentence_transformers(
    m3: EmbeddingModel, texts: list[str], st_reference: tuple[np.ndarray, np.ndarray]
) -> None:
    want, mean = st_reference
    got = m3.embed(texts, input_type="query")  # no prefix: query and document alike
    assert set(got.truncated) == {len(texts) - 2, len(texts) - 1}
    assert got.token_counts[-1] == LONG_WINDOW
    cos = np.sum(got.vectors * want, axis=1)
    assert cos.min() >= 0.9999, (m3.backend.name, float(cos.min()), int(cos.argmin()))
    # CLS pooling is what makes it agree: mean pooling over the same states does not.
    assert np.sum(got.vectors[:50] * mean, axis=1).min() < 0.99


def test_sparse_is_flagembeddings_lexical_weights(
    m3: EmbeddingModel, texts: list[str], reference: dict[str, list[Any]]
) -> None:
    subset = texts[::3] + texts[-2:]
    got = m3.embed(subset, output="sparse")
    assert got.sparse is not None and got.multivectors is None
    unused = {0, 1, 2, 3}  # <s>, <pad>, </s>, <unk>
    for i, (vec, want) in enumerate(zip(got.sparse, reference["sparse"], strict=True)):
        mine = vec.as_dict()
        assert not unused & set(mine), i
        assert all(v > 0 for v in mine.values())
        keys = set(mine) | {int(k) for k in want}
        diff = max((abs(mine.get(k, 0.0) - want.get(str(k), 0.0)) for k in keys), default=0.0)
        assert diff < 1e-4, (m3.backend.name, i, diff)
        # Ids whose weight is clearly positive appear in both.
        assert {k for k, v in mine.items() if v > 1e-3} <= {int(k) for k in want}
    assert sum(len(v.indices) for v in got.sparse) > len(subset)  # not trivially empty
    assert sum(len(v.indices) > 0 for v in got.sparse) > len(subset) // 2
    # The dense vectors came from the same pass and still match.
    dense = np.stack(reference["dense"])
    assert np.sum(got.vectors * dense, axis=1).min() >= 0.9999


def test_multivector_shape_and_values(
    m3: EmbeddingModel, texts: list[str], reference: dict[str, list[Any]]
) -> None:
    subset = texts[::3] + texts[-2:]
    got = m3.embed(subset, output=["dense", "multivector"])
    assert got.multivectors is not None and got.sparse is None
    for i, (vecs, want, n) in enumerate(
        zip(got.multivectors, reference["colbert"], got.token_counts, strict=True)
    ):
        assert vecs.shape == (n - 1, m3.dim) == want.shape, i
        np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
        assert np.abs(vecs - want).max() < 1e-3, (m3.backend.name, i)
    assert got.multivectors[-1].shape[0] == LONG_WINDOW - 1


def test_lexical_score_is_flagembeddings_matching_score(m3: EmbeddingModel) -> None:
    texts = ["the cat sat on the mat", "a cat on a mat", "river mountain", "the cat"]
    got = m3.embed(texts, output="sparse")
    assert got.sparse is not None
    vecs = [v.as_dict() for v in got.sparse]

    def flag_score(lw1: dict[int, float], lw2: dict[int, float]) -> float:
        return sum(w * lw2[t] for t, w in lw1.items() if t in lw2)

    for i in range(len(texts)):
        for j in range(len(texts)):
            want = flag_score(vecs[i], vecs[j])
            assert got.sparse[i].dot(got.sparse[j]) == pytest.approx(want, rel=1e-6, abs=1e-9)
    ids = [set(t) for t in m3.tokenize(texts[:3])]
    assert not (ids[0] & ids[2]) - {0, 2}  # only <s>, </s> in common
    assert got.sparse[0].dot(got.sparse[2]) == 0.0
    assert max(v.dot(v) for v in got.sparse) > 0


def test_outputs_a_model_lacks_are_refused(fake_model: EmbeddingModel) -> None:
    with pytest.raises(ValidationError, match="no sparse output"):
        fake_model.embed("x", output="sparse")
    with pytest.raises(ValidationError, match="output must be one of"):
        fake_model.embed("x", output="colbert")  # type: ignore[arg-type]


def test_heads_load_without_torch_matches_torch_load(folder: Path) -> None:
    import torch

    for file in ("sparse_linear.pt", "colbert_linear.pt"):
        mine = load_state_dict(folder / file)
        want = torch.load(folder / file, map_location="cpu", weights_only=True)
        assert mine.keys() == want.keys()
        for key, value in want.items():
            np.testing.assert_array_equal(mine[key], value.numpy())


def test_a_missing_head_says_how_to_get_it(hub: Path, settings: Settings) -> None:
    model = load_from_hub(hub, "fake", settings)
    moved = model.resolved.path / "colbert_linear.pt"
    keep = moved.with_suffix(".bak")
    moved.rename(keep)
    try:
        with pytest.raises(ValidationError, match="lembed pull bge-m3"):
            model.embed("x", output="multivector")
    finally:
        keep.rename(moved)


def test_pull_fetches_what_the_fixture_loads_from(folder: Path) -> None:
    """`lembed pull bge-m3` asks the hub for every file the offline load reads: the heads
    and, as the repo has no safetensors, pytorch_model.bin."""
    from huggingface_hub.utils import filter_repo_objects

    from lembed.models.catalog import find
    from lembed.models.pull import allow_patterns

    repo = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    repo += ["imgs/bm25.jpg", "long.jpg", "onnx/Constant_7_attr__value"]
    spec = find("bge-m3")
    patterns = allow_patterns(spec, torch_weights=True)
    wanted = set(filter_repo_objects(repo, allow_patterns=patterns))
    assert wanted == {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    # The first pass (a repo with safetensors stops there) leaves the .bin alone.
    first = set(filter_repo_objects(repo, allow_patterns=allow_patterns(spec)))
    assert first == wanted - {"pytorch_model.bin"}
