"""The reranker catalog: cross-encoders lembed knows by name, as data.

A reranker reads a (query, passage) pair and returns one relevance logit. Any local folder
in the sentence-transformers ``CrossEncoder`` layout (a ``*ForSequenceClassification``
config, weights and a fast ``tokenizer.json``) works by path; these entries add names,
licences and where the weights come from. ``max_tokens`` is the window of one pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lembed.models.catalog import normalize_name


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
