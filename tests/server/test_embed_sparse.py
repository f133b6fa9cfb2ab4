"""TEI's ``POST /embed_sparse`` on the bge-m3 fixture: TEI's shape, the engine's lexical
weights, TEI's errors; in-process and through a real ``lembed serve`` process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lembed.engine.model import EmbeddingModel
from lembed.settings import Settings
from tests.fixtures.bge_m3 import in_hub_cache, load_from_hub
from tests.fixtures.checkpoints import varied_texts
from tests.server.conftest import LiveServer, client_for, live_env, run

pytestmark = pytest.mark.model

TEXTS = ["the cat sat on the mat", "river mountain music", "a short query?", *varied_texts(9)]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub")
    in_hub_cache(root)
    return root


@pytest.fixture(scope="module")
def m3(hub: Path, settings: Settings) -> EmbeddingModel:
    return load_from_hub(hub, "torch", settings)


def post(models: list[EmbeddingModel], path: str, body: dict[str, Any]) -> httpx.Response:
    async def go() -> httpx.Response:
        async with client_for(models) as client:
            return await client.post(path, json=body)

    return run(go())


def test_embed_sparse_answers_in_teis_shape(m3: EmbeddingModel) -> None:
    res = post([m3], "/embed_sparse", {"inputs": TEXTS})
    assert res.status_code == 200, res.text
    body = res.json()
    assert isinstance(body, list) and len(body) == len(TEXTS)
    want = m3.embed(TEXTS, output="sparse").sparse
    assert want is not None
    for row, vec in zip(body, want, strict=True):
        assert all(set(item) == {"index", "value"} for item in row)
        assert all(isinstance(i["index"], int) and i["value"] > 0 for i in row)
        assert [i["index"] for i in row] == vec.indices.tolist()
        assert [i["value"] for i in row] == pytest.approx(vec.values.tolist(), rel=1e-6)
    assert sum(len(row) for row in body) > 0
    assert int(res.headers["x-compute-tokens"]) == sum(m3.count_tokens(TEXTS))
    one = post([m3], "/embed_sparse", {"inputs": TEXTS[0]})
    assert one.json() == body[:1]


def test_embed_sparse_errors_in_teis_dialect(
    m3: EmbeddingModel, fake_model: EmbeddingModel
) -> None:
    no_head = post([fake_model, m3], "/embed_sparse", {"inputs": "x"})
    assert no_head.status_code == 424
    err = no_head.json()
    assert set(err) == {"error", "error_type"} and "no sparse output" in err["error"]
    assert "bge-m3" in err["error"]
    long = post([m3], "/embed_sparse", {"inputs": "word " * 9000, "truncate": False})
    assert long.status_code == 413 and long.json()["error_type"] == "validation"
    cut = post([m3], "/embed_sparse", {"inputs": "word " * 9000, "truncate": True})
    assert cut.status_code == 200
    assert post([m3], "/embed_sparse", {"inputs": []}).status_code in (400, 422)
    assert post([m3], "/embed_sparse", {"inputs": "x", "model": "nope"}).status_code == 404


@pytest.fixture(scope="module")
def live_m3(hub: Path, cache_dir: Path, m3: EmbeddingModel) -> Iterator[LiveServer]:
    env = {**live_env(cache_dir), "HF_HUB_CACHE": str(hub)}
    server = LiveServer(["-m", "bge-m3", "--backend", "torch"], env)
    yield server
    server.stop()


@pytest.mark.server
def test_embed_sparse_on_a_real_server(live_m3: LiveServer, m3: EmbeddingModel) -> None:
    res = httpx.post(live_m3.url + "/embed_sparse", json={"inputs": TEXTS}, timeout=60)
    assert res.status_code == 200, res.text
    want = m3.embed(TEXTS, output="sparse").sparse
    assert want is not None
    assert [[i["index"] for i in row] for row in res.json()] == [v.indices.tolist() for v in want]
