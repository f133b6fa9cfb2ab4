"""The rerank routes (TEI /rerank, Cohere/Infinity /v1/rerank) with a tiny cross-encoder
built in a temp folder: ordering, top_n, raw vs sigmoid scores, errors in each dialect; and
the batcher behind them: overload answered at once under 32 clients, health, metrics."""

from __future__ import annotations

import asyncio
import math
import string
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lembed.engine.cross_encoder import CrossEncoder, load_cross_encoder
from lembed.engine.model import EmbeddingModel
from lembed.engine.pool import ModelPool
from lembed.server.app import create_app
from lembed.server.state import ServerConfig
from lembed.settings import Settings
from tests.rag.conftest import build_tiny_cross_encoder
from tests.server.conftest import LiveServer, live_env

QUERY = "where is the eiffel tower"
TEXTS = [
    "The Eiffel Tower stands in Paris.",
    "Bananas are rich in potassium.",
    "zzz qqq",
    "Paris is the capital of France and home to the tower.",
    "A recipe for lentil soup.",
]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("rerank-model"))


@pytest.fixture(scope="module")
def reranker(tiny_path: Path, settings: Settings) -> CrossEncoder:
    return load_cross_encoder(str(tiny_path), settings=settings)


def call(
    fn: Callable[[httpx.AsyncClient], Awaitable[Any]],
    model: EmbeddingModel,
    reranker: CrossEncoder | None,
    config: ServerConfig | None = None,
    **pool: Any,
) -> Any:
    async def go() -> Any:
        app = create_app(ModelPool([model], **pool), config, reranker=reranker)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://lembed") as client:
                return await fn(client)

    return asyncio.run(go())


def test_tei_rerank_sorted_with_sigmoid_and_raw_scores(
    fake_model: EmbeddingModel, reranker: CrossEncoder
) -> None:
    async def go(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        body = {"query": QUERY, "texts": TEXTS, "return_text": True}
        normal = await client.post("/rerank", json=body)
        raw = await client.post(
            "/rerank", json={"query": QUERY, "texts": TEXTS, "raw_scores": True}
        )
        return normal, raw

    normal, raw = call(go, fake_model, reranker)
    assert normal.status_code == 200 and raw.status_code == 200
    rows, raw_rows = normal.json(), raw.json()
    assert sorted(r["index"] for r in rows) == list(range(len(TEXTS)))
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s < 1 for s in scores)
    assert all(r["text"] == TEXTS[r["index"]] for r in rows)
    want = reranker.score(QUERY, TEXTS)  # the same model called directly
    for row in raw_rows:
        assert row["score"] == pytest.approx(float(want[row["index"]]), abs=1e-5)
        assert "text" not in row
    by_index = {r["index"]: r["score"] for r in raw_rows}
    for row in rows:
        assert row["score"] == pytest.approx(1 / (1 + math.exp(-by_index[row["index"]])))
    assert float(normal.headers["x-compute-tokens"]) > len(TEXTS)


def test_v1_rerank_top_n_and_documents(fake_model: EmbeddingModel, reranker: CrossEncoder) -> None:
    async def go(client: httpx.AsyncClient) -> list[httpx.Response]:
        body = {"query": QUERY, "documents": TEXTS, "top_n": 2, "return_documents": True}
        return [
            await client.post("/v1/rerank", json=body),
            await client.post("/v1/rerank", json={"query": QUERY, "documents": TEXTS}),
        ]

    top, every = call(go, fake_model, reranker)
    assert top.status_code == 200, top.text
    out = top.json()
    assert out["object"] == "rerank" and out["model"] == reranker.name
    assert len(out["results"]) == 2
    assert all(r["document"]["text"] == TEXTS[r["index"]] for r in out["results"])
    assert out["usage"]["prompt_tokens"] > 0
    full = every.json()["results"]
    assert len(full) == len(TEXTS) and "document" not in full[0]
    assert [r["index"] for r in full[:2]] == [r["index"] for r in out["results"]]
    scores = [r["relevance_score"] for r in full]
    assert scores == sorted(scores, reverse=True)


def test_rerank_errors_in_each_dialect(fake_model: EmbeddingModel, reranker: CrossEncoder) -> None:
    long_text = " ".join(string.ascii_lowercase * 20)  # letters → far over 128 positions

    async def go(client: httpx.AsyncClient) -> dict[str, httpx.Response]:
        return {
            "tei_empty": await client.post("/rerank", json={"query": " ", "texts": ["a"]}),
            "tei_long": await client.post("/rerank", json={"query": "q", "texts": [long_text]}),
            "tei_long_ok": await client.post(
                "/rerank", json={"query": "q", "texts": [long_text], "truncate": True}
            ),
            "v1_top_n": await client.post(
                "/v1/rerank", json={"query": "q", "documents": ["a"], "top_n": 0}
            ),
            "v1_model": await client.post(
                "/v1/rerank", json={"query": "q", "documents": ["a"], "model": "nope"}
            ),
            "v1_missing": await client.post("/v1/rerank", json={"query": "q"}),
        }

    got = call(go, fake_model, reranker)
    assert got["tei_empty"].status_code in (400, 422)
    assert set(got["tei_empty"].json()) == {"error", "error_type"}
    assert got["tei_long"].status_code == 413
    assert got["tei_long"].json()["error_type"] == "validation"
    assert "128" in got["tei_long"].json()["error"]
    assert got["tei_long_ok"].status_code == 200
    for key, status in (("v1_top_n", 400), ("v1_model", 404), ("v1_missing", 400)):
        body = got[key].json()
        assert got[key].status_code == status, (key, body)
        assert set(body["error"]) == {"message", "type", "param", "code"}
    assert got["v1_model"].json()["error"]["code"] == "model_not_found"


