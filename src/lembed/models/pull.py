"""Download a model into the Hugging Face cache — the only code in lembed that goes online."""

from __future__ import annotations

from pathlib import Path

from lembed.errors import ModelNotFoundError, require
from lembed.errors import PullError as PullError
from lembed.models.catalog import ModelSpec, find
from lembed.models.rerankers import find_reranker

# What an embedding model needs; skips other frameworks' weights (tf, flax, openvino, gguf).
ALLOW_PATTERNS = [
    "*.json",
    "*.txt",
    "*.model",
    "*.safetensors",
    "*/config.json",
    "onnx/model.onnx",
    "onnx/model.onnx_data",
]
# Repositories without safetensors (BAAI/bge-m3) ship their weights as this file.
TORCH_WEIGHTS = "pytorch_model.bin"


def allow_patterns(spec: object, *, torch_weights: bool = False) -> list[str]:
    """What to download for ``spec``: the common files, its extra heads (bge-m3's
    ``sparse_linear.pt``/``colbert_linear.pt``), and with ``torch_weights`` the ``.bin``
    weights (for a repository without top-level safetensors)."""
    patterns = list(ALLOW_PATTERNS)
    if isinstance(spec, ModelSpec):
        patterns += [head.file for head in spec.heads]
    if torch_weights:
        patterns.append(TORCH_WEIGHTS)
    return patterns


def pull(name: str, *, revision: str | None = None) -> Path:
    """Download ``name`` (catalog name, alias or HF id) and return its local folder."""
    spec = find(name) or find_reranker(name)
    hf_id = spec.hf_id if spec else name.strip()
    if "/" not in hf_id:
        raise ModelNotFoundError(
            f"unknown model {name!r}: use a catalog name (`lembed models`) "
            "or an HF id like org/name"
        )
    hub = require("huggingface_hub", "hub", "Downloading models")
    try:
        path = hub.snapshot_download(
            repo_id=hf_id, revision=revision, allow_patterns=allow_patterns(spec)
        )
        if not any(Path(path).glob("*.safetensors")):  # e.g. BAAI/bge-m3: pytorch_model.bin
            path = hub.snapshot_download(
                repo_id=hf_id,
                revision=revision,
                allow_patterns=allow_patterns(spec, torch_weights=True),
            )
    except Exception as exc:  # the hub raises many types (HTTP, offline, gated); say which
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PullError(f"cannot download {hf_id} from the Hugging Face hub: {reason}") from exc
    return Path(path)
