"""Failure behaviour: overload, injected NaN / errors / worker crash, model-name safety."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lembed.engine.model import EmbeddingModel
from tests.server.faults import OVERLOAD, faulty, timed_post
from tests.server.test_errors import GOOD, OLLAMA, OPENAI, TEI, check_shape


@pytest.mark.parametrize("route", [OLLAMA, OPENAI, TEI])
def test_burst_of_twice_the_queue(
    in_process: Callable[..., Any], fake_model: EmbeddingModel, route: str
) -> None:
    slow = faulty(fake_model, delay_s=0.25)  # longer than the 32 requests take to arrive

    async def go(client: httpx.AsyncClient) -> None:
        results = await asyncio.wait_for(
            asyncio.gather(*(timed_post(client, route, i) for i in range(32))), 30
        )
        codes = [code for code, _, _ in results]
        assert set(codes) == {200, OVERLOAD[route]}, codes
        refused = [(t, r) for code, t, r in results if code == OVERLOAD[route]]
        assert all(t < 1.0 for t, _ in refused)  # answered at once, not after waiting
        assert "overloaded" in check_shape(route, refused[0][1])
        after = await asyncio.gather(*(timed_post(client, route, i) for i in range(8)))
        assert [code for code, _, _ in after] == [200] * 8  # full service right after

    in_process(go, models=[slow], max_queue=16)


@pytest.mark.parametrize(
    ("fault", "message"),
    [("nan", "non-finite"), ("error", "inference failed")],
)
def test_backend_faults_are_clean_errors(
    in_process: Callable[..., Any], fake_model: EmbeddingModel, fault: str, message: str
) -> None:
    broken = faulty(fake_model, fault=fault)

    async def go(client: httpx.AsyncClient) -> None:
        for route, status in ((OLLAMA, 500), (OPENAI, 500), (TEI, 424)):
            r = await client.post(route, json=GOOD[route])
            assert r.status_code == status, r.text
            text = check_shape(route, r)
            assert message in text and "Traceback" not in text and "injected" not in text
            if route == TEI:
                assert r.json()["error_type"] == "backend"
        assert (await client.get("/health")).status_code == 200  # one bad batch: still up

    in_process(go, models=[broken])


def test_worker_crash_turns_health_red_and_fails_fast(
    in_process: Callable[..., Any], fake_model: EmbeddingModel
) -> None:
    crashing = faulty(fake_model, fault="crash", delay_s=0.05)

    async def go(client: httpx.AsyncClient) -> None:
        assert (await client.get("/health")).status_code == 200
        bodies = [{**GOOD[OLLAMA], "input": f"t{i}"} for i in range(6)]
        rs = await asyncio.wait_for(
            asyncio.gather(*(client.post(OLLAMA, json=b) for b in bodies)), 10
        )
        assert {r.status_code for r in rs} == {500}
        assert all("inference worker" in r.json()["error"] for r in rs)
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json() == {
            "error": "the inference worker is not running",
            "error_type": "unhealthy",
        }
        late = await asyncio.wait_for(client.post(OPENAI, json=GOOD[OPENAI]), 5)
        assert late.status_code == 500 and "not running" in check_shape(OPENAI, late)

    in_process(go, models=[crashing])


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc", "~", ".", "./models/x", "..%2f..%2fetc"]
)
def test_request_model_names_never_reach_the_filesystem(
    in_process: Callable[..., Any], name: str
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        for route in (OLLAMA, OPENAI):
            r = await client.post(route, json={**GOOD[route], "model": name})
            assert r.status_code == 404 and "not served here" in check_shape(route, r)
        r = await client.post("/api/show", json={"model": name})
        assert r.status_code == 404

    in_process(go)
