import pytest

from lembed.models.catalog import CATALOG, DEFAULT_MODEL, find


@pytest.mark.parametrize(
    ("name", "hf_id"),
    [
        ("nomic-embed-text", "nomic-ai/nomic-embed-text-v1.5"),
        ("nomic-embed-text:latest", "nomic-ai/nomic-embed-text-v1.5"),
        ("mxbai-embed-large", "mixedbread-ai/mxbai-embed-large-v1"),
        ("all-minilm", "sentence-transformers/all-MiniLM-L6-v2"),
        ("sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
        ("BGE-M3", "BAAI/bge-m3"),
        ("jinaai/jina-embeddings-v3", "jinaai/jina-embeddings-v3"),
    ],
)
def test_find_by_alias_hf_id_and_ollama_tag(name: str, hf_id: str) -> None:
    spec = find(name)
    assert spec is not None and spec.hf_id == hf_id


def test_unknown_name() -> None:
    assert find("no-such-model") is None


def test_names_are_unique_across_entries() -> None:
    seen: dict[str, str] = {}
    for spec in CATALOG:
        for key in spec.names:
            assert key not in seen, f"{key} is used by {seen[key]} and {spec.name}"
            seen[key] = spec.name


def test_seed_facts() -> None:
    """Facts from the model cards (see SEED-NOTES.md), kept as data."""
    nomic, m3, mxbai, jina = (
        find(n) for n in ("nomic-embed-text", "bge-m3", "mxbai-embed-large", "jina-embeddings-v3")
    )
    assert find(DEFAULT_MODEL) is CATALOG[0] and CATALOG[0].packaged
    assert nomic and nomic.prefix("query") == "search_query: "
    assert nomic.prefix("document") == "search_document: " and nomic.prefix("none") == ""
    assert m3 and m3.query_prefix == "" and m3.dim == 1024  # the card: no instruction needed
    assert mxbai and mxbai.max_tokens == 512 and not mxbai.normalized
    assert mxbai.query_prefix.startswith("Represent this sentence") and mxbai.document_prefix == ""
    assert jina and jina.query_task == "retrieval.query" and jina.license == "CC-BY-NC-4.0"
    assert jina.matryoshka_dims[-1] == 32
