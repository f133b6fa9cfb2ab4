"""Device choice without a GPU here: ONNX Runtime providers and the torch device for each
``--device``, and the override travelling from the CLI to the backend (``cuda`` on this
CPU-only machine must fail loudly, never fall back in silence) — in one process and in the
Ray workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from lembed.cli import main
from lembed.errors import BackendError
from lembed.runtime.backends.onnx import choose_providers
from lembed.runtime.backends.torch import choose_device
from lembed.settings import Settings

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


@pytest.mark.parametrize(
    ("available", "device", "want"),
    [
        ([CUDA, CPU], "auto", [CUDA, CPU]),
        ([CUDA, CPU], "cuda", [CUDA, CPU]),
        ([CUDA, CPU], "cpu", [CPU]),
        ([CPU], "auto", [CPU]),
        ([CPU], "cpu", [CPU]),
    ],
)
def test_onnx_providers(available: list[str], device: str, want: list[str]) -> None:
    assert choose_providers(available, device) == want


def test_onnx_cuda_without_provider_fails() -> None:
    with pytest.raises(BackendError, match="CUDA provider"):
        choose_providers([CPU], "cuda")


@pytest.mark.parametrize(
    ("cuda", "device", "want"),
    [(True, "auto", "cuda"), (True, "cuda", "cuda"), (True, "cpu", "cpu"), (False, "auto", "cpu")],
)
def test_torch_device(cuda: bool, device: str, want: str) -> None:
    assert choose_device(cuda, device) == want


def test_torch_cuda_without_gpu_fails() -> None:
    with pytest.raises(BackendError, match="no CUDA GPU"):
        choose_device(False, "cuda")


def docs(folder: Path) -> Path:
    folder.mkdir()
    (folder / "a.txt").write_text("One short document.\n", encoding="utf-8")
    return folder


@pytest.mark.model
def test_cli_device_reaches_the_backend(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = docs(tmp_path / "docs")
    assert main(["index", str(folder), "--store", "memory:", "--device", "cuda"]) == 1
    assert "no CUDA provider" in capsys.readouterr().err
    assert main(["index", str(folder), "--store", "memory:", "--device", "gpu"]) == 1
    assert "auto, cpu or cuda" in capsys.readouterr().err
    assert main(["index", str(folder), "--store", "memory:", "--device", "cpu", "--json"]) == 0
    assert '"embedded": 1' in capsys.readouterr().out
