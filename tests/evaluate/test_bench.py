"""Bench building blocks: texts, percentiles, FLOPs, GEMM peak, loopback guard, dialects."""

from __future__ import annotations

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.evaluate.bench import (
    Limits,
    bench_batches,
    bench_latency,
    builtin_texts,
    check_loopback,
    flops_per_token,
    gemm_peak_gflops,
    model_config,
    parse_response,
    percentiles,
    request_body,
)


def test_builtin_texts_are_deterministic_and_varied() -> None:
    texts = builtin_texts(8)
    assert texts == builtin_texts(8)
    assert [len(t.split()) for t in texts[:4]] == [12, 48, 120, 200]
    assert len(set(texts)) == 8


def test_percentiles_in_ms() -> None:
    got = percentiles([0.001] * 99 + [0.101])
    assert got["p50_ms"] == pytest.approx(1.0) and got["n"] == 100
    assert 1.0 < got["p99_ms"] <= 101.0


def test_minilm_flops_per_token(onnx_model: EmbeddingModel) -> None:
    config = model_config(onnx_model)
    assert config is not None and config["hidden_size"] == 384
    # 6 layers × (2 × (4·384² + 2·384·1536) + 4·128·384)
    assert flops_per_token(config, 128) == 6 * (2 * (4 * 384**2 + 2 * 384 * 1536) + 4 * 128 * 384)


def test_gemm_peak_is_measured() -> None:
    assert 0.1 < gemm_peak_gflops(n=256, seconds=0.05) < 100_000


def test_fake_backend_batches_and_latency_are_bounded(fake_model: EmbeddingModel) -> None:
    assert model_config(fake_model) is None  # no FLOPs for vectors that are not computed
    rows = bench_batches(fake_model, builtin_texts(16), [4], Limits(5.0, 40), peak_gflops=50.0)
    assert rows[0]["embeddings"] == 40 and rows[0]["mfu"] is None
    assert rows[0]["tokens_per_s"] > rows[0]["embeddings_per_s"] > 0
    calls: list[str] = []
    lat = bench_latency(calls.append, ["a", "b"], Limits(5.0, 7))
    assert lat["n"] == 7 and len(calls) == 8 and calls[:3] == ["a", "a", "b"]  # 1 warm-up


def test_loopback_guard() -> None:
    assert check_loopback("http://127.0.0.1:11434/") == "http://127.0.0.1:11434"
    assert check_loopback("http://localhost:8080") == "http://localhost:8080"
    with pytest.raises(ValidationError, match="not a loopback address"):
        check_loopback("http://192.0.2.1:8080")  # TEST-NET-1: refused before any traffic
    assert check_loopback("http://192.0.2.1:8080", allow_remote=True) == "http://192.0.2.1:8080"
    with pytest.raises(ValidationError, match="must be http"):
        check_loopback("ftp://127.0.0.1")


def test_dialect_bodies_and_responses() -> None:
    assert request_body("tei", None, ["x"]) == ("/embed", {"inputs": ["x"]})
    assert request_body("openai", "m", ["x"])[0] == "/v1/embeddings"
    assert request_body("ollama", None, ["x"]) == (
        "/api/embed",
        {"model": "all-minilm", "input": ["x"]},
    )
    assert parse_response("ollama", {"embeddings": [[1.0]], "prompt_eval_count": 3}) == (1, 3)
    assert parse_response("openai", {"data": [{}, {}], "usage": {"prompt_tokens": 9}}) == (2, 9)
    assert parse_response("tei", [[0.1], [0.2]]) == (2, None)
    with pytest.raises(ValidationError, match="dialect must be one of"):
        request_body("grpc", None, ["x"])  # type: ignore[arg-type]
