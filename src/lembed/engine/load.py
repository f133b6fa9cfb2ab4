"""Build an :class:`EmbeddingModel` from a name: resolve files, pick the backend, load."""

from __future__ import annotations

import time

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.models.resolve import resolve
from lembed.runtime.backends import Backend
from lembed.runtime.tokenizer import Tokenizer
from lembed.settings import Settings


def load_model(
    name: str | None = None,
    *,
    backend: str | None = None,
    quantize: str | None = None,
    device: str | None = None,
    settings: Settings | None = None,
) -> EmbeddingModel:
    """Load an embedding model by catalog name, alias, HF id or folder path.

    Arguments left as ``None`` come from ``settings`` (by default ``Settings()``, which reads
    ``LEMBED_*`` environment variables). Nothing is downloaded: a model that is not on this
    machine raises :class:`lembed.errors.ModelNotFoundError` saying how to get it.
    """
    settings = settings or Settings()
    start = time.perf_counter()
    resolved = resolve(name or settings.model, allow_paths=settings.allow_model_paths)
    tokenizer = Tokenizer.from_folder(resolved.path, resolved.spec.max_tokens)
    kind = backend or settings.backend
    quant = quantize or settings.quantize
    dev = device or settings.device
    if quant not in ("none", "int8"):
        raise ValidationError(f"quantize must be 'none' or 'int8', not {quant!r}")
    if kind not in ("onnx", "torch", "openvino", "fake"):
        raise ValidationError(f"backend must be onnx, torch, openvino or fake, not {kind!r}")
    if kind in ("torch", "openvino") and quant != "none":
        raise ValidationError("int8 quantisation is available on the onnx backend only")
    if settings.precision != "fp32" and kind != "openvino":
        raise ValidationError(f"precision {settings.precision} needs the openvino backend")

    def make(task: str | None) -> Backend:
        """The backend running ``task``'s adapter (task models get one per task used)."""
        if kind == "onnx":
            from lembed.runtime.backends.onnx import OnnxBackend
            from lembed.runtime.checkpoints import tasks_of
            from lembed.runtime.export import onnx_graph

            graph = onnx_graph(resolved, settings.cache_dir, quant, task=task)
            ids = tasks_of(resolved.path)
            task_id = ids.index(task) if task in ids else None
            return OnnxBackend(graph, threads=settings.threads, device=dev, task_id=task_id)
        if kind == "openvino":  # the fp32 ONNX graph, on OpenVINO (bf16 where it pays)
            from lembed.runtime.backends.openvino import OpenVinoBackend
            from lembed.runtime.export import onnx_graph

            graph = onnx_graph(resolved, settings.cache_dir, task=task)
            return OpenVinoBackend(graph, threads=settings.threads, precision=settings.precision)
        if kind == "torch":
            from lembed.runtime.backends.torch import TorchBackend

            return TorchBackend(resolved, threads=settings.threads, device=dev, task=task)
        from lembed.runtime.backends.fake import FakeBackend

        return FakeBackend(
            resolved.spec.dim, delay_s=settings.fake_delay_ms / 1000, fault=settings.fake_fault
        )

    first = resolved.spec.task("document")  # the default input type's adapter
    runtime = make(first)
    return EmbeddingModel(
        resolved,
        tokenizer,
        runtime,
        batch_tokens=settings.batch_tokens,
        max_batch_size=settings.max_batch_size,
        load_seconds=time.perf_counter() - start,
        task=first,
        backend_for_task=make if resolved.spec.tasks else None,
    )
