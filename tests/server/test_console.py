"""The console's page and the HTTP API it calls, in-process (fake backend, a real Chroma)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest

from lembed.engine.model import EmbeddingModel
from lembed.engine.pool import ModelPool
from lembed.server import search
from lembed.server.app import create_app
from lembed.server.collections import StoreConfig, pca_2d
from lembed.server.compare import similarity
from lembed.server.console import wants_html
from lembed.server.search import sentences
from lembed.server.state import ServerConfig
from lembed.settings import Settings
from tests.rag.chat_stub import chat_stub
from tests.server.conftest import run

T = TypeVar("T")

DOCS = {
    "cats.md": "# Cats\n\nCats are small domesticated carnivores. A cat sleeps for about "
    "fifteen hours a day.\n\nKittens open their eyes after about a week.",
    "volcano.md": "# Volcanoes\n\nA volcano is an opening in the crust where molten rock "
    "escapes. Mount Etna in Sicily is one of the most active volcanoes in Europe.",
    "tea.md": "# Tea\n\nGreen tea is steamed or pan-fired soon after picking. Black tea is "
    "oxidised before it is dried.",
}


def write_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, fake_model: EmbeddingModel) -> str:
    """A Chroma store with the fixture docs in collection ``docs`` (fake vectors)."""
    from lembed.ingest import index

    root = tmp_path_factory.mktemp("console-store")
    store = f"chroma:{root / 'chroma'}"
    settings = Settings(cache_dir=root / "cache")
    index([write_docs(root / "docs")], store=store, collection="docs", model=fake_model,
          settings=settings)  # fmt: skip
    return store


def call(
    model: EmbeddingModel,
    store: str,
    fn: Callable[[httpx.AsyncClient], Awaitable[T]],
    config: ServerConfig | None = None,
) -> T:
    app = create_app(ModelPool([model]), config)
    app.state.store_config = StoreConfig(store=store, settings=Settings())

    async def go() -> T:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://lembed") as c:
                return await fn(c)

    return run(go())


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # Chromium
        ("text/html", True),
        ("*/*", False),  # curl, httpx
        (None, False),
        ("application/json", False),  # the ollama Python client
        ("text/plain, text/html;q=0.5", False),
        ("text/html;q=0", False),
    ],
)
def test_accept_decides(accept: str | None, html: bool) -> None:
    assert wants_html(accept) is html


def test_root_html_for_browsers_text_for_clients(fake_model: EmbeddingModel) -> None:
    async def go(c: httpx.AsyncClient) -> list[httpx.Response]:
        browser = await c.get("/", headers={"accept": "text/html,*/*;q=0.8"})
        curl = await c.get("/", headers={"accept": "*/*", "user-agent": "curl/8.5.0"})
        head = await c.head("/")  # Ollama's CLI heartbeat
        return [browser, curl, head]

    browser, curl, head = call(fake_model, "memory:", go, ServerConfig(api_key="k"))
    assert head.status_code == 200 and head.content == b""
    assert browser.status_code == 200 and browser.headers["content-type"].startswith("text/html")
    assert 'id="login"' in browser.text and '"/console/"' in browser.text
    assert curl.status_code == 200 and curl.text == "lembed is running"
    assert curl.headers["content-type"].startswith("text/plain")


def test_assets_and_api_need_the_key(fake_model: EmbeddingModel, indexed: str) -> None:
    async def go(c: httpx.AsyncClient) -> dict[str, int]:
        auth = {"authorization": "Bearer k"}
        return {
            "js": (await c.get("/console/app.js")).status_code,
            "css": (await c.get("/console/app.css")).status_code,
            "collections": (await c.get("/v1/collections")).status_code,
            "js with key": (await c.get("/console/app.js", headers=auth)).status_code,
            "missing asset": (await c.get("/console/secrets.txt", headers=auth)).status_code,
            "collections with key": (await c.get("/v1/collections", headers=auth)).status_code,
        }

    got = call(fake_model, indexed, go, ServerConfig(api_key="k"))
    assert got == {
        "js": 401,
        "css": 401,
        "collections": 401,
        "js with key": 200,
        "missing asset": 404,
        "collections with key": 200,
    }


def test_without_a_key_the_assets_load(fake_model: EmbeddingModel) -> None:
    async def go(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [await c.get("/console/app.js"), await c.get("/console/app.css")]

    js, css = call(fake_model, "memory:", go)
    assert js.status_code == css.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript") and "/v1/compare" in js.text
    assert css.headers["content-type"].startswith("text/css")


def test_collections_sources_chunks_map(fake_model: EmbeddingModel, indexed: str) -> None:
    async def go(c: httpx.AsyncClient) -> list[Any]:
        listing = (await c.get("/v1/collections")).json()
        sources = (await c.get("/v1/collections/docs/sources")).json()
        first = sources["data"][0]["source"]
        chunks = (await c.get("/v1/collections/docs/chunks", params={"source": first})).json()
        points = (await c.get("/v1/collections/docs/map", params={"sample": 50})).json()
        return [listing, sources, chunks, points]

    listing, sources, chunks, points = call(fake_model, indexed, go)
    (docs,) = listing["data"]
    assert docs == {
        "name": "docs",
        "count": 3,
        "dimensions": fake_model.dim,
        "model": fake_model.name,
        "quantization": "none",  # Chroma does not quantise
        "store": indexed,
    }
    assert [Path(s["source"]).name for s in sources["data"]] == ["cats.md", "tea.md", "volcano.md"]
    assert chunks["total"] == 1 and chunks["data"][0]["text"].startswith("# Cats")
    assert points["total"] == 3 and points["method"] == "pca"
    assert {Path(p["source"]).name for p in points["points"]} == set(DOCS)
    assert all(np.isfinite([p["x"], p["y"]]).all() for p in points["points"])


def test_concurrent_store_requests_never_fail(fake_model: EmbeddingModel, indexed: str) -> None:
    """Embedded Chroma opened and closed from several threads at once raced into 500s
    (its shared system per path): the store routes take one request at a time per store."""
    routes = ["/v1/collections/docs/map", "/v1/collections/docs/sources", "/v1/collections"]

    async def go(c: httpx.AsyncClient) -> list[int]:
        answers = await asyncio.gather(*(c.get(routes[i % 3]) for i in range(12)))
        found = await asyncio.gather(
            *(c.post("/v1/search", json={"query": "tea", "collection": "docs"}) for _ in range(4))
        )
        return [r.status_code for r in (*answers, *found)]

    assert call(fake_model, indexed, go) == [200] * 16


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_search_modes(fake_model: EmbeddingModel, indexed: str, mode: str) -> None:
    async def go(c: httpx.AsyncClient) -> httpx.Response:
        body = {"query": "Mount Etna volcano", "collection": "docs", "mode": mode, "k": 2}
        return await c.post("/v1/search", json=body)

    r = call(fake_model, indexed, go)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["mode"] == mode and 1 <= len(out["hits"]) <= 2
    hit = out["hits"][0]
    assert hit["rank"] == 1 and hit["best_sentence"] in hit["text"]
    if mode == "bm25":  # the lexical match is certain even with fake vectors
        assert Path(hit["source"]).name == "volcano.md"


def test_ask_streams_ndjson_with_citations(fake_model: EmbeddingModel, indexed: str) -> None:
    async def go(c: httpx.AsyncClient) -> tuple[str, list[dict[str, Any]]]:
        body = {"question": "Which volcano is active in Sicily?", "collection": "docs"}
        async with c.stream("POST", "/v1/ask", json={**body, "mode": "bm25"}) as r:
            lines = [json.loads(line) async for line in r.aiter_lines() if line]
            return r.headers["content-type"], lines

    kind, events = call(fake_model, indexed, go)
    assert kind.startswith("application/x-ndjson")
    assert [e["type"] for e in events[:-1]] == ["text"] * (len(events) - 1) and events
    done = events[-1]
    assert done["type"] == "done" and done["answer_kind"] == "extractive"
    assert "".join(e["text"] for e in events[:-1]) == done["answer"]
    assert all(f"[{n}]" in done["answer"] for n in done["citations"])  # fake vectors: maybe none
    assert Path(done["sources"][0]["source"]).name == "volcano.md"  # bm25 ranks it first
    assert "prompt" not in done


def test_a_search_answers_while_an_ask_generates(
    fake_model: EmbeddingModel, indexed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is held while an ask retrieves, not while its generator writes."""
    monkeypatch.setattr(search, "_GENERATORS", {})
    with chat_stub("Mount Etna is in Sicily [1].", hold=True) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url + "/v1")
        app = create_app(ModelPool([fake_model]))
        app.state.store_config = StoreConfig(store=indexed, llm="openai:held-chat")
        question = {"question": "Which volcano is active?", "collection": "docs", "mode": "bm25"}
        query = {"query": "volcano", "collection": "docs", "mode": "bm25"}

        async def go() -> tuple[httpx.Response, httpx.Response]:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
                    ask = asyncio.ensure_future(c.post("/v1/ask", json=question))
                    try:
                        while not stub.requests:  # retrieved; the generator is writing (held)
                            await asyncio.sleep(0.05)
                        found = await asyncio.wait_for(c.post("/v1/search", json=query), 30)
                    finally:
                        stub.release.set()
                    return found, await ask

        found, asked = run(go())
    assert found.status_code == 200 and found.json()["hits"], found.text
    done = [json.loads(line) for line in asked.text.splitlines() if line][-1]
    assert done["type"] == "done" and done["answer_kind"] == "generated", done
    assert done["answer"] == "Mount Etna is in Sicily [1]." and done["citations"] == [1]


