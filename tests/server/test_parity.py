"""Routes and rules other servers' clients rely on: Infinity's unprefixed paths, TEI's
/embed_all and /similarity, Ollama's /api/pull, and token-id inputs never embedded as
some other text (LangChain's OpenAIEmbeddings sends tiktoken ids by default)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from lembed.engine.model import EmbeddingModel
from tests.server.conftest import LiveServer, live_env

TEXTS = ["the cat sat on the mat", "stock prices fell sharply"]


def test_infinity_paths_without_v1(
    in_process: Callable[..., Any], fake_model: EmbeddingModel
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        body = {"model": "all-minilm", "input": TEXTS}
        r = await client.post("/embeddings", json=body)
        assert r.status_code == 200
        got = [d["embedding"] for d in r.json()["data"]]
        np.testing.assert_allclose(got, fake_model.embed(TEXTS).vectors, atol=1e-6)
        models = (await client.get("/models")).json()
        assert models["object"] == "list" and models["data"][0]["id"] == fake_model.name
        bad = await client.post("/embeddings", json={"model": "nope", "input": "x"})
        assert bad.status_code == 404 and bad.json()["error"]["code"] == "model_not_found"

    in_process(go)


def test_tei_embed_all_and_similarity(
    in_process: Callable[..., Any], fake_model: EmbeddingModel
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        r = await client.post("/embed_all", json={"inputs": TEXTS})
        assert r.status_code == 200
        tokens = r.json()
        counts = fake_model.count_tokens(TEXTS)
        assert [len(t) for t in tokens] == counts  # one vector per token, specials included
        assert {len(v) for t in tokens for v in t} == {fake_model.dim}
        # mean of the token vectors (the model's pooling), normalised, is /embed's vector
        pooled = np.array([np.mean(t, axis=0) for t in tokens])
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        np.testing.assert_allclose(pooled, fake_model.embed(TEXTS).vectors, atol=1e-5)

        query = "a cat on a mat"
        body = {"inputs": {"source_sentence": query, "sentences": TEXTS}}
        sims = (await client.post("/similarity", json=body)).json()
        vectors = fake_model.embed([query, *TEXTS]).vectors
        np.testing.assert_allclose(sims, vectors[1:] @ vectors[0], atol=1e-5)
        bad = await client.post("/similarity", json={"inputs": {"source_sentence": "x"}})
        assert bad.status_code == 422 and bad.json()["error_type"] == "validation"
        long = await client.post("/embed_all", json={"inputs": "word " * 400})
        assert long.status_code == 413

    in_process(go)


def test_token_ids_need_the_tokenizer_named(
    in_process: Callable[..., Any], fake_model: EmbeddingModel
) -> None:
    ids = fake_model.tokenize(["two words"])[0][1:-1]

    async def go(client: httpx.AsyncClient) -> None:
        plain = {"model": "all-minilm", "input": [ids]}
        r = await client.post("/v1/embeddings", json=plain)
        assert r.status_code == 400
        error = r.json()["error"]
        assert error["param"] == "input" and "check_embedding_ctx_length=False" in error["message"]
        other = await client.post("/v1/embeddings", json={**plain, "tokenizer": "cl100k_base"})
        assert other.status_code == 400 and "cl100k_base" in other.json()["error"]["message"]
        ok = await client.post("/v1/embeddings", json={**plain, "tokenizer": "all-minilm-l6-v2"})
        got = ok.json()["data"][0]["embedding"]
        np.testing.assert_allclose(got, fake_model.embed(["two words"]).vectors[0], atol=1e-6)

    in_process(go)


@pytest.fixture(scope="module")
def live_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real ``lembed serve`` on the fake backend, offline (HF_HUB_OFFLINE=1)."""
    server = LiveServer(["--backend", "fake"], live_env(tmp_path_factory.mktemp("cache")))
    yield server
    server.stop()


@pytest.mark.server
def test_official_clients_on_the_parity_routes(live_fake: LiveServer) -> None:
    import ollama
    import openai

    client = ollama.Client(host=live_fake.url)
    assert client.pull("all-minilm").status == "success"  # already here: at once
    statuses = [p.status for p in client.pull("all-minilm", stream=True)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    with pytest.raises(ollama.ResponseError, match="cannot download"):
        client.pull("nomic-embed-text")  # offline: Ollama's error, not a 404 route
    with pytest.raises(ollama.ResponseError, match="cannot download"):
        list(client.pull("nomic-embed-text", stream=True))

    with openai.OpenAI(base_url=live_fake.url, api_key="unused", max_retries=0) as oa:
        out = oa.embeddings.create(model="all-minilm", input=TEXTS, encoding_format="float")
        assert len(out.data) == 2 and len(out.data[0].embedding) == 384
        assert [m.id for m in oa.models.list()] == ["all-minilm-l6-v2"]
        # what LangChain's OpenAIEmbeddings sends by default: tiktoken ids, a list per text
        with pytest.raises(openai.BadRequestError, match="check_embedding_ctx_length=False"):
            oa.embeddings.create(model="all-minilm", input=[[1820, 8415, 7731]])


@pytest.mark.server
def test_langchain_openai_embeddings(live_fake: LiveServer) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")
    common: dict[str, Any] = {
        "model": "all-minilm",
        "base_url": live_fake.url + "/v1",
        "api_key": "unused",
        "max_retries": 0,
    }
    texts = langchain_openai.OpenAIEmbeddings(**common, check_embedding_ctx_length=False)
    got = np.array(texts.embed_documents(TEXTS))
    with httpx.Client(base_url=live_fake.url) as http:
        want = http.post("/embed", json={"inputs": TEXTS}).json()
    np.testing.assert_allclose(got, want, atol=1e-6)  # the right text's vectors
    # The default path (check_embedding_ctx_length=True) tokenises with tiktoken, whose
    # encoding file is downloaded on first use: never fetched here (loopback only). The exact
    # payload it sends (a list of token ids per text) is refused in test_openai_without_v1.


def test_pull_of_a_local_folder_is_refused(tmp_path: Path, in_process: Callable[..., Any]) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        r = await client.post("/api/pull", json={"model": str(tmp_path), "stream": False})
        assert r.status_code == 400 and "is a path" in r.json()["error"]
        empty = await client.post("/api/pull", json={})
        assert empty.status_code == 400 and "model" in empty.json()["error"]

    in_process(go)


def test_auto_truncate(in_process: Callable[..., Any]) -> None:
    from lembed.server.state import ServerConfig

    long = "word " * 400

    async def go(client: httpx.AsyncClient) -> None:
        assert (await client.get("/info")).json()["auto_truncate"] is True
        assert (await client.post("/embed", json={"inputs": long})).status_code == 200
        refused = await client.post("/embed", json={"inputs": long, "truncate": False})
        assert refused.status_code == 413  # the request's own word wins
        assert (await client.post("/embed_all", json={"inputs": long})).status_code == 200
        body = {"inputs": {"source_sentence": long, "sentences": ["a"]}}
        assert (await client.post("/similarity", json=body)).status_code == 200

    in_process(go, config=ServerConfig(auto_truncate=True))

    async def default(client: httpx.AsyncClient) -> None:
        assert (await client.get("/info")).json()["auto_truncate"] is False
        assert (await client.post("/embed", json={"inputs": long})).status_code == 413

    in_process(default)
