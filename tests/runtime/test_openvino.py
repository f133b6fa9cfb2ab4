"""The openvino backend: bf16 only where it pays (AMX-BF16), a clean fp32 fallback with one
warning elsewhere, and the same vectors as the onnx engine."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.runtime.backends import openvino
from lembed.runtime.backends.openvino import bf16_pays, cpu_flags
from lembed.runtime.pooling import l2_normalize, pool
from lembed.settings import Settings

AMX_CAPS = ["BF16", "FP32", "INT8"]


def test_bf16_pays_only_with_amx_and_openvino_support() -> None:
    assert bf16_pays(AMX_CAPS, {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}) is None
    assert "AMX-BF16" in (bf16_pays(AMX_CAPS, {"avx512f", "avx512_bf16"}) or "")
    assert "no BF16" in (bf16_pays(["FP32"], {"amx_bf16"}) or "")


def test_cpu_flags_read_proc_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f amx_bf16\n\nflags\t: other\n")
    assert cpu_flags(info) == {"fpu", "avx512f", "amx_bf16"}
    assert cpu_flags(tmp_path / "absent") == frozenset()


def test_precision_needs_the_openvino_backend(settings: Settings) -> None:
    from lembed.engine.load import load_model

    with pytest.raises(ValidationError, match="openvino"):
        load_model(backend="onnx", settings=settings.model_copy(update={"precision": "bf16"}))


@pytest.mark.model
def test_same_vectors_as_onnx_and_one_warning_on_fallback(
    onnx_model: EmbeddingModel,
    settings: Settings,
    sts_sentences: list[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("openvino")
    from lembed.engine.load import load_model

    texts = sts_sentences[:64]
    want = onnx_model.embed(texts).vectors
    fp32 = load_model(backend="openvino", settings=settings)
    assert fp32.backend.name == "openvino" and fp32.backend.precision == "fp32"  # type: ignore[attr-defined]
    assert float((fp32.embed(texts).vectors * want).sum(axis=1).min()) > 0.99999
    monkeypatch.setattr(openvino, "_warned", set())
    monkeypatch.setattr(openvino, "cpu_flags", lambda: frozenset({"avx512f"}))  # no AMX
    bf16 = settings.model_copy(update={"precision": "bf16"})
    with caplog.at_level(logging.WARNING, logger=openvino.__name__):
        models = [load_model(backend="openvino", settings=bf16) for _ in range(2)]
    assert [m.backend.precision for m in models] == ["fp32", "fp32"]  # type: ignore[attr-defined]
    assert len([r for r in caplog.records if "running fp32" in r.message]) == 1
    forced = openvino.OpenVinoBackend(fp32.backend.graph, precision="bf16", detect=False)  # type: ignore[attr-defined]
    assert forced.precision == "bf16"
    batch = onnx_model.tokenizer.pad(onnx_model.encode(texts).encodings)
    got = l2_normalize(pool(forced.forward(batch), batch.attention_mask, onnx_model.spec.pooling))
    assert float((got * want).sum(axis=1).min()) > 0.999  # the exact-enough bar
