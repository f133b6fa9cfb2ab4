"""A real `lembed serve` process on loopback, called with the official clients."""

from __future__ import annotations

import subprocess
import sys

import httpx
import numpy as np
import pytest

from lembed.engine.model import EmbeddingModel
from tests.server.conftest import LiveServer, free_port

pytestmark = [pytest.mark.server, pytest.mark.model]

TEXTS = ["The quick brown fox jumps over the lazy dog.", "Local embeddings stay on your machine."]
KEY = "sekret"


@pytest.fixture(scope="module")
def expected(onnx_model: EmbeddingModel) -> np.ndarray:
    return onnx_model.embed(TEXTS).vectors


def test_openai_client_default_base64(live_onnx: LiveServer, expected: np.ndarray) -> None:
    from openai import OpenAI

    with OpenAI(base_url=live_onnx.url + "/v1", api_key=KEY, max_retries=0) as client:
        out = client.embeddings.create(model="all-minilm", input=TEXTS)  # asks base64
        one = client.embeddings.create(model="all-minilm", input=TEXTS[0], encoding_format="float")
    got = np.array([d.embedding for d in out.data])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert out.usage.prompt_tokens == 24  # 12 + 12 tokens, [CLS] and [SEP] included
    np.testing.assert_allclose(one.data[0].embedding, expected[0], atol=1e-6)


def test_openai_client_errors(live_onnx: LiveServer) -> None:
    import openai

    url = live_onnx.url + "/v1"
    with openai.OpenAI(base_url=url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.NotFoundError, match="not served here"):
            client.embeddings.create(model="text-embedding-3-small", input="x")
        with pytest.raises(openai.BadRequestError, match="256-token window"):
            client.embeddings.create(model="all-minilm", input="word " * 400)
    with (
        openai.OpenAI(base_url=url, api_key="wrong", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError),
    ):
        bad.embeddings.create(model="all-minilm", input="x")


def test_ollama_client(live_onnx: LiveServer, expected: np.ndarray) -> None:
    import ollama

    client = ollama.Client(host=live_onnx.url, headers={"Authorization": f"Bearer {KEY}"})
    try:
        out = client.embed(model="all-minilm", input=TEXTS)
        legacy = client.embeddings(model="all-minilm", prompt=TEXTS[1])
        assert [m.model for m in client.list().models] == ["all-minilm-l6-v2"]
        with pytest.raises(ollama.ResponseError) as err:
            client.embed(model="nomic-embed-text", input="x")
    finally:
        client._client.close()  # ollama.Client has no close() of its own
    np.testing.assert_allclose(np.array(out.embeddings), expected, atol=1e-6)
    assert out.prompt_eval_count == 24
    np.testing.assert_allclose(legacy.embedding, expected[1], atol=1e-6)
    assert err.value.status_code == 404


def test_chroma_ollama_embedding_function(live_onnx: LiveServer, expected: np.ndarray) -> None:
    from chromadb.utils.embedding_functions import OllamaEmbeddingFunction

    # the embedding function has no way to send an API key: use a keyless server
    server = LiveServer([], live_onnx.env)
    try:
        fn = OllamaEmbeddingFunction(url=server.url, model_name="all-minilm")
        got = np.array(fn(TEXTS))
        fn._client._client.close()  # chromadb never closes its ollama client's connection
        np.testing.assert_allclose(got, expected, atol=1e-6)
    finally:
        server.stop()


def test_tei_over_httpx(live_onnx: LiveServer, expected: np.ndarray) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(live_onnx.url + "/embed", json={"inputs": TEXTS}, headers=headers)
    assert r.status_code == 200
    np.testing.assert_allclose(np.array(r.json()), expected, atol=1e-6)
    assert httpx.get(live_onnx.url + "/health").status_code == 200
    assert "lembed_requests_total" in httpx.get(live_onnx.url + "/metrics", headers=headers).text


def test_port_in_use_is_one_line(live_onnx: LiveServer) -> None:
    env = live_onnx.env
    out = subprocess.run(
        [sys.executable, "-m", "lembed", "serve", "--port", str(live_onnx.port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"error: port {live_onnx.port} on 127.0.0.1 is already in use (is Ollama running? "
        "stop it, or pass --port)"
    ]
    assert free_port() != live_onnx.port
