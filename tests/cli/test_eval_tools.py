"""``lembed size``, ``lembed recommend`` and ``lembed bench`` (local and ``--url``)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lembed.cli import main
from lembed.settings import Settings


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_size_reproduces_the_seed(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "size", "--vectors", "1000000", "--dim", "768", "--rate", "180")
    assert rc == 0
    assert "| float32 | 3,072 | 2.9 GiB |" in out and "| int8 | 768 | 732 MiB |" in out
    assert "1 h 32 min" in out
    rc, out, _ = run(capsys, "size", "-n", "100000", "--dtype", "int8", "--hnsw-m", "0", "--json")
    doc = json.loads(out)
    assert doc["dim"] == 384 and doc["rows"] == [
        {"dtype": "int8", "bytes_per_vector": 384, "raw_bytes": 38_400_000, "hnsw_bytes": 0,
         "total_bytes": 38_400_000}
    ]  # fmt: skip


def test_size_measures_a_rate(capsys: pytest.CaptureFixture[str], cli_settings: Settings) -> None:
    rc, out, _ = run(capsys, "size", "-n", "5000", "--measure", "--json")
    assert rc == 0
    embed = json.loads(out)["embed"]
    assert embed["rate"] > 0 and embed["source"].startswith("measured here: all-minilm-l6-v2")
    assert embed["seconds"] == pytest.approx(5000 / embed["rate"])


def test_recommend(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "recommend")
    assert rc == 0 and out.startswith("nomic-embed-text-v1.5  (nomic-ai/nomic-embed-text-v1.5)")
    assert "get it: lembed pull nomic-embed-text-v1.5" in out
    rc, out, _ = run(capsys, "recommend", "--languages", "multilingual", "--json")
    assert json.loads(out)["model"] == "bge-m3"
    rc, _, err = run(capsys, "recommend", "--priority", "speed")
    assert rc == 1 and err.startswith("error: --priority must be balanced or recall")


def test_bench_local_fake_json(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings, tmp_path: Path
) -> None:
    texts = tmp_path / "t.txt"
    texts.write_text("short query\n\na longer document about embeddings and search\n")
    rc, out, err = run(
        capsys, "bench", "-b", "fake", "-i", str(texts), "--batch-size", "2",
        "--seconds", "0.5", "--max-calls", "20", "--no-peak", "--json",
    )  # fmt: skip
    assert rc == 0, err
    doc = json.loads(out)
    (run_,) = doc["runs"]
    assert run_["name"] == "fake" and run_["batches"][0]["batch_size"] == 2
    assert run_["latency"]["n"] <= 20 and doc["peak_gflops"] is None


def test_bench_errors(capsys: pytest.CaptureFixture[str], cli_settings: Settings) -> None:
    rc, out, err = run(capsys, "bench", "--url", "http://192.0.2.1:11434")
    assert rc == 1 and out == "" and "not a loopback address" in err
    rc, _, err = run(capsys, "bench", "--url", "http://127.0.0.1:9", "--dialect", "grpc")
    assert rc == 1 and "--dialect must be one of" in err
    rc, _, err = run(capsys, "bench", "-b", "tpu")
    assert rc == 1 and "backend must be one of" in err


HAS_SERVER = importlib.util.find_spec("lembed.server") is not None


@pytest.fixture(scope="module")
def live_fake(cache_dir: Path) -> Iterator[str]:
    """A real ``lembed serve --backend fake`` process on a free loopback port."""
    from tests.server.conftest import LiveServer, live_env

    server = LiveServer(["--backend", "fake"], live_env(cache_dir))
    yield server.url
    server.stop()


@pytest.mark.server
@pytest.mark.skipif(not HAS_SERVER, reason="lembed.server is not in this tree yet")
@pytest.mark.parametrize("dialect", ["ollama", "openai", "tei"])
def test_bench_url_against_a_real_server(
    capsys: pytest.CaptureFixture[str], live_fake: str, dialect: str
) -> None:
    rc, out, err = run(
        capsys, "bench", "--url", live_fake, "--dialect", dialect, "--batch-size", "1",
        "--batch-size", "4", "--requests", "5", "--seconds", "5", "--json",
    )  # fmt: skip
    assert rc == 0, err
    doc = json.loads(out)
    (run_,) = doc["runs"]
    one, four = run_["batches"]
    assert one["requests"] <= 5 and four["requests"] <= 5  # bounded loop
    assert four["embeddings"] == 4 * four["requests"] and four["embeddings_per_s"] > 0
    assert (four["tokens_per_s"] is None) == (dialect == "tei")  # TEI reports no usage
    assert run_["latency"]["n"] <= 5 and run_["latency"]["p50_ms"] > 0
    assert doc["target"] == f"{live_fake} ({dialect})"
