"""The seed models' architectures, proven on random-weight checkpoints in the real hub layout.

For nomic-embed-text-v1.5, jina-embeddings-v3 and mxbai-embed-large-v1: lembed's torch and
ONNX (fp32) backends against sentence-transformers on the same weights, over a few hundred
varied inputs including ones past the window, plus one test per model rule (prefixes,
pooling, Matryoshka recipe, task adapters, binary) that fails if the rule is dropped.

The references never go through lembed: mxbai's is ``SentenceTransformer(folder)`` on the
hub-layout folder itself; nomic's and jina's (whose hub checkpoints need remote code) are
sentence-transformers Transformer + Pooling over the native-layout copy transformers saved
from the in-memory model the fixture was made from (jina: one per task, LoRA merged by the
original ``LoRAParametrization`` formula). The 8192-token models use a 64-token window
variant of the fixture here so that "past the window" stays cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lembed.engine.load import load_model
from lembed.engine.model import EmbeddingModel, MatryoshkaWarning
from lembed.errors import ValidationError
from lembed.settings import Settings
from tests.fixtures import checkpoints as ck

pytestmark = [pytest.mark.filterwarnings("ignore::lembed.engine.model.MatryoshkaWarning")]

BACKENDS = ("torch", "onnx")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return ck.varied_texts(300, seed=1, long_words=70)


@pytest.fixture(scope="module")
def mxbai_texts() -> list[str]:
    return ck.varied_texts(300, seed=2, long_words=520)


def _load(checkpoint: ck.Checkpoint, backend: str, settings: Settings) -> EmbeddingModel:
    return load_model(str(checkpoint.path), backend=backend, device="cpu", settings=settings)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


@pytest.fixture(scope="module")
def models(settings: Settings) -> dict[tuple[str, str], EmbeddingModel]:
    found: dict[tuple[str, str], EmbeddingModel] = {}
    for name, checkpoint in (
        ("nomic", ck.nomic_checkpoint(window=64)),
        ("jina", ck.jina_checkpoint(window=64)),
        ("mxbai", ck.mxbai_checkpoint()),
    ):
        for backend in BACKENDS:
            found[name, backend] = _load(checkpoint, backend, settings)
    return found


def _reference(folder: Path, window: int, texts: list[str], prompt: str) -> np.ndarray:
    st = ck.st_reference(folder, "mean", window)  # nomic and jina pool by mean (model cards)
    return ck.embed_reference(st, texts, prompt)


# -- agreement with sentence-transformers ---------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("input_type", ["query", "document"])
def test_nomic_matches_reference(
    models: dict[tuple[str, str], EmbeddingModel], texts: list[str], backend: str, input_type: str
) -> None:
    model = models["nomic", backend]
    checkpoint = ck.nomic_checkpoint(window=64)
    prompt = ck.NOMIC_PROMPTS[input_type]
    want = _reference(checkpoint.references[None], 64, texts, prompt)
    out = model.embed(texts, input_type=input_type)
    assert model.name == "nomic-embed-text-v1.5" and model.spec.pooling == "mean"
    assert len(out.truncated) >= 10  # inputs past the window were cut, as the reference cuts
    cos = _cos(out.vectors, want)
    assert cos.min() >= 0.9999, cos.min()
    # the prefix matters: the same texts without it give other vectors
    bare = _reference(checkpoint.references[None], 64, texts, "")
    assert np.median(_cos(out.vectors, bare)) < 0.999


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("input_type", "task"),
    [("query", "retrieval.query"), ("document", "retrieval.passage"), ("separation", "separation")],
)
def test_jina_matches_reference_per_task(
    models: dict[tuple[str, str], EmbeddingModel],
    texts: list[str],
    backend: str,
    input_type: str,
    task: str,
) -> None:
    model = models["jina", backend]
    checkpoint = ck.jina_checkpoint(window=64)
    want = _reference(checkpoint.references[task], 64, texts, ck.JINA_INSTRUCTIONS[task])
    out = model.embed(texts, input_type=input_type)
    assert len(out.truncated) >= 10
    cos = _cos(out.vectors, want)
    assert cos.min() >= 0.9999, cos.min()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("input_type", ["query", "document"])
def test_mxbai_matches_sentence_transformers(
    models: dict[tuple[str, str], EmbeddingModel],
    mxbai_texts: list[str],
    backend: str,
    input_type: str,
) -> None:
    from sentence_transformers import SentenceTransformer

    model = models["mxbai", backend]
    st = SentenceTransformer(str(ck.mxbai_checkpoint().path), device="cpu", local_files_only=True)
    assert st.max_seq_length == model.max_tokens == 512
    prompt = ck.MXBAI_QUERY if input_type == "query" else ""
    want = ck.embed_reference(st, mxbai_texts, prompt)
    out = model.embed(mxbai_texts, input_type=input_type)
    assert model.spec.pooling == "cls" and len(out.truncated) >= 10
    cos = _cos(out.vectors, want)
    assert cos.min() >= 0.9999, cos.min()


def test_mxbai_onnx_uses_the_repository_graph(
    models: dict[tuple[str, str], EmbeddingModel],
) -> None:
    backend = models["mxbai", "onnx"].backend
    assert getattr(backend, "graph", None) == ck.mxbai_checkpoint().path / "onnx" / "model.onnx"


# -- each rule, by a test that fails without it -----------------------------------------------


def test_mxbai_pooling_is_cls(models: dict[tuple[str, str], EmbeddingModel]) -> None:
    """Mean pooling of the same hidden states gives other vectors."""
    from sentence_transformers import SentenceTransformer

    texts = ck.varied_texts(40, seed=3)
    st = SentenceTransformer(str(ck.mxbai_checkpoint().path), device="cpu", local_files_only=True)
    tokens = st.encode(texts, output_value="token_embeddings")
    mean = np.stack([np.asarray(t).mean(axis=0) for t in tokens])
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    got = models["mxbai", "torch"].embed(texts, input_type="document").vectors
    assert np.median(_cos(got, mean)) < 0.999


def test_mxbai_prompt_is_query_only(models: dict[tuple[str, str], EmbeddingModel]) -> None:
    model = models["mxbai", "torch"]
    text = ["a red car on the road"]
    assert model.tokenize(text, input_type="document") == model.tokenize(text, input_type="none")
    query = model.tokenizer.decode(model.tokenize(text, input_type="query")[0])
    assert query.startswith("represent this sentence for searching relevant passages : a red")


def test_mxbai_matryoshka_and_binary(
    models: dict[tuple[str, str], EmbeddingModel], mxbai_texts: list[str]
) -> None:
    """Slice-then-normalise Matryoshka and sentence-transformers' ubinary packing."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util.quantization import quantize_embeddings

    model = models["mxbai", "onnx"]
    st = SentenceTransformer(str(ck.mxbai_checkpoint().path), device="cpu", local_files_only=True)
    raw = np.asarray(st.encode(mxbai_texts, batch_size=32))
    cut = raw[:, :16] / np.linalg.norm(raw[:, :16], axis=1, keepdims=True)
    got = model.embed(mxbai_texts, dimensions=16).vectors
    assert _cos(got, cut).min() >= 0.9999
    bits = model.embed(mxbai_texts, dimensions=16, dtype="ubinary").vectors
    want = quantize_embeddings(cut, precision="ubinary")
    assert bits.shape == want.shape == (len(mxbai_texts), 2)
    differing = np.unpackbits(bits ^ want).sum()  # only components within rounding of 0 flip
    assert differing <= bits.size * 8 * 0.002, differing


