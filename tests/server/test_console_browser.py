"""The web console in a real headless Chromium against a real ``lembed serve`` (the default
ONNX model, a Chroma store with an indexed fixture folder, an API key).

Chromium is Debian's (``scripts/ensure-browser.sh`` installs it), driven by Playwright
without its own browser download, launched with
``--host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"`` so no name resolves off the
machine (Chromium maps IP literals too: the server's address is excluded); every request the
page makes is recorded and must go to 127.0.0.1. Screenshots go to the folder printed at the
start (``-s`` shows it), or to ``$LEMBED_SCREENSHOTS``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from lembed.engine.model import EmbeddingModel
from lembed.settings import Settings
from tests.server.conftest import LiveServer, live_env
from tests.server.test_console import write_docs

pytestmark = [pytest.mark.server, pytest.mark.model, pytest.mark.slow]

KEY = "console-sekret"
CHROMIUM = os.environ.get("LEMBED_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("LEMBED_SCREENSHOTS") or tmp_path_factory.mktemp("console"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, onnx_model: EmbeddingModel
) -> Iterator[LiveServer]:
    """``lembed serve --api-key --store chroma:...`` with the fixture docs indexed."""
    from lembed.ingest import index

    root = tmp_path_factory.mktemp("console-live")
    store = f"chroma:{root / 'chroma'}"
    index([write_docs(root / "docs")], store=store, collection="docs", model=onnx_model,
          settings=Settings(cache_dir=cache_dir))  # fmt: skip
    live = LiveServer(["--api-key", KEY, "--store", store], live_env(cache_dir))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/ensure-browser.sh (Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            # nothing resolves off the machine; Chromium applies the rule to IP literals too,
            # so the server's own address is the one exclusion
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        yield chromium
        chromium.close()


class Page:
    """One fresh browser context on the console, with every request it makes recorded."""

    def __init__(self, browser: Any, server: LiveServer, shots: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.requests: list[Any] = []
        self.context.on("request", lambda request: self.requests.append(request))
        self.server, self.shots = server, shots
        self.login_at = 0  # requests before this one were made without the key

    def open(self) -> Any:
        self.page.goto(self.server.url + "/")
        return self.page

    def login(self) -> Any:
        page = self.open()
        page.wait_for_selector("#login:not([hidden])")
        self.login_at = len(self.requests)
        page.fill("#login-key", KEY)
        page.click("#login button")
        page.wait_for_selector("#app header nav")
        return page

    def tab(self, name: str) -> Any:
        self.page.click(f"[data-tab={name}]")
        return self.page

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def check_requests(self, keyed: bool = True) -> list[str]:
        """Every request went to the server on 127.0.0.1; before the login only the page
        loaded (its assets were refused); with ``keyed``, every request after the login
        carried the API key. Returns the paths asked for."""
        paths = []
        for i, request in enumerate(self.requests):
            url = urlsplit(request.url)
            assert url.hostname == "127.0.0.1" and url.port == self.server.port, request.url
            paths.append(url.path)
            if i < self.login_at or not keyed:
                status = request.response().status
                assert (url.path == "/" and status == 200) or status == 401, (request.url, status)
            elif url.path != "/":
                auth = request.all_headers().get("authorization")
                assert auth == f"Bearer {KEY}", (request.url, auth)
        return paths

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(browser: Any, server: LiveServer, shots: Path) -> Iterator[Page]:
    page = Page(browser, server, shots)
    yield page
    page.close()


def test_plain_text_for_curl_and_ollama(server: LiveServer) -> None:
    import ollama

    curl = httpx.get(server.url + "/", headers={"user-agent": "curl/8.5.0", "accept": "*/*"})
    assert curl.status_code == 200 and curl.text == "lembed is running"
    probe = httpx.get(server.url + "/", headers={"accept": "application/json"})  # ollama-python
    assert probe.text == "lembed is running"
    with ollama.Client(host=server.url, headers={"Authorization": f"Bearer {KEY}"}) as client:
        assert "all-minilm-l6-v2" in [m.model for m in client.ps().models]


def test_only_the_login_form_loads_without_the_key(console: Page) -> None:
    page = console.open()
    page.wait_for_selector("#login:not([hidden])")
    console.shot("login")
    assert page.is_hidden("#app") and page.locator("#app > *").count() == 0
    page.fill("#login-key", "wrong")
    page.click("#login button")
    page.wait_for_selector("#login-error:has-text('refused')")
    assert page.is_hidden("#app")
    responses = [(r.url, r.response().status) for r in console.requests]
    served = [url for url, status in responses if status == 200]
    assert [urlsplit(u).path for u in served] == ["/"], responses  # assets answered 401
    console.check_requests(keyed=False)
    page.fill("#login-key", KEY)
    page.click("#login button")
    page.wait_for_selector("#app header nav")
    assert page.is_hidden("#login")


def test_playground_matrix_from_the_real_model(console: Page) -> None:
    page = console.login()
    page.fill("#pg-texts", "A cat sits on the mat.\nA kitten rests on a rug.\nStocks fell sharply.")
    page.click("#pg-run")
    page.wait_for_selector("#pg-matrix td.cell >> nth=8")
    cells = page.locator("#pg-matrix td.cell").all_inner_texts()
    matrix = [[float(v) for v in cells[i * 3 : i * 3 + 3]] for i in range(3)]
    assert [matrix[i][i] for i in range(3)] == [1.0, 1.0, 1.0]
    assert matrix[0][1] > 0.4 > matrix[0][2]  # all-MiniLM-L6-v2: the cat is like the kitten
    tokens = page.locator("#pg-tokens tbody tr").all_inner_texts()
    assert len(tokens) == 3 and all("no" in row for row in tokens)
    assert "all-minilm-l6-v2" in page.inner_text("#pg-out")
    console.shot("playground")
    paths = console.check_requests()
    assert "/v1/compare" in paths


def test_search_returns_hits_with_the_best_sentence(console: Page) -> None:
    page = console.login()
    console.tab("search")
    page.wait_for_selector("#search-collection option[value=docs]", state="attached")
    page.select_option("#search-mode", "hybrid")
    page.fill("#search-query", "Which volcano in Europe is active?")
    page.click("#search button[type=submit]")
    page.wait_for_selector("#search-hits li")
    first = page.locator("#search-hits li").first
    assert "volcano.md" in first.inner_text()
    assert "Etna" in first.locator("mark").inner_text()
    console.shot("search")
    assert "/v1/search" in console.check_requests()


def test_ask_streams_an_answer_with_a_citation(console: Page) -> None:
    page = console.login()
    console.tab("ask")
    page.wait_for_selector("#ask-collection option[value=docs]", state="attached")
    page.fill("#ask-question", "How long does a cat sleep each day?")
    with page.expect_response(lambda r: r.url.endswith("/v1/ask")) as answered:
        page.click("#ask button[type=submit]")
    response = answered.value
    assert response.headers["content-type"].startswith("application/x-ndjson")
    events = [json.loads(line) for line in response.text().splitlines() if line]
    assert [e["type"] for e in events][-1] == "done" and events[0]["type"] == "text"
    page.wait_for_selector("#ask-answer a.cite")
    assert "fifteen hours" in page.inner_text("#ask-answer")
    link = page.locator("#ask-answer a.cite").first
    target = link.get_attribute("href")
    assert target == "#passage-1"
    link.click()
    cited = page.locator(target)
    assert "cats.md" in cited.inner_text() and "cited" in (cited.get_attribute("class") or "")
    console.shot("ask")
    assert "/v1/ask" in console.check_requests()


def test_collections_list_browse_and_map(console: Page) -> None:
    page = console.login()
    console.tab("collections")
    page.wait_for_selector("#coll-table tbody tr td:has-text('docs')")
    row = page.locator("#coll-table tbody tr").first.inner_text()
    assert "all-minilm-l6-v2" in row and "384" in row and "chroma:" in row
    page.click("#coll-table button:has-text('browse')")
    page.wait_for_selector("#coll-sources li >> nth=2")
    page.click("#coll-sources a:has-text('tea.md')")
    page.wait_for_selector("#coll-chunks li")
    assert "Green tea" in page.inner_text("#coll-chunks")
    console.shot("collections-browse")
    page.click("#coll-table button:has-text('map')")
    page.wait_for_selector("#coll-map svg circle >> nth=2")
    assert page.locator("#coll-map svg circle").count() == 3
    assert page.locator("#coll-map ul.legend li").count() == 3  # one colour per source
    console.shot("collections-map")
    paths = console.check_requests()
    assert "/v1/collections" in paths and "/v1/collections/docs/map" in paths


def test_server_view(console: Page) -> None:
    page = console.login()
    console.tab("server")
    page.wait_for_selector("#server-model-table tbody tr")
    page.wait_for_selector("#server-stats")
    assert "all-minilm-l6-v2" in page.inner_text("#server-model-table")
    stats = page.inner_text("#server-stats")
    assert "forward passes" in stats and "inputs waiting in the queue" in stats
    page.wait_for_selector("#health.ok")
    console.shot("server")
    paths = console.check_requests()
    assert {"/metrics", "/api/ps", "/health"} <= set(paths)