def test_compare_matrix(fake_model: EmbeddingModel) -> None:
    texts = ["a cat", "a kitten", "word " * 400]

    async def go(c: httpx.AsyncClient) -> list[dict[str, Any]]:
        out = []
        for dtype in ("float32", "int8", "binary"):
            body = {"input": texts, "dtype": dtype, "dimensions": 64}
            r = await c.post("/v1/compare", json=body)
            assert r.status_code == 200, r.text
            out.append(r.json())
        return out

    for got in call(fake_model, "memory:", go):
        matrix = np.array(got["matrix"])
        assert matrix.shape == (3, 3) and np.allclose(np.diag(matrix), 1.0, atol=1e-3)
        assert np.allclose(matrix, matrix.T)
        assert got["dimensions"] == 64 and got["window"] == fake_model.spec.max_tokens
        assert got["truncated"] == [False, False, True]
        assert got["tokens"][2] == fake_model.spec.max_tokens


def test_errors_in_the_openai_shape(fake_model: EmbeddingModel, indexed: str) -> None:
    async def go(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await c.post("/v1/search", json={"query": "x", "collection": "nope"}),
            await c.post("/v1/search", json={"query": " ", "collection": "docs"}),
            await c.post("/v1/search", json={"query": "x", "mode": "fuzzy"}),
            await c.get("/v1/collections/docs/chunks"),  # no source
            await c.post("/v1/compare", json={"input": ["a"], "model": "bge-m3"}),
            await c.post("/v1/ask", json={"question": "x", "collection": "nope"}),
        ]

    statuses = [r.status_code for r in call(fake_model, indexed, go)]
    assert statuses == [404, 400, 400, 400, 404, 404]