def test_nomic_matryoshka_follows_the_model_card(
    models: dict[tuple[str, str], EmbeddingModel], texts: list[str]
) -> None:
    """layer_norm over the full vector, slice, normalise — not a plain slice."""
    import torch

    checkpoint = ck.nomic_checkpoint(window=64)
    st = ck.st_reference(checkpoint.references[None], "mean", 64)
    raw = torch.from_numpy(np.asarray(st.encode(["search_query: " + t for t in texts])))
    card = torch.nn.functional.layer_norm(raw, normalized_shape=(raw.shape[1],))[:, :16]
    card = torch.nn.functional.normalize(card, p=2, dim=1).numpy()
    for backend in BACKENDS:
        got = models["nomic", backend].embed(texts, input_type="query", dimensions=16).vectors
        assert _cos(got, card).min() >= 0.9999, backend
    plain = raw[:, :16] / raw[:, :16].norm(dim=1, keepdim=True)
    assert np.median(_cos(got, plain.numpy())) < 0.999


def test_nomic_named_prompts(models: dict[tuple[str, str], EmbeddingModel]) -> None:
    model = models["nomic", "torch"]
    assert set(model.spec.input_types) >= {"query", "document", "clustering", "classification"}
    ids = model.tokenize(["the river"], input_type="clustering")[0]
    assert model.tokenizer.decode(ids) == "clustering : the river"
    a = model.embed(["the river"], input_type="clustering").vectors
    b = model.embed(["the river"], input_type="classification").vectors
    assert float(_cos(a, b)[0]) < 0.9999


