"""PyTorch backend (the reference): transformers' AutoModel, CPU or CUDA."""

from __future__ import annotations

from typing import Any

import numpy as np

from lembed.errors import BackendError, require
from lembed.models.rerankers import ResolvedReranker
from lembed.models.resolve import ResolvedModel
from lembed.runtime.cross_encoder import HIDDEN, Head
from lembed.runtime.tokenizer import Batch


def choose_device(cuda_available: bool, device: str) -> str:
    """The torch device for ``device`` ("auto", "cpu" or "cuda")."""
    if device == "cuda" and not cuda_available:
        raise BackendError("device 'cuda' asked for, but torch sees no CUDA GPU")
    return "cuda" if device in ("cuda", "auto") and cuda_available else "cpu"


class TorchBackend:
    name = "torch"

    def __init__(
        self,
        model: ResolvedModel | ResolvedReranker,
        *,
        threads: int = 0,
        device: str = "auto",
        task: str | None = None,
        head: Head = HIDDEN,
    ) -> None:
        self._torch: Any = require("torch", "torch", "The torch backend")
        require("transformers", "torch", "The torch backend")
        from lembed.runtime.checkpoints import load_transformer

        if threads:
            self._torch.set_num_threads(threads)
        self.device = choose_device(self._torch.cuda.is_available(), device)
        self.task = task
        self._head = head
        hf = load_transformer(
            model.path,
            task=task,
            trust_remote_code=model.spec.trust_remote_code,
            auto_class=head.auto_class,
        )
        self._model = hf.eval().to(self.device)
        if self.device == "cuda":
            self._model = self._model.half()
        import inspect

        self._takes_types = "token_type_ids" in inspect.signature(hf.forward).parameters

    def forward(self, batch: Batch) -> np.ndarray:
        torch = self._torch
        inputs = {
            "input_ids": torch.from_numpy(batch.input_ids).to(self.device),
            "attention_mask": torch.from_numpy(batch.attention_mask).to(self.device),
        }
        if self._takes_types:
            inputs["token_type_ids"] = torch.from_numpy(batch.token_type_ids).to(self.device)
        with torch.inference_mode():
            hidden = getattr(self._model(**inputs), self._head.output)
        return np.asarray(hidden.float().cpu().numpy(), dtype=np.float32)
