"""The reranker catalog: cross-encoders lembed knows by name, as data.

A reranker reads a (query, passage) pair and returns one relevance logit. Any local folder
in the sentence-transformers ``CrossEncoder`` layout (a ``*ForSequenceClassification``
config, weights and a fast ``tokenizer.json``) works by path; these entries add names,
licences and where the weights come from. ``max_tokens`` is the window of one pair.
:func:`resolve_reranker` finds one's files on this machine, as
:func:`lembed.models.resolve.resolve` does for embedding models (never downloading).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lembed.errors import ModelNotFoundError, ValidationError
from lembed.models.catalog import normalize_name
from lembed.models.resolve import find_in_hf_cache


@dataclass(frozen=True)
class RerankerSpec:
    """What lembed needs to know to run and describe one cross-encoder."""

    name: str
    hf_id: str
    max_tokens: int
    license: str
    params_m: float
    size_mb: int
    aliases: tuple[str, ...] = ()
    languages: str = "en"
    notes: str = ""
    trust_remote_code: bool = False
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = (self.name, self.hf_id, self.hf_id.split("/")[-1], *self.aliases)
        object.__setattr__(self, "names", tuple(dict.fromkeys(k.lower() for k in keys)))


RERANKERS: tuple[RerankerSpec, ...] = (
    RerankerSpec(
        name="bge-reranker-base",
        hf_id="BAAI/bge-reranker-base",
        max_tokens=512,
        license="MIT",
        params_m=278,
        size_mb=1112,
        aliases=("bge-reranker",),
        languages="en, zh",
        notes="the RAG recipe's reranker (XLM-RoBERTa base); top-20 → top-5",
    ),
    RerankerSpec(
        name="ms-marco-minilm-l-6-v2",
        hf_id="cross-encoder/ms-marco-MiniLM-L-6-v2",
        max_tokens=512,
        license="Apache-2.0",
        params_m=22.7,
        size_mb=91,
        aliases=("ms-marco-minilm", "minilm-reranker"),
        notes="small and fast English cross-encoder trained on MS MARCO",
    ),
)

DEFAULT_RERANKER = RERANKERS[0].name


def find_reranker(name: str) -> RerankerSpec | None:
    """The reranker whose name, alias or HF id is ``name`` (case-insensitive)."""
    key = normalize_name(name)
    for spec in RERANKERS:
        if key in spec.names:
            return spec
    return None


@dataclass(frozen=True)
class ResolvedReranker:
    """A reranker spec together with the folder holding its files."""

    spec: RerankerSpec
    path: Path


def resolve_reranker(name: str, *, allow_paths: bool = True) -> ResolvedReranker:
    """A reranker's spec and folder: a local folder path, or a catalog name / HF id in the
    HF cache. Raises :class:`ModelNotFoundError` naming ``lembed pull`` when it is absent."""
    if not name or not name.strip():
        raise ValidationError("reranker name is empty", param="model")
    folder = Path(name).expanduser()
    spec = find_reranker(name)
    if spec is None and (name.startswith((".", "/", "~")) or folder.is_dir()):
        if not allow_paths:
            raise ModelNotFoundError(f"reranker {name!r} not found (local paths are disabled)")
        if not (folder / "config.json").is_file():
            raise ModelNotFoundError(f"{name!r} is not a model folder (no config.json in it)")
        return ResolvedReranker(folder_spec(folder.resolve()), folder.resolve())
    hf_id = spec.hf_id if spec else name.strip()
    if "/" in hf_id and (path := find_in_hf_cache(hf_id)):
        return ResolvedReranker(spec or folder_spec(path, hf_id), path)
    hint = spec.name if spec else name
    raise ModelNotFoundError(
        f"reranker {name!r} is not available locally; download it with `lembed pull {hint}` "
        "or pass the path of a cross-encoder folder"
    )


def folder_spec(folder: Path, hf_id: str | None = None) -> RerankerSpec:
    """The spec of a cross-encoder folder that is not in the catalog (window from its
    config)."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    positions = int(config.get("max_position_embeddings", 512))
    if config.get("model_type") in ("roberta", "xlm-roberta", "camembert"):
        positions -= 2  # RoBERTa's position ids start after the padding index
    return RerankerSpec(
        name=folder.name,
        hf_id=hf_id or str(folder),
        max_tokens=min(positions, 512),
        license="unknown",
        params_m=0.0,
        size_mb=0,
    )