def test_jina_task_adapters_make_query_and_document_differ(
    models: dict[tuple[str, str], EmbeddingModel],
) -> None:
    """Same text, same (empty) instruction: only the LoRA adapter tells these apart."""
    texts = ck.varied_texts(20, seed=4)
    for backend in BACKENDS:
        model = models["jina", backend]
        assert model.spec.prefix("separation") == model.spec.prefix("classification") == ""
        sep = model.embed(texts, input_type="separation").vectors
        cls = model.embed(texts, input_type="classification").vectors
        assert np.median(_cos(sep, cls)) < 0.999, backend
        query = model.embed(texts, input_type="query").vectors
        doc = model.embed(texts, input_type="document").vectors
        assert np.median(_cos(query, doc)) < 0.999, backend


def test_jina_repository_graph_gets_the_task_id(settings: Settings) -> None:
    """jina's own onnx/model.onnx (a task_id input) is used, fed each task's index."""
    checkpoint = ck.jina_checkpoint(window=64, with_onnx=True)
    model = _load(checkpoint, "onnx", settings)
    texts = ck.varied_texts(40, seed=7, long_words=70)
    for kind, task in (("query", "retrieval.query"), ("text-matching", "text-matching")):
        assert getattr(model.backend_for(task), "graph", None) == checkpoint.path / "onnx" / (
            "model.onnx"
        )
        want = _reference(checkpoint.references[task], 64, texts, ck.JINA_INSTRUCTIONS[task])
        got = model.embed(texts, input_type=kind).vectors
        assert _cos(got, want).min() >= 0.9999, kind
    with pytest.raises(ValidationError, match="task adapter"):  # no bare weights in it
        model.embed(texts[:1], input_type="none")


def test_jina_none_runs_the_bare_weights(models: dict[tuple[str, str], EmbeddingModel]) -> None:
    texts = ck.varied_texts(30, seed=5)
    checkpoint = ck.jina_checkpoint(window=64)
    want = _reference(checkpoint.references[None], 64, texts, "")
    got = models["jina", "torch"].embed(texts, input_type="none").vectors
    assert _cos(got, want).min() >= 0.9999


def test_jina_matryoshka_slices(models: dict[tuple[str, str], EmbeddingModel]) -> None:
    model = models["jina", "onnx"]
    assert model.spec.matryoshka_recipe == "slice" and 32 in model.spec.matryoshka_dims
    full = model.embed(["the blue river"], input_type="query").vectors
    cut = model.embed(["the blue river"], input_type="query", dimensions=8).vectors
    want = full[:, :8] / np.linalg.norm(full[:, :8])
    assert _cos(cut, want).min() >= 0.99999


def test_unknown_input_type_names_the_models_own(
    models: dict[tuple[str, str], EmbeddingModel],
) -> None:
    from lembed.errors import ValidationError

    with pytest.raises(ValidationError, match="text-matching"):
        models["jina", "torch"].embed(["x"], input_type="clustering")


# -- truncation keeps the prefix ----------------------------------------------------------------


@pytest.mark.parametrize("side", ["left", "right"])
def test_truncation_never_cuts_the_prefix(
    models: dict[tuple[str, str], EmbeddingModel], side: str
) -> None:
    model = models["nomic", "torch"]
    words = [f"{w}" for w in ck.WORDS[:100]]  # each a whole token
    text = " ".join(words)
    out = model.encode([text], input_type="query", truncate=side)  # type: ignore[arg-type]
    assert out.truncated == [0]
    ids = out.encodings[0].ids
    assert len(ids) == 64
    prefix = model.tokenize(["x"], input_type="query")[0][:-2]  # [CLS] search _ query :
    assert ids[: len(prefix)] == prefix
    body = model.tokenize([text], input_type="none")[0][1:-1]
    kept = ids[len(prefix) : -1]
    assert kept == (body[-len(kept) :] if side == "left" else body[: len(kept)])
    assert ids[-1] == model.tokenize(["x"])[0][-1]  # [SEP]


