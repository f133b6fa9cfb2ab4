"""Helpers of the overload and fault tests (test_hardening, test_admission): a fake model
that is slow or faulty, each dialect's overload status, one timed request."""

from __future__ import annotations

import time
from typing import Any

import httpx

from lembed.engine.model import EmbeddingModel
from lembed.runtime.backends.fake import FakeBackend
from lembed.settings import default
from tests.server.test_errors import GOOD, OLLAMA, OPENAI, TEI

OVERLOAD = {OLLAMA: 503, OPENAI: 503, TEI: 429}


def faulty(
    model: EmbeddingModel, *, max_batch_size: int = default("max_batch_size"), **kw: Any
) -> EmbeddingModel:
    """``model``'s tokenizer on a fake backend built with ``kw`` (delay_s, fault)."""
    backend = FakeBackend(model.dim, **kw)
    return EmbeddingModel(model.resolved, model.tokenizer, backend, max_batch_size=max_batch_size)


async def timed_post(
    client: httpx.AsyncClient, route: str, i: int
) -> tuple[int, float, httpx.Response]:
    """POST ``route``'s good body with text ``i``: status, seconds taken, response."""
    start = time.perf_counter()
    body = {**GOOD[route], "input" if route != TEI else "inputs": f"text {i}"}
    r = await client.post(route, json=body)
    return r.status_code, time.perf_counter() - start, r
