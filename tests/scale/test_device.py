"""Device choice without a GPU here: ONNX Runtime providers and the torch device for each
``--device``, and the override travelling from the CLI to the backend (``cuda`` on this
CPU-only machine must fail loudly, never fall back in silence) — in one process and in the
Ray workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from lembed.cli import main
from lembed.errors import BackendError, ValidationError
from lembed.runtime.backends.onnx import choose_providers
from lembed.runtime.backends.torch import choose_device
from lembed.scale.ray_guard import RaySession
from lembed.scale.ray_index import worker_error
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


@pytest.mark.model
@pytest.mark.slow
def test_cli_device_reaches_the_ray_workers(
    local_ray: RaySession,
    cli_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    folder = docs(tmp_path / "docs")
    args = ["index", str(folder), "--store", "memory:", "--engine", "ray", "--device", "cuda"]
    assert main(args) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "error: device 'cuda' asked for, but onnxruntime has no CUDA provider here"


def test_worker_errors_are_unwrapped() -> None:
    try:
        try:
            raise ValidationError("bad chunk size", param="chunk")
        except ValidationError as inner:
            raise RuntimeError("wrapped by Ray") from inner
    except RuntimeError as outer:
        chained = outer
    assert isinstance(worker_error(chained), ValidationError)
    text = RuntimeError(
        "The actor died because of an error raised in its creation task\nTraceback ...\n"
        "lembed.errors.BackendError: device 'cuda' asked for, but onnxruntime has no CUDA "
        "provider here\n"
    )
    got = worker_error(text)
    assert isinstance(got, BackendError) and got.message.startswith("device 'cuda' asked for")
    other = worker_error(RuntimeError("object store full\nmore detail"))
    assert other.message == "Ray indexing failed: RuntimeError: object store full"
