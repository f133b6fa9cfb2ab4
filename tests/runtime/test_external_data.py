"""ONNX export with external data (what bge-m3's 2.3 GB fp32 graph needs), forced on the
small bge-m3 fixture by lowering the threshold; the full-size run is a benchmark
(benchmarks/bge_m3_export.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lembed.engine.load import load_model
from lembed.runtime import export
from lembed.settings import Settings
from tests.fixtures.bge_m3 import in_hub_cache

pytestmark = pytest.mark.model


def test_external_data_name_follows_the_hub_convention() -> None:
    assert export.external_data_name(Path("x/model.onnx")) == "model.onnx_data"
    assert export.external_data_name(Path("x/.model.onnx.1234.tmp")) == "model.onnx_data"
    assert export.external_data_name(Path(".model.q.onnx.9.tmp")) == "model.q.onnx_data"


def test_a_graph_past_the_threshold_keeps_its_weights_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sts_sentences: list[str]
) -> None:
    import onnx

    hub = tmp_path / "hub"
    in_hub_cache(hub)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    texts = [*sts_sentences[:40], "word " * 300]
    reference = load_model("bge-m3", backend="torch", settings=Settings(cache_dir=tmp_path / "a"))
    want = reference.embed(texts, output=["dense", "sparse"])

    monkeypatch.setattr(export, "EXTERNAL_DATA_BYTES", 0)
    model = load_model("bge-m3", backend="onnx", settings=Settings(cache_dir=tmp_path / "b"))
    graph = Path(model.backend.graph)  # type: ignore[attr-defined]
    data = graph.with_name("model.onnx_data")
    assert data.is_file()
    assert sorted(p.name for p in graph.parent.iterdir()) == ["model.onnx", "model.onnx_data"]
    proto = onnx.load(str(graph), load_external_data=False)
    big = [t for t in proto.graph.initializer if t.dims and np.prod(t.dims) * 4 > 1024]
    assert big and all(t.data_location == onnx.TensorProto.EXTERNAL for t in big)
    assert {e.value for t in big for e in t.external_data if e.key == "location"} == {data.name}
    assert graph.stat().st_size < data.stat().st_size / 10

    got = model.embed(texts, output=["dense", "sparse"])
    assert np.sum(got.vectors * want.vectors, axis=1).min() >= 0.9999
    assert got.sparse is not None and want.sparse is not None
    for mine, ref in zip(got.sparse, want.sparse, strict=True):
        keys = set(mine.as_dict()) | set(ref.as_dict())
        a, b = mine.as_dict(), ref.as_dict()
        assert max((abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in keys), default=0.0) < 1e-4

    # Moved elsewhere with its data file, the graph still loads (relative location).
    moved = tmp_path / "moved"
    moved.mkdir()
    for p in (graph, data):
        (moved / p.name).write_bytes(p.read_bytes())
    from lembed.runtime.backends.onnx import OnnxBackend

    OnnxBackend(moved / "model.onnx")