def test_a_collection_of_an_unserved_model(fake_model: EmbeddingModel) -> None:
    from lembed.stores import open_client

    client = open_client("memory:")
    client.open("other", dim=8, model="bge-m3")

    async def go(c: httpx.AsyncClient) -> httpx.Response:
        return await c.get("/v1/collections/other/map")

    app_store = StoreConfig(store="memory:", client=client)

    async def run_it() -> httpx.Response:
        app = create_app(ModelPool([fake_model]))
        app.state.store_config = app_store
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
                return await go(c)

    r = run(run_it())
    assert r.status_code == 404
    assert "lembed serve -m bge-m3" in r.json()["error"]["message"]


def test_helpers() -> None:
    assert sentences("One. Two! Three?\n\nFour") == ["One.", "Two!", "Three?", "Four"]
    assert sentences("# Cats\n\nCats sleep a lot. They purr.") == ["Cats sleep a lot."]
    assert sentences("e.g. a list") == ["e.g. a list"]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 5)).astype(np.float32)
    points, share = pca_2d(x)
    assert points.shape == (20, 2) and share[0] >= share[1] > 0 and sum(share) <= 1.0001
    v = np.array([[0.6, 0.8], [0.8, 0.6]], dtype=np.float32)
    assert similarity(v, "float32", 2)[0, 1] == pytest.approx(0.96)
    bits = (np.packbits(np.array([[1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]]) > 0,
                        axis=1).astype(np.int16) - 128).astype(np.int8)  # fmt: skip
    assert similarity(bits, "binary", 8)[0, 1] == pytest.approx(0.0)
