"""ONNX Runtime backend (the default): CPU, or CUDA when onnxruntime-gpu and a GPU are there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lembed.errors import BackendError, ValidationError
from lembed.runtime.cross_encoder import HIDDEN, Head
from lembed.runtime.export import external_data_name
from lembed.runtime.tokenizer import Batch
from lembed.runtime.unpadded import METADATA_KEY as UNPADDED_KEY


def choose_providers(available: list[str], device: str) -> list[str]:
    """ONNX Runtime execution providers for ``device`` ("auto", "cpu" or "cuda")."""
    has_cuda = "CUDAExecutionProvider" in available
    if device == "cuda" and not has_cuda:
        raise BackendError("device 'cuda' asked for, but onnxruntime has no CUDA provider here")
    if device in ("cuda", "auto") and has_cuda:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxBackend:
    name = "onnx"

    def __init__(
        self,
        graph: Path,
        *,
        threads: int = 0,
        device: str = "auto",
        task_id: int | None = None,
        head: Head = HIDDEN,
    ) -> None:
        import onnxruntime as ort

        self.graph = graph
        self._args: dict[str, Any] = {"task_id": task_id, "head": head}
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # No CPU memory arena: with every batch a new shape, the arena grows in steps and
        # never gives memory back (a server's RSS crept +9 % in 6 minutes); without it RSS
        # goes down as well as up, at the same speed (benchmarks/soak.py, docs/serving.md).
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 3
        providers = choose_providers(ort.get_available_providers(), device)
        try:
            self._session: Any = ort.InferenceSession(str(graph), options, providers=providers)
        except Exception as exc:
            raise BackendError(f"cannot load ONNX graph {graph}: {exc}") from exc
        self.device = "cuda" if providers[0].startswith("CUDA") else "cpu"
        # lembed's export of a BERT-style model: dense layers skip padding (padding_cost)
        meta = self._session.get_modelmeta().custom_metadata_map
        self.unpadded = meta.get(UNPADDED_KEY) == "1"
        self._inputs = [i.name for i in self._session.get_inputs()]
        # jina-embeddings-v3's own graph selects its LoRA adapter with a scalar task_id.
        self._task: np.ndarray | None = None
        if "task_id" in self._inputs:
            if task_id is None:
                raise ValidationError(
                    f"this model's ONNX graph ({graph.name}) always applies a task adapter: give "
                    "input_type query, document or one of the model's tasks, not none",
                    param="input_type",
                )
            self._task = np.array(task_id, dtype=np.int64)
        outputs = self._session.get_outputs()
        names = [o.name for o in outputs]
        for wanted in head.onnx_names:
            if wanted in names:
                self._output = wanted
                break
        else:  # a repository's own graph may name it otherwise
            found = [o.name for o in outputs if len(o.shape) == head.rank]
            if not found:
                raise BackendError(f"ONNX graph {graph} has no {head.name} output")
            self._output = found[0]

    @property
    def weights_bytes(self) -> int:
        """Bytes of the graph and its external-data file (what a second session copies)."""
        data = self.graph.with_name(external_data_name(self.graph))
        return sum(p.stat().st_size for p in (self.graph, data) if p.is_file())

    def with_threads(self, threads: int) -> OnnxBackend:
        """A second session on the same graph with ``threads`` intra-op threads, for running
        forward passes side by side (ONNX Runtime's ``run`` is thread-safe)."""
        return OnnxBackend(self.graph, threads=threads, device=self.device, **self._args)

    def forward(self, batch: Batch) -> np.ndarray:
        feed = {
            "input_ids": batch.input_ids,
            "attention_mask": batch.attention_mask,
            "token_type_ids": batch.token_type_ids,
        }
        inputs = {k: feed[k] for k in self._inputs if k != "task_id"}
        if self._task is not None:
            inputs["task_id"] = self._task
        (hidden,) = self._session.run([self._output], inputs)
        return np.asarray(hidden, dtype=np.float32)
