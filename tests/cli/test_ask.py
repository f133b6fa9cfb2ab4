"""``lembed ask`` end to end: ``lembed index`` a folder of Markdown files (real model, real
Chroma store), then ask — offline, with sources and the stage timing line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lembed.cli import main
from lembed.engine.model import EmbeddingModel
from lembed.models.resolve import find_in_hf_cache
from lembed.rag.extractive import NOT_FOUND
from lembed.rag.prompt import REFUSAL
from lembed.settings import Settings
from tests.rag.chat_stub import chat_stub
from tests.rag.conftest import build_tiny_cross_encoder

pytestmark = [pytest.mark.store, pytest.mark.model]

DOCS = {
    "eiffel.md": "# The Eiffel Tower\n\nThe Eiffel Tower in Paris was completed in 1889 for "
    "the World's Fair. It is 330 metres tall and was designed by Gustave Eiffel's company.\n",
    "coffee.md": "# Brewing coffee\n\nA French press needs water at about 93 degrees Celsius "
    "and four minutes of steeping before you press the plunger.\n",
    "rust.md": "# Ownership in Rust\n\nEvery value in Rust has a single owner. When the owner "
    "goes out of scope, the value is dropped and its memory freed.\n",
    "tides.md": "# Tides\n\nOcean tides are caused mainly by the gravitational pull of the "
    "Moon, with a smaller contribution from the Sun.\n",
}
TIMING = re.compile(r"embed \d+ ms · search \d+ ms · rerank \d+ ms · generate \d+ ms")
PRESENT = "When was the Eiffel Tower completed?"
ABSENT = "What is the boiling point of mercury?"


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, onnx_model: EmbeddingModel
) -> Iterator[str]:
    """A Chroma store holding the Markdown corpus, built by ``lembed index``."""
    root = tmp_path_factory.mktemp("ask")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    store = f"chroma:{root / 'db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEMBED_CACHE_DIR", str(settings.cache_dir))
        assert main(["index", str(docs), "--store", store, "--json"]) == 0
    assert (root / "db" / "lexical" / "lembed" / "chunks.sqlite").is_file()  # BM25 beside it
    yield store


def ask(capsys: pytest.CaptureFixture[str], store: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["ask", *args, "--store", store])
    out, err = capsys.readouterr()
    return rc, out, err


def ask_json(capsys: pytest.CaptureFixture[str], store: str, *args: str) -> dict[str, object]:
    rc, out, err = ask(capsys, store, *args, "--json")
    assert rc == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def test_ask_answers_offline_with_sources_and_timings(
    capsys: pytest.CaptureFixture[str], indexed: str, cli_settings: Settings
) -> None:
    """The default answer is extractive: the closest sentence, cited, in milliseconds."""
    rc, out, err = ask(capsys, indexed, PRESENT)
    assert rc == 0, err
    answer, _, rest = out.partition("\nSources:\n")
    assert "completed in 1889" in answer and "[1]" in answer
    sources = [line for line in rest.splitlines() if re.match(r"^[ *]\[\d\] ", line)]
    assert sources[0].startswith("*[1]") and "eiffel.md" in sources[0]
    assert re.search(r"\(cosine 0\.\d{3}\)$", sources[0])  # a comparable score, named
    assert len(sources) == len(DOCS)  # top-n 5 of a 4-chunk corpus
    assert TIMING.search(out) and "(dense, reranker none, extractive)" in out
    assert re.search(r"load \d+ ms · embed", out)  # model loading is in the timing line
    assert "no reranker" in err  # the pipeline ran without one and said so
    result = ask_json(capsys, indexed, PRESENT, "--mode", "hybrid")
    assert result["answer_kind"] == "extractive" and result["citations"] == [1]
    assert result["score_kind"] == "fused" and result["weight"] == 0.7
    first = result["sources"][0]  # type: ignore[index]
    assert 0 < first["score"] <= 1 and set(first["scores"]) == {"dense", "bm25"}
    timings = result["timings_ms"]
    assert isinstance(timings, dict) and timings["generate"] < 1000  # extraction: no LLM


def test_nothing_relevant_is_said_plainly(
    capsys: pytest.CaptureFixture[str], indexed: str, cli_settings: Settings
) -> None:
    rc, out, err = ask(capsys, indexed, ABSENT)
    assert rc == 0, err
    assert out.startswith(NOT_FOUND) and "too far from the question" in out
    assert "Sources:" not in out


@pytest.mark.slow
def test_local_generator_cites_or_falls_back_and_never_repeats(
    capsys: pytest.CaptureFixture[str], indexed: str, cli_settings: Settings
) -> None:
    result = ask_json(capsys, indexed, PRESENT, "--llm", "local", "--max-tokens", "48")
    assert result["generator"] == "SmolLM2-135M-Instruct.Q4_1"
    answer = str(result["answer"])
    sentences = [s.strip().casefold() for s in re.split(r"(?<=[.!?])\s+", answer) if s.strip()]
    assert len(sentences) == len(set(sentences))  # no sentence said twice
    assert result["citations"]  # it cited, or the extractive fallback did
    if result["answer_kind"] == "fallback":
        assert any("cited no passage" in n for n in result["notes"])  # type: ignore[union-attr]
    else:
        assert result["answer_kind"] == "generated"


def test_absent_topic_gets_the_refusal_instruction(
    capsys: pytest.CaptureFixture[str], indexed: str, cli_settings: Settings
) -> None:
    result = ask_json(capsys, indexed, ABSENT, "--no-generate", "--mode", "dense")
    assert result["answer"] is None
    sources = result["sources"]
    assert isinstance(sources, list) and sources
    assert all("mercury" not in s["text"].lower() for s in sources)
    assert all(s["score"] < 0.3 for s in sources)  # nothing close in meaning
    prompt = json.dumps(result["prompt"])
    assert REFUSAL in prompt and "only the context" in prompt

    # lexically nothing matches at all: the refusal comes without asking any model
    with chat_stub("should not be called") as stub:
        result = ask_json(
            capsys, indexed, ABSENT, "--mode", "bm25", "--llm", "openai:m", "--llm-url", stub.url
        )
    assert stub.requests == []
    assert result["answer"] == REFUSAL and result["sources"] == []


def test_modes_and_reranker(
    capsys: pytest.CaptureFixture[str], indexed: str, cli_settings: Settings, tmp_path: Path
) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        result = ask_json(capsys, indexed, PRESENT, "--no-generate", "--mode", mode)
        sources = result["sources"]
        assert isinstance(sources, list)
        assert result["mode"] == mode and sources[0]["source"].endswith("eiffel.md"), mode
    cross = build_tiny_cross_encoder(tmp_path / "cross")
    result = ask_json(
        capsys, indexed, PRESENT, "--no-generate", "--reranker", str(cross), "--top-n", "2"
    )
    assert result["reranker"] == "cross" and result["retrieved"] == len(DOCS)
    sources = result["sources"]
    assert isinstance(sources, list) and len(sources) == 2
    assert sources[0]["score"] >= sources[1]["score"]
    timings = result["timings_ms"]
    assert isinstance(timings, dict) and timings["rerank"] > 0 and timings["generate"] == 0
    rc, out, _ = ask(capsys, indexed, PRESENT, "--no-generate", "--reranker", "none")
    assert rc == 0 and out.startswith("[1] ") and TIMING.search(out)


def test_openai_compatible_llm_and_citations(
    capsys: pytest.CaptureFixture[str], indexed: str, cli_settings: Settings
) -> None:
    with chat_stub("It was completed in 1889 [1].") as stub:
        result = ask_json(
            capsys, indexed, PRESENT, "--llm", "openai:chat-model", "--llm-url", stub.url + "/v1"
        )
        rc, out, _ = ask(
            capsys, indexed, PRESENT, "--llm", "openai:chat-model", "--llm-url", stub.url + "/v1"
        )
    assert result["answer"] == "It was completed in 1889 [1]."
    assert result["citations"] == [1] and result["generator"] == "openai:chat-model"
    sent = stub.requests[0]["body"]["messages"]
    assert "[1] (source:" in sent[1]["content"] and REFUSAL in sent[1]["content"]
    assert rc == 0 and out.startswith("It was completed in 1889 [1].")
    assert re.search(r"^\*\[1\] .*eiffel\.md", out, re.M)  # the cited source is marked
    assert TIMING.search(out)


def test_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], indexed: str, cli_settings: Settings
) -> None:
    if find_in_hf_cache("BAAI/bge-reranker-base") is None:
        rc, _, err = ask(capsys, indexed, PRESENT, "--reranker", "bge-reranker-base")
        assert rc == 1 and "lembed pull bge-reranker-base" in err
    rc, _, err = ask(capsys, indexed, PRESENT, "--mode", "sparse")
    assert rc == 1 and "dense, bm25, hybrid or hybrid:WEIGHT" in err
    rc, _, err = ask(capsys, indexed, PRESENT, "--collection", "nothere", "--no-generate")
    assert rc == 1 and err.startswith("error: ")


def test_the_answer_streams_to_stdout(indexed: str, settings: Settings) -> None:
    """A real ``lembed ask`` process prints the first words while the rest is unsent."""
    env = dict(os.environ, LEMBED_CACHE_DIR=str(settings.cache_dir), HF_HUB_OFFLINE="1")
    with chat_stub("Completed in 1889 [1].", hold=True) as stub:
        cmd = [sys.executable, "-m", "lembed", "ask", PRESENT, "--store", indexed]
        cmd += ["--llm", "openai:m", "--llm-url", stub.url + "/v1", "--reranker", "none"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stdout is not None
            first = proc.stdout.read(len("Completed "))
            assert first == b"Completed " and not stub.finished.is_set()
            assert proc.poll() is None  # still waiting for the rest of the answer
            stub.release.set()
            rest, err = proc.communicate(timeout=120)
        finally:
            stub.release.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, err
    assert rest.decode().startswith("in 1889 [1].") and b"Sources:" in rest