def test_left_truncation_vector_keeps_the_prefix(
    models: dict[tuple[str, str], EmbeddingModel],
) -> None:
    """The vector of a left-cut query equals the reference on prefix + the text's tail."""
    model = models["jina", "onnx"]
    words = list(ck.WORDS[:120])
    out = model.encode([" ".join(words)], input_type="query", truncate="left")
    kept = len(out.encodings[0].ids) - len(model.tokenize(["x"], input_type="query")[0]) + 1
    tail = " ".join(words[-kept:])  # the fixture's Unigram has each of these as one piece
    want = _reference(
        ck.jina_checkpoint(window=64).references["retrieval.query"],
        64,
        [tail],
        ck.JINA_INSTRUCTIONS["retrieval.query"],
    )
    got = model.embed([" ".join(words)], input_type="query", truncate="left").vectors
    assert _cos(got, want).min() >= 0.9999


# -- the real windows, loaded by catalog name ------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "name", "window"),
    [
        (ck.nomic_checkpoint, "nomic-embed-text", 8192),
        (ck.jina_checkpoint, "jina-embeddings-v3", 8192),
        (ck.mxbai_checkpoint, "mxbai-embed-large", 512),
    ],
)
def test_catalog_names_resolve_to_the_fixture(
    builder: object, name: str, window: int, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = builder()  # type: ignore[operator]
    monkeypatch.setenv("HF_HUB_CACHE", str(checkpoint.hub_cache))
    model = load_model(name, backend="fake", settings=settings)
    assert model.resolved.source == "hf-cache" and model.resolved.path == checkpoint.path
    assert model.max_tokens == window and model.dim == 32


def test_matryoshka_warning_still_raised_off_the_trained_sizes(
    models: dict[tuple[str, str], EmbeddingModel],
) -> None:
    with pytest.warns(MatryoshkaWarning):
        models["nomic", "torch"].embed(["x"], dimensions=8)


# -- the server path ---------------------------------------------------------------------------


def test_server_pool_runs_each_task_in_its_own_batches(
    models: dict[tuple[str, str], EmbeddingModel],
) -> None:
    """Concurrent query, document and named-task requests through one ModelPool come back
    exactly as ``embed`` makes them (each on its own adapter, prefix kept on left cuts)."""
    import asyncio

    from lembed.engine.pool import ModelPool

    model = models["jina", "onnx"]
    texts = ck.varied_texts(12, seed=6, long_words=70)
    kinds = ["query", "document", "text-matching", "none"]

    async def go() -> list[np.ndarray]:
        pool = ModelPool([model])
        await pool.start()
        try:
            calls = [pool.embed(None, texts, input_type=k, truncate="left") for k in kinds]
            return [r.vectors for r in await asyncio.gather(*calls)]
        finally:
            await pool.stop()

    got = asyncio.run(go())
    for kind, vectors in zip(kinds, got, strict=True):
        want = model.embed(texts, input_type=kind, truncate="left").vectors
        assert _cos(vectors, want).min() >= 0.99999, kind


# -- no network at load ---------------------------------------------------------------------------


def test_loading_remote_code_checkpoints_imports_no_remote_code(
    models: dict[tuple[str, str], EmbeddingModel],
) -> None:
    import sys

    assert ck.nomic_checkpoint(window=64).path.joinpath("config.json").read_text().count("auto_map")
    assert not [m for m in sys.modules if m.startswith("transformers_modules")]


@pytest.mark.slow
def test_loading_auto_map_fixtures_connects_nowhere(tmp_path: Path) -> None:
    """Under strace, with the hub NOT forced offline: loading (torch, and the ONNX export)
    the nomic and jina fixtures, whose configs point at remote code, connects to nothing."""
    import os
    import shutil
    import sys

    from tests.netcheck import traced

    if shutil.which("strace") is None:
        pytest.skip("needs strace")
    nomic, jina = ck.nomic_checkpoint(window=64), ck.jina_checkpoint(window=64)
    code = (
        "import sys\n"
        "from lembed.engine.load import load_model\n"
        "from lembed.settings import Settings\n"
        f"s = Settings(cache_dir={str(tmp_path)!r})\n"
        "for path in sys.argv[1:]:\n"
        "    for backend in ('torch', 'onnx'):\n"
        "        m = load_model(path, backend=backend, device='cpu', settings=s)\n"
        "        m.embed(['hello world'], input_type='query')\n"
        "assert not [m for m in sys.modules if m.startswith('transformers_modules')]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env["HF_HOME"] = str(tmp_path / "hf-home")  # an empty hub cache: nothing to find there
    env["ORT_DISABLE_TELEMETRY"] = "1"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")
    got = traced([sys.executable, "-c", code, str(nomic.path), str(jina.path)], env, timeout=300)
    assert got.exit_status == 0
    assert not got.outside, dict(got.outside)
