"""Every dialect's error shape and status for bad input; the server keeps serving."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lembed.server.state import ServerConfig

OLLAMA = "/api/embed"
OPENAI = "/v1/embeddings"
TEI = "/embed"
GOOD = {
    OLLAMA: {"model": "all-minilm", "input": "hello"},
    OPENAI: {"model": "all-minilm", "input": "hello"},
    TEI: {"inputs": "hello"},
}
FIELD = {OLLAMA: "input", OPENAI: "input", TEI: "inputs"}


def check_shape(route: str, response: httpx.Response) -> str:
    """Assert the dialect's error body; return its message."""
    body = response.json()
    if route.startswith("/api"):
        assert set(body) == {"error"} and isinstance(body["error"], str)
        return str(body["error"])
    if route.startswith("/v1"):
        err = body["error"]
        assert set(err) == {"message", "type", "param", "code"}
        return str(err["message"])
    assert set(body) == {"error", "error_type"}
    return str(body["error"])


def with_field(route: str, value: Any) -> dict[str, Any]:
    return {**GOOD[route], FIELD[route]: value}


# (case, route, request kwargs, status, error_type (TEI) or None, text in message)
CASES: list[tuple[str, str, dict[str, Any], int, str | None, str]] = []
for route, statuses in {
    OLLAMA: {"json": 400, "type": 400, "empty": 400, "many": 413, "long": 400, "model": 404},
    OPENAI: {"json": 400, "type": 400, "empty": 400, "many": 413, "long": 400, "model": 404},
    TEI: {"json": 422, "type": 422, "empty": 400, "many": 413, "long": 413, "model": 404},
}.items():
    tei = route == TEI
    CASES += [
        (
            "malformed json",
            route,
            {"content": b"{not json"},
            statuses["json"],
            "validation" if tei else None,
            "not valid JSON",
        ),
        (
            "wrong type",
            route,
            {"json": with_field(route, 42)},
            statuses["type"],
            "validation" if tei else None,
            FIELD[route],
        ),
        (
            "null input",
            route,
            {"json": with_field(route, None)},
            statuses["type"],
            "validation" if tei else None,
            FIELD[route],
        ),
        (
            "nested lists",
            route,
            {"json": with_field(route, [["a"]])},
            statuses["type"],
            "validation" if tei else None,
            FIELD[route],
        ),
        (
            "empty string",
            route,
            {"json": with_field(route, "")},
            statuses["empty"],
            "empty" if tei else None,
            "empty",
        ),
        (
            "whitespace",
            route,
            {"json": with_field(route, ["ok", "  \n"])},
            statuses["empty"],
            "empty" if tei else None,
            "input[1] is empty",
        ),
        (
            "empty list",
            route,
            {"json": with_field(route, [])},
            statuses["empty"],
            "empty" if tei else None,
            "empty",
        ),
        (
            "10k inputs",
            route,
            {"json": with_field(route, ["x"] * 10_000)},
            statuses["many"],
            "validation" if tei else None,
            "too many inputs: 10000",
        ),
        (
            "too long",
            route,
            {"json": {**with_field(route, "word " * 400), "truncate": False}},
            statuses["long"],
            "validation" if tei else None,
            "256-token window",
        ),
        (
            "not an object",
            route,
            {"json": ["hello"]},
            statuses["type"],
            "validation" if tei else None,
            "invalid request",
        ),
        (
            "negative dimensions",
            route,
            {"json": {**GOOD[route], "dimensions": -3}},
            statuses["type"] if not tei else 422,
            "validation" if tei else None,
            "dimensions",
        ),
        (
            "dimensions > dim",
            route,
            {"json": {**GOOD[route], "dimensions": 4096}},
            statuses["type"] if not tei else 422,
            "validation" if tei else None,
            "between 1 and 384",
        ),
        (
            "bad input_type",
            route,
            {"json": {**GOOD[route], ("prompt_name" if tei else "input_type"): "poem"}},
            statuses["type"] if not tei else 422,
            "validation" if tei else None,
            "poem",
        ),
    ]
    CASES += [
        (
            "invalid utf-8",
            route,
            {"content": b'{"input": "\xff\xfe", "inputs": "\xff"}'},
            statuses["json"],
            "validation" if tei else None,
            "not valid JSON",
        ),
        (
            "100k characters",
            route,
            {"json": {**with_field(route, "x " * 50_000), "truncate": False}},
            statuses["long"],
            "validation" if tei else None,
            "-token window",
        ),
        (
            "form-encoded body",
            route,
            {
                "content": b"input=hello&model=x",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            statuses["json"],
            "validation" if tei else None,
            "not valid JSON",
        ),
        (
            "null element",
            route,
            {"json": with_field(route, ["ok", None])},
            statuses["type"],
            "validation" if tei else None,
            FIELD[route],
        ),
        (
            "dimensions as text",
            route,
            {"json": {**GOOD[route], "dimensions": "many"}},
            statuses["type"],
            "validation" if tei else None,
            "dimensions",
        ),
        (
            "truncate as text",
            route,
            {"json": {**GOOD[route], "truncate": "perhaps"}},
            statuses["type"],
            "validation" if tei else None,
            "truncate",
        ),
        (
            "deeply nested",
            route,
            {"content": b'{"input": ' + b"[" * 5000 + b"]" * 5000 + b"}"},
            statuses["json"],
            "validation" if tei else None,
            "JSON",
        ),
    ]
    if not tei:
        CASES.append(
            (
                "unknown model",
                route,
                {"json": {**GOOD[route], "model": "nope"}},
                statuses["model"],
                None,
                "not served here",
            )
        )
CASES += [
    (
        "bad encoding_format",
        OPENAI,
        {"json": {**GOOD[OPENAI], "encoding_format": "hex"}},
        400,
        None,
        "encoding_format",
    ),
    (
        "token id out of vocab",
        OPENAI,
        {"json": {**GOOD[OPENAI], "input": [[101, 99999999]], "tokenizer": "all-minilm"}},
        400,
        None,
        "outside the vocabulary of all-minilm-l6-v2",
    ),
    (
        "token ids of an unnamed tokenizer (LangChain's tiktoken ids)",
        OPENAI,
        {"json": {**GOOD[OPENAI], "input": [[9906, 1917]]}},
        400,
        None,
        "check_embedding_ctx_length=False",
    ),
    (
        "NaN token id",
        OPENAI,
        {"content": b'{"model": "all-minilm", "input": [101, NaN]}'},
        400,
        None,
        "input",
    ),
    ("missing model", OPENAI, {"json": {"input": "x"}}, 400, None, "model"),
    (
        "legacy empty prompt",
        "/api/embeddings",
        {"json": {"model": "all-minilm", "prompt": ""}},
        400,
        None,
        "empty",
    ),
    (
        "bad truncation_direction",
        TEI,
        {"json": {"inputs": "x", "truncation_direction": "Middle"}},
        422,
        "validation",
        "truncation_direction",
    ),
    ("decode out of vocab", "/decode", {"json": {"ids": [1, -5]}}, 422, "validation", "outside"),
]


@pytest.mark.parametrize(
    ("case", "route", "request_kw", "status", "error_type", "text"),
    CASES,
    ids=[f"{c[1]}:{c[0]}" for c in CASES],
)
def test_bad_input(
    in_process: Callable[..., Any],
    case: str,
    route: str,
    request_kw: dict[str, Any],
    status: int,
    error_type: str | None,
    text: str,
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        response = await client.post(route, **request_kw)
        assert response.status_code == status, response.text
        message = check_shape(route, response)
        assert text in message, message
        if error_type is not None:
            assert response.json()["error_type"] == error_type
        again = await client.post(OLLAMA, json=GOOD[OLLAMA])  # still serving
        assert again.status_code == 200

    in_process(go)


@pytest.mark.parametrize("route", [OLLAMA, OPENAI, TEI])
def test_oversize_body(in_process: Callable[..., Any], route: str) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        big = with_field(route, "word " * 1_000_000)  # ~5 MB
        response = await client.post(route, json=big)
        assert response.status_code == 413
        assert "larger than the server's limit" in check_shape(route, response)

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(40):
                yield b" " * 100_000

        streamed = await client.post(route, content=chunks())  # no Content-Length
        assert streamed.status_code == 413, streamed.text
        assert (await client.post(route, json=GOOD[route])).status_code == 200

    in_process(go)


@pytest.mark.parametrize(
    ("route", "status"), [("/api/nothing", 404), ("/v1/nothing", 404), ("/nothing", 404)]
)
def test_unknown_route_in_dialect(in_process: Callable[..., Any], route: str, status: int) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        response = await client.get(route)
        assert response.status_code == status
        assert "no route GET" in check_shape(route, response)

    in_process(go)


@pytest.mark.parametrize("route", [OLLAMA, OPENAI, TEI])
def test_wrong_method(in_process: Callable[..., Any], route: str) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        response = await client.get(route)
        assert response.status_code == 405
        assert "not allowed" in check_shape(route, response)

    in_process(go)


@pytest.mark.parametrize("route", [OLLAMA, OPENAI, TEI, "/v1/models", "/api/tags", "/info"])
def test_api_key_on_every_route_but_health(in_process: Callable[..., Any], route: str) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        method = client.post if route in GOOD else client.get
        kw: dict[str, Any] = {"json": GOOD[route]} if route in GOOD else {}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "sekret"}):
            response = await method(route, headers=headers, **kw)
            assert response.status_code == 401, (headers, response.text)
            assert "API key" in check_shape(route, response)
        ok = await method(route, headers={"Authorization": "Bearer sekret"}, **kw)
        assert ok.status_code == 200
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/metrics")).status_code == 401

    in_process(go, ServerConfig(api_key="sekret"))


def test_public_metrics_option(in_process: Callable[..., Any]) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        assert (await client.get("/metrics")).status_code == 200

    in_process(go, ServerConfig(api_key="k", public_metrics=True))
