"""Tokens are counted once, by the pool's ``on_embedded`` hook, whichever dialect asked."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from lembed.engine.model import EmbeddingModel
from lembed.engine.pool import ModelPool
from tests.server.conftest import run

COUNTED = [
    ("/api/embed", {"input": ["the cat sat", "on the mat"]}),
    ("/api/embeddings", {"prompt": "a river in the mountains"}),
    ("/v1/embeddings", {"input": ["one", "two words", "and three words"]}),
    ("/embed", {"inputs": "text embeddings inference"}),
]


def tokens_total(text: str) -> float:
    found = re.search(r'^lembed_input_tokens_total\{model="all-minilm-l6-v2"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_each_dialect_counts_its_tokens_once(in_process: Callable[..., Any]) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        total = 0
        for path, body in COUNTED:
            res = await client.post(path, json={"model": "all-minilm", **body})
            assert res.status_code == 200, (path, res.text)
            total += int(res.headers["x-compute-tokens"])
            assert tokens_total((await client.get("/metrics")).text) == total, path
        res = await client.post("/embed_all", json={"inputs": ["token rows", "count too"]})
        assert res.status_code == 200, res.text
        total += sum(len(rows) for rows in res.json())  # one row per token, specials included
        assert tokens_total((await client.get("/metrics")).text) == total, "/embed_all"
        bad = await client.post("/embed", json={"inputs": ""})  # refused: nothing embedded
        assert bad.status_code == 400
        assert tokens_total((await client.get("/metrics")).text) == total

    in_process(go)


def test_the_pool_reports_every_embedding_to_its_hook(fake_model: EmbeddingModel) -> None:
    pool = ModelPool([fake_model])
    seen: list[tuple[str, int]] = []
    pool.on_embedded = lambda model, tokens: seen.append((model, tokens))

    async def go() -> None:
        await pool.start()
        try:
            batched = await pool.embed(None, ["a b c", "d"])
            heads = await pool.embed_outputs(
                None, ["e f"], input_type="document", truncate="right", output="dense"
            )
        finally:
            await pool.stop()
        assert seen == [
            (fake_model.name, batched.prompt_tokens),
            (fake_model.name, heads.prompt_tokens),
        ]

    run(go())
