"""Generators: the OpenAI-compatible and Ollama clients over real loopback sockets, and the
embedded SmolLM2 GGUF run locally (a few tokens only)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lembed.errors import BackendError, ValidationError
from lembed.rag.generators import (
    LocalGenerator,
    OllamaGenerator,
    OpenAIGenerator,
    converted,
    load_generator,
    ollama_url,
    packaged_gguf,
    without_repeats,
)
from lembed.settings import Settings
from tests.rag.chat_stub import chat_stub

MESSAGES = [
    {"role": "system", "content": "Answer from the context only."},
    {"role": "user", "content": "Context:\n[1] Paris is the capital of France.\n\nQuestion: ?"},
]


def test_openai_generator_streams_server_sent_events() -> None:
    with chat_stub("Paris is the capital [1].") as stub:
        gen = load_generator("openai:tiny-chat", url=stub.url + "/v1", api_key="sk-test")
        pieces = list(gen.stream(MESSAGES, max_tokens=12))
    assert "".join(pieces) == "Paris is the capital [1]. "
    assert len(pieces) == 5  # streamed word by word, not buffered into one
    (request,) = stub.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    body = request["body"]
    assert body["model"] == "tiny-chat" and body["messages"] == MESSAGES
    assert body["stream"] is True and body["max_tokens"] == 12 and body["temperature"] == 0
    assert gen.name == "openai:tiny-chat"


def test_ollama_generator_streams_json_lines() -> None:
    with chat_stub("It is Paris [1].") as stub:
        gen = OllamaGenerator("llama3.2", stub.url)
        pieces = list(gen.stream(MESSAGES, max_tokens=7))
    assert "".join(pieces) == "It is Paris [1]. " and len(pieces) == 4
    body = stub.requests[0]["body"]
    assert stub.requests[0]["path"] == "/api/chat" and body["model"] == "llama3.2"
    assert body["options"]["num_predict"] == 7 and body["stream"] is True


def test_http_errors_become_backend_errors() -> None:
    with chat_stub("x", status=404) as stub:
        gen = OpenAIGenerator("nope", stub.url + "/v1")
        with pytest.raises(BackendError, match="404: model not found"):
            list(gen.stream(MESSAGES, max_tokens=3))
    gone = OllamaGenerator("m", stub.url)  # the server is closed now
    with pytest.raises(BackendError, match="cannot reach"):
        list(gone.stream(MESSAGES, max_tokens=3))


def test_a_repeated_sentence_ends_the_answer() -> None:
    pieces = ["It was built", " in 1889 [1]. It is tall.", " It was built in 1889 [1].", " More."]
    assert "".join(without_repeats(iter(pieces))) == "It was built in 1889 [1]. It is tall. "
    lines = ["- one\n", "- two\n", "- one\n", "- three"]
    assert "".join(without_repeats(iter(lines))) == "- one\n- two\n"
    assert "".join(without_repeats(iter(["No end", " yet"]))) == "No end yet"


def test_ollama_host_is_read_as_ollama_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, want in [
        ("", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("gpu-box:8080", "http://gpu-box:8080"),
        ("https://ollama.example/", "https://ollama.example:443"),
        ("http://[::]:11435", "http://127.0.0.1:11435"),
    ]:
        monkeypatch.setenv("OLLAMA_HOST", value)
        assert ollama_url() == want, value
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    assert OllamaGenerator("m").base_url == "http://127.0.0.1:9"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert OpenAIGenerator("m").base_url == "http://127.0.0.1:9/v1"


def test_generator_specs_are_checked() -> None:
    for bad in ("gpt", "ollama:", "anthropic:claude"):
        with pytest.raises(ValidationError):
            load_generator(bad)


def test_missing_gguf_file(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(ValidationError, match="no GGUF"):
        LocalGenerator(tmp_path / "nothing.gguf", settings=settings)


@pytest.mark.model
@pytest.mark.slow
def test_local_smollm2_streams_a_few_tokens(settings: Settings) -> None:
    gguf = packaged_gguf()
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    gen = LocalGenerator(runtime="transformers", settings=settings)
    assert converted(gguf, settings.cache_dir).joinpath("model.safetensors").is_file()
    t0 = time.perf_counter()
    again = LocalGenerator(runtime="transformers", settings=settings)  # from the cache
    assert time.perf_counter() - t0 < 30
    assert again.context_tokens == gen.context_tokens == 1024
    pieces = list(gen.stream(MESSAGES, max_tokens=6))
    answer = "".join(pieces)
    assert answer.strip() and pieces  # streamed sentence by sentence (the repeat guard)
    assert 1 <= gen.count_tokens(answer) <= 8
