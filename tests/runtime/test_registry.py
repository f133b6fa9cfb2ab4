"""The backend registry: one table of names that settings, the loaders, bench and evaluation
check against, with the loaders' error messages."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from lembed.engine.cross_encoder import load_cross_encoder
from lembed.engine.load import load_model, options
from lembed.errors import ValidationError
from lembed.evaluate.retrieval import BACKENDS as EVAL_VARIANTS
from lembed.models.resolve import resolve
from lembed.runtime import registry
from lembed.runtime.backends.fake import FakeBackend
from lembed.runtime.cross_encoder import LOGITS
from lembed.settings import Settings
from tests.rag.conftest import build_tiny_cross_encoder


def test_names_and_variants_come_from_one_table() -> None:
    assert registry.names() == ("onnx", "torch", "openvino", "fake")
    assert registry.variants() == {
        "onnx": ("onnx", "none"),
        "onnx-int8": ("onnx", "int8"),
        "torch": ("torch", "none"),
        "openvino": ("openvino", "none"),
        "fake": ("fake", "none"),
    }
    assert registry.variants() == EVAL_VARIANTS


def test_settings_accept_only_registered_backends() -> None:
    for name in registry.names():
        assert Settings(backend=name).backend == name
    with pytest.raises(pydantic.ValidationError, match="backend must be onnx, torch, openvino"):
        Settings(backend="gpu")


@pytest.mark.parametrize(
    ("name", "quantize", "precision", "message"),
    [
        ("gpu", "none", "fp32", "backend must be onnx, torch, openvino or fake, not 'gpu'"),
        ("onnx", "int4", "fp32", "quantize must be 'none' or 'int8', not 'int4'"),
        ("torch", "int8", "fp32", "int8 quantisation is available on the onnx backend only"),
        ("openvino", "int8", "fp32", "int8 quantisation is available on the onnx backend only"),
        ("onnx", "none", "bf16", "precision bf16 needs the openvino backend"),
    ],
)
def test_check_names_what_is_wrong(name: str, quantize: str, precision: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        registry.check(name, quantize, precision)


def test_check_passes_supported_combinations() -> None:
    assert registry.check("onnx", "int8").name == "onnx"
    assert registry.check("openvino", precision="bf16").name == "openvino"


def test_load_model_validates_through_the_registry(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="backend must be onnx, torch, openvino or fake"):
        load_model(backend="gpu", settings=settings)
    with pytest.raises(ValidationError, match="int8 quantisation is available on the onnx"):
        load_model(backend="torch", quantize="int8", settings=settings)


def test_build_makes_the_named_runtime(settings: Settings) -> None:
    model = resolve(settings.model)
    fast = settings.model_copy(update={"fake_delay_ms": 5.0, "fake_fault": "nan"})
    runtime = registry.build(model, "fake", options(fast))
    assert isinstance(runtime, FakeBackend)
    assert (runtime.delay_s, runtime.fault) == (0.005, "nan")
    with pytest.raises(ValidationError, match="embedding models only"):
        registry.build(model, "fake", options(settings), head=LOGITS)


@pytest.mark.model
def test_cross_encoders_fall_back_to_onnx_on_a_backend_without_a_logits_head(
    tmp_path: Path, settings: Settings
) -> None:
    folder = build_tiny_cross_encoder(tmp_path / "tiny")
    assert not registry.BACKENDS["fake"].logits
    assert load_cross_encoder(str(folder), backend="fake", settings=settings).backend.name == "onnx"
    with pytest.raises(ValidationError, match="backend must be"):
        load_cross_encoder(str(folder), backend="gpu", settings=settings)
