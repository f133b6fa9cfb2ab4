"""A cross-encoder's ONNX graph: exported once from its HF weights (``logits`` output),
checked against torch on a padded batch of another shape, and cached beside the embedding
models' graphs (``<cache>/onnx/reranker-<name>-<fingerprint>/model.onnx``)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from lembed.errors import BackendError, require
from lembed.models.resolve import ResolvedModel
from lembed.runtime.export import _accepted_inputs, _atomic, cache_folder

log = logging.getLogger(__name__)


def reranker_graph(model: ResolvedModel, cache_dir: Path) -> Path:
    """The path of the fp32 ONNX graph of the cross-encoder in ``model.path``."""
    own = model.path / "onnx" / "model.onnx"
    if own.is_file():
        return own
    target = cache_folder(model, cache_dir) / "model.onnx"
    if not target.is_file():
        _atomic(target, lambda tmp: export_reranker(model, tmp))
    return target


def export_reranker(model: ResolvedModel, target: Path) -> None:
    torch: Any = require("torch", "torch", "Exporting a reranker to ONNX")
    transformers: Any = require("transformers", "torch", "Exporting a reranker to ONNX")
    log.info("exporting reranker %s to ONNX (once; cached at %s)", model.path, target.parent)
    try:
        hf = transformers.AutoModelForSequenceClassification.from_pretrained(str(model.path)).eval()
    except Exception as exc:
        raise BackendError(f"cannot load {model.path} as a cross-encoder: {exc}") from exc
    accepted = _accepted_inputs(hf)

    class Logits(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.model = hf

        def forward(self, *args: Any) -> Any:
            return self.model(**dict(zip(accepted, args, strict=True))).logits

    example = {
        "input_ids": torch.full((2, 8), 5, dtype=torch.long),
        "attention_mask": torch.tensor([[1] * 8, [1] * 5 + [0] * 3], dtype=torch.long),
        "token_type_ids": torch.tensor([[0] * 4 + [1] * 4] * 2, dtype=torch.long),
    }
    axes = {name: {0: "batch", 1: "sequence"} for name in accepted}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter; the graph is checked below instead
        torch.onnx.export(
            Logits().eval(),
            tuple(example[name] for name in accepted),
            str(target),
            input_names=list(accepted),
            output_names=["logits"],
            dynamic_axes={**axes, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    _check(hf, accepted, target, torch)


def _check(hf: Any, accepted: tuple[str, ...], graph: Path, torch: Any) -> None:
    import numpy as np
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    vocab = int(hf.config.vocab_size)
    ids = rng.integers(5, max(6, min(vocab, 2000)), size=(3, 29), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[1, 17:] = 0
    mask[2, 6:] = 0
    types = np.zeros_like(ids)
    types[:, 10:] = 1
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types * mask}
    if int(getattr(hf.config, "type_vocab_size", 2) or 1) < 2:
        feed["token_type_ids"] = np.zeros_like(ids)
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {k: feed[k] for k in accepted})
    with torch.inference_mode():
        want = hf(**{k: torch.from_numpy(feed[k]) for k in accepted}).logits.numpy()
    err = float(np.abs(got - want).max())
    if not err < 1e-3:
        raise BackendError(
            f"the exported reranker graph disagrees with torch (max error {err:.2g})"
        )
