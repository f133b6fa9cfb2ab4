"""Successful responses of each dialect, in-process on the fake backend."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

from lembed.engine.model import EmbeddingModel


def test_ollama_embed_matches_engine(
    in_process: Callable[..., Any], fake_model: EmbeddingModel
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        r = await client.post("/api/embed", json={"model": "all-minilm", "input": ["a b", "c"]})
        body = r.json()
        assert r.status_code == 200 and body["model"] == "all-minilm"
        assert body["prompt_eval_count"] == 7 and body["total_duration"] > 0
        want = fake_model.embed(["a b", "c"]).vectors
        np.testing.assert_allclose(np.array(body["embeddings"]), want, atol=1e-6)
        assert float(r.headers["x-compute-time"]) >= 0 and "x-total-time" in r.headers
        legacy = await client.post("/api/embeddings", json={"model": "all-minilm", "prompt": "c"})
        np.testing.assert_allclose(legacy.json()["embedding"], want[1], atol=1e-6)
        cut = await client.post(
            "/api/embed", json={"model": "all-minilm", "input": "x y z", "dimensions": 64}
        )
        assert len(cut.json()["embeddings"][0]) == 64

    in_process(go)


def test_ollama_model_routes(in_process: Callable[..., Any]) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        tags = (await client.get("/api/tags")).json()
        assert tags["models"][0]["name"] == "all-minilm-l6-v2"
        ps = (await client.get("/api/ps")).json()
        assert ps["models"][0]["model"] == "all-minilm-l6-v2"
        show = (await client.post("/api/show", json={"model": "all-minilm:latest"})).json()
        assert show["model_info"]["embedding_length"] == 384
        assert show["model_info"]["context_length"] == 256
        assert show["capabilities"] == ["embedding"]
        assert "version" in (await client.get("/api/version")).json()
        assert (await client.get("/")).text == "lembed is running"

    in_process(go)


def test_openai_float_and_base64(
    in_process: Callable[..., Any], fake_model: EmbeddingModel
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        want = fake_model.embed(["one", "two words"]).vectors
        payload = {"model": "all-minilm-l6-v2", "input": ["one", "two words"]}
        f = (await client.post("/v1/embeddings", json=payload)).json()
        assert f["object"] == "list" and [d["index"] for d in f["data"]] == [0, 1]
        assert f["usage"] == {"prompt_tokens": 7, "total_tokens": 7}
        np.testing.assert_allclose([d["embedding"] for d in f["data"]], want, atol=1e-6)
        b = await client.post("/v1/embeddings", json={**payload, "encoding_format": "base64"})
        decoded = [np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in b.json()["data"]]
        np.testing.assert_array_equal(np.stack(decoded), want)
        ids = fake_model.tokenize(["two words"])[0][1:-1]  # without [CLS]/[SEP]
        declared = {**payload, "input": ids, "tokenizer": "all-minilm"}  # this model's ids
        t = (await client.post("/v1/embeddings", json=declared)).json()
        np.testing.assert_allclose(t["data"][0]["embedding"], want[1], atol=1e-6)
        models = (await client.get("/v1/models")).json()
        assert models["data"][0]["id"] == "all-minilm-l6-v2"

    in_process(go)


def test_tei_routes(in_process: Callable[..., Any], fake_model: EmbeddingModel) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        e = (await client.post("/embed", json={"inputs": ["hi there"]})).json()
        np.testing.assert_allclose(e, fake_model.embed(["hi there"]).vectors, atol=1e-6)
        raw = (await client.post("/embed", json={"inputs": "hi there", "normalize": False})).json()
        assert abs(np.linalg.norm(raw[0]) - 1) > 1e-3  # the raw pooled vector
        cut = (
            await client.post(
                "/embed",
                json={"inputs": "a " * 300, "truncate": True, "truncation_direction": "Left"},
            )
        ).json()
        want = fake_model.embed("a " * 300, truncate="left").vectors
        np.testing.assert_allclose(cut, want, atol=1e-6)
        tok = (await client.post("/tokenize", json={"inputs": "hello world"})).json()
        assert [t["text"] for t in tok[0]] == ["[CLS]", "hello", "world", "[SEP]"]
        assert tok[0][1] == {"id": 7592, "text": "hello", "special": False, "start": 0, "stop": 5}
        dec = (await client.post("/decode", json={"ids": [101, 7592, 2088, 102]})).json()
        assert dec == ["hello world"]
        info = (await client.get("/info")).json()
        assert info["max_input_length"] == 256 and info["max_client_batch_size"] == 2048

    in_process(go)


def test_prefixes_per_request_and_server_default(
    in_process: Callable[..., Any], fake_model: EmbeddingModel
) -> None:
    spec = dataclasses.replace(fake_model.spec, query_prefix="query: ", document_prefix="passage: ")
    model = EmbeddingModel(
        dataclasses.replace(fake_model.resolved, spec=spec),
        fake_model.tokenizer,
        fake_model.backend,
    )
    query = fake_model.embed("query: cats", input_type="none").vectors[0]
    doc = fake_model.embed("passage: cats", input_type="none").vectors[0]
    plain = fake_model.embed("cats", input_type="none").vectors[0]

    async def go(client: httpx.AsyncClient) -> None:
        async def first(route: str, body: dict[str, Any]) -> np.ndarray:
            r = (await client.post(route, json=body)).json()
            if route == "/embed":
                return np.array(r[0])
            if route == "/api/embed":
                return np.array(r["embeddings"][0])
            return np.array(r["data"][0]["embedding"])

        m = "all-minilm"
        np.testing.assert_allclose(
            await first("/api/embed", {"model": m, "input": "cats"}), query, atol=1e-6
        )  # this server's default is query
        for route, body in [
            ("/api/embed", {"model": m, "input": "cats", "options": {"input_type": "document"}}),
            ("/api/embed", {"model": m, "input": "cats", "input_type": "passage"}),
            ("/v1/embeddings", {"model": m, "input": "cats", "input_type": "search_document"}),
            ("/embed", {"inputs": "cats", "prompt_name": "document"}),
        ]:
            np.testing.assert_allclose(await first(route, body), doc, atol=1e-6)
        np.testing.assert_allclose(
            await first("/embed", {"inputs": "cats", "prompt_name": "none"}), plain, atol=1e-6
        )
        already = await first("/api/embed", {"model": m, "input": "query: cats"})
        np.testing.assert_allclose(already, query, atol=1e-6)  # never prefixed twice

    in_process(go, models=[model], input_types={"*": "query"})


def test_metrics_and_health(in_process: Callable[..., Any]) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        await client.post("/api/embed", json={"model": "all-minilm", "input": ["a", "b"]})
        await client.post("/embed", json={"inputs": ""})
        assert (await client.get("/health")).status_code == 200
        text = (await client.get("/metrics")).text
        assert 'lembed_requests_total{method="POST",route="/api/embed",status="200"} 1.0' in text
        assert 'lembed_requests_total{method="POST",route="/embed",status="400"} 1.0' in text
        assert "lembed_batch_inputs_count 1.0" in text
        assert 'lembed_input_tokens_total{model="all-minilm-l6-v2"} 6.0' in text
        assert "lembed_queue_inputs 0.0" in text

    in_process(go)


def test_several_models_first_is_default(
    in_process: Callable[..., Any], fake_model: EmbeddingModel
) -> None:
    spec = dataclasses.replace(fake_model.spec, name="second", aliases=("second-alias",))
    second = EmbeddingModel(
        dataclasses.replace(fake_model.resolved, spec=spec),
        fake_model.tokenizer,
        fake_model.backend,
    )

    async def go(client: httpx.AsyncClient) -> None:
        names = [m["id"] for m in (await client.get("/v1/models")).json()["data"]]
        assert names == ["all-minilm-l6-v2", "second"]
        r = await client.post("/api/embed", json={"model": "second-alias", "input": "x"})
        assert r.status_code == 200
        assert (await client.get("/info")).json()["served_models"] == names

    in_process(go, models=[fake_model, second])