def test_without_a_reranker_both_routes_answer_404(fake_model: EmbeddingModel) -> None:
    async def go(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        tei = await client.post("/rerank", json={"query": "q", "texts": ["a"]})
        v1 = await client.post("/v1/rerank", json={"query": "q", "documents": ["a"]})
        return tei, v1

    tei, v1 = call(go, fake_model, None)
    assert tei.status_code == 404 and tei.json()["error_type"] == "validation"
    assert "--reranker" in tei.json()["error"]
    assert v1.status_code == 404 and v1.json()["error"]["code"] == "model_not_found"


def test_rerank_needs_the_api_key(fake_model: EmbeddingModel, reranker: CrossEncoder) -> None:
    async def go(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        body = {"query": "q", "documents": ["a", "b"]}
        bare = await client.post("/v1/rerank", json=body)
        keyed = await client.post("/v1/rerank", json=body, headers={"Authorization": "Bearer k3y"})
        return bare, keyed

    bare, keyed = call(go, fake_model, reranker, ServerConfig(api_key="k3y"))
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "invalid_api_key"
    assert keyed.status_code == 200


@pytest.fixture(scope="module")
def slower(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> CrossEncoder:
    """A wider random cross-encoder: a forward pass takes long enough that 32 clients
    outrun it."""
    folder = build_tiny_cross_encoder(tmp_path_factory.mktemp("rerank-wide"), hidden=128)
    return load_cross_encoder(str(folder), settings=settings)


def metric(text: str, name: str) -> float:
    """The value of the sample ``name`` (labels included) in a Prometheus text page."""
    return float(
        next(line for line in text.splitlines() if line.startswith(name + " ")).split()[-1]
    )


def test_rerank_overload_is_answered_at_once_under_32_clients(
    fake_model: EmbeddingModel, slower: CrossEncoder
) -> None:
    letters = string.ascii_lowercase
    docs = [" ".join(letters[(i + j) % 26] for j in range(60)) for i in range(16)]

    async def one(client: httpx.AsyncClient, i: int) -> tuple[httpx.Response, float]:
        start = time.perf_counter()
        if i % 2:
            got = await client.post("/v1/rerank", json={"query": f"q {i}", "documents": docs})
        else:
            got = await client.post("/rerank", json={"query": f"q {i}", "texts": docs})
        return got, time.perf_counter() - start

    async def go(client: httpx.AsyncClient) -> tuple[list[tuple[httpx.Response, float]], str]:
        answers = await asyncio.gather(*(one(client, i) for i in range(32)))
        metrics = await client.get("/metrics")
        return list(answers), metrics.text

    answers, metrics = call(go, fake_model, slower, max_queue=32)
    ok = [(r, t) for r, t in answers if r.status_code == 200]
    refused = [(r, t) for r, t in answers if r.status_code != 200]
    assert ok and refused, [r.status_code for r, _ in answers]
    for response, _ in refused:
        if response.request.url.path == "/rerank":  # each dialect's overload answer
            assert response.status_code == 429
            assert response.json()["error_type"] == "overloaded"
        else:
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "overloaded"
        assert "retry-after" in response.headers
    # refused at once: none waited for the forward passes the served requests needed
    assert max(t for _, t in refused) < max(t for _, t in ok)
    assert metric(metrics, 'lembed_overload_total{reason="inputs"}') == len(refused)
    # every served pair went through the batcher
    assert metric(metrics, "lembed_rerank_batch_pairs_sum") == 16 * len(ok)


def test_health_and_metrics_cover_the_reranker(
    fake_model: EmbeddingModel, reranker: CrossEncoder
) -> None:
    async def go() -> list[httpx.Response]:
        app = create_app(ModelPool([fake_model]), reranker=reranker)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://lembed") as client:
                body = {"query": "q", "texts": TEXTS}
                first = [await client.get("/health"), await client.post("/rerank", json=body)]
                await app.state.lembed.reranker.stop()  # its worker is gone: readiness fails
                after = [await client.get("/health"), await client.get("/metrics")]
                return first + after

    healthy, served, unhealthy, metrics = asyncio.run(go())
    assert healthy.status_code == 200 and served.status_code == 200
    assert unhealthy.status_code == 503 and unhealthy.json()["error_type"] == "unhealthy"
    assert metric(metrics.text, "lembed_worker_alive") == 0
    assert metric(metrics.text, "lembed_rerank_batch_pairs_count") >= 1
    assert metric(metrics.text, "lembed_rerank_batch_pairs_sum") == len(TEXTS)


@pytest.mark.server
def test_live_server_reranks(tiny_path: Path, cache_dir: Path, onnx_model: EmbeddingModel) -> None:
    server = LiveServer(["--reranker", str(tiny_path)], live_env(cache_dir))
    try:
        got = httpx.post(
            server.url + "/v1/rerank",
            json={"query": QUERY, "documents": TEXTS, "top_n": 3},
            timeout=60,
        )
        tei = httpx.post(server.url + "/rerank", json={"query": QUERY, "texts": TEXTS}, timeout=60)
    finally:
        server.stop()
    assert got.status_code == 200, got.text
    results = got.json()["results"]
    assert len(results) == 3
    assert [r["relevance_score"] for r in results] == sorted(
        (r["relevance_score"] for r in results), reverse=True
    )
    assert [r["index"] for r in tei.json()[:3]] == [r["index"] for r in results]
