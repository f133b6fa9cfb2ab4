"""Issue 17's server defects: text the tokenizer can't take, a key check that can't throw,
the docs behind the key, Retry-After on overload, strict request types, empty model names."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.runtime.backends.fake import FakeBackend
from lembed.server.middleware import check_api_key, key_matches
from lembed.server.state import ServerConfig
from tests.server.test_errors import OLLAMA, OPENAI, TEI, check_shape

SURROGATE = "a\\ud800b"  # as JSON escapes it: a lone high surrogate
BODIES = {
    OLLAMA: '{"model": "all-minilm", "input": ["fine", "%s"]}',
    "/api/embeddings": '{"model": "all-minilm", "prompt": "%s"}',
    OPENAI: '{"model": "all-minilm", "input": ["fine", "%s"]}',
    TEI: '{"inputs": ["fine", "%s"]}',
    "/tokenize": '{"inputs": ["fine", "%s"]}',
}
STATUS = {OLLAMA: 400, "/api/embeddings": 400, OPENAI: 400, TEI: 422, "/tokenize": 422}


@pytest.mark.parametrize("route", list(BODIES))
def test_unpaired_surrogate_is_a_client_error_naming_the_input(
    in_process: Callable[..., Any], route: str
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        body = (BODIES[route] % SURROGATE).encode()
        response = await client.post(route, content=body)
        assert response.status_code == STATUS[route], response.text
        message = check_shape(route, response)
        assert "surrogate" in message, message
        index = "input[0]" if route == "/api/embeddings" else "input[1]"
        assert index in message, message
        if route in (TEI, "/tokenize"):
            assert response.json()["error_type"] == "validation"

    in_process(go)


def test_error_bodies_survive_client_text(in_process: Callable[..., Any]) -> None:
    """A message that quotes what the client sent is still valid JSON (escaped)."""

    async def go(client: httpx.AsyncClient) -> None:
        body = b'{"model": "all-minilm", "input": "x", "input_type": "q\\udc00"}'
        response = await client.post(OLLAMA, content=body)
        assert response.status_code == 400, response.text
        assert "input_type" in check_shape(OLLAMA, response)

    in_process(go)


@pytest.mark.parametrize("route", [OLLAMA, TEI, "/metrics", "/docs"])
def test_non_ascii_authorization_is_a_401(in_process: Callable[..., Any], route: str) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        method = client.get if route in ("/metrics", "/docs") else client.post
        kw: dict[str, Any] = {} if method == client.get else {"json": {"inputs": "x"}}
        for value in ("Bearer ключ".encode(), b"Bearer \xff\xfe", "Bearer sekretä".encode()):
            response = await method(route, headers={"Authorization": value}, **kw)
            assert response.status_code == 401, response.text
            assert "API key" in check_shape(route, response)
            assert response.headers["www-authenticate"] == "Bearer"

    in_process(go, ServerConfig(api_key="sekret"))


def test_key_comparison_never_throws() -> None:
    assert key_matches(b"Bearer sekret", "sekret")
    assert key_matches(b"bearer  sekret ", "sekret")
    assert not key_matches(b"Bearer \xff", "sekret")
    assert not key_matches("Bearer ключ".encode(), "sekret")
    assert not key_matches(b"", "sekret")
    assert not key_matches(b"sekret", "sekret")


@pytest.mark.parametrize("key", ["ключ", "has space", "", "tab\tkey", "new\nline"])
def test_keys_a_client_cannot_send_are_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="printable ASCII"):
        check_api_key(key)


def test_ascii_keys_are_accepted() -> None:
    assert check_api_key("sk-A1_b2.~!") == "sk-A1_b2.~!"


@pytest.mark.parametrize("route", ["/docs", "/redoc", "/openapi.json"])
def test_api_docs_need_the_key(in_process: Callable[..., Any], route: str) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        denied = await client.get(route)
        assert denied.status_code == 401
        assert "API key" in check_shape(route, denied)
        ok = await client.get(route, headers={"Authorization": "Bearer sekret"})
        assert ok.status_code == 200

    in_process(go, ServerConfig(api_key="sekret"))


def test_api_docs_open_without_a_key(in_process: Callable[..., Any]) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        assert (await client.get("/openapi.json")).status_code == 200

    in_process(go)


@pytest.mark.parametrize(("route", "status"), [(OLLAMA, 503), (OPENAI, 503), (TEI, 429)])
def test_overload_answers_carry_retry_after(
    in_process: Callable[..., Any], fake_model: EmbeddingModel, route: str, status: int
) -> None:
    slow = EmbeddingModel(
        fake_model.resolved, fake_model.tokenizer, FakeBackend(fake_model.dim, delay_s=0.2)
    )

    async def go(client: httpx.AsyncClient) -> None:
        field = "inputs" if route == TEI else "input"
        body = {"model": "all-minilm", field: [f"text {i}" for i in range(4)]}
        responses = await asyncio.gather(*(client.post(route, json=body) for _ in range(4)))
        refused = [r for r in responses if r.status_code == status]
        assert refused, [r.status_code for r in responses]
        assert all(r.headers.get("retry-after") == "1" for r in refused)
        assert "overloaded" in check_shape(route, refused[0])

    in_process(go, models=[slow], max_queue=4)


WRONG_TYPES = [
    (OLLAMA, {"model": "all-minilm", "input": "x", "keep_alive": False}, "keep_alive"),
    (OLLAMA, {"model": "all-minilm", "input": "x", "truncate": 0}, "truncate"),
    (OLLAMA, {"model": "all-minilm", "input": "x", "truncate": "true"}, "truncate"),
    (OLLAMA, {"model": "all-minilm", "input": "x", "dimensions": "8"}, "dimensions"),
    (OPENAI, {"model": "all-minilm", "input": "x", "truncate": 1}, "truncate"),
    (OPENAI, {"model": "all-minilm", "input": "x", "dimensions": True}, "dimensions"),
    (TEI, {"inputs": "x", "normalize": "false"}, "normalize"),
    (TEI, {"inputs": "x", "truncate": 0}, "truncate"),
    ("/tokenize", {"inputs": "x", "add_special_tokens": "true"}, "add_special_tokens"),
    ("/decode", {"ids": [101, 102], "skip_special_tokens": "false"}, "skip_special_tokens"),
    ("/decode", {"ids": ["101"]}, "ids"),
]


@pytest.mark.parametrize(("route", "body", "field"), WRONG_TYPES, ids=[w[2] for w in WRONG_TYPES])
def test_wrong_types_are_refused(
    in_process: Callable[..., Any], route: str, body: dict[str, Any], field: str
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        response = await client.post(route, json=body)
        assert response.status_code in (400, 422), response.text
        assert field in check_shape(route, response)

    in_process(go)


def test_null_dimensions_is_documented_and_accepted(in_process: Callable[..., Any]) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
        dims = schema["lembed__server__tei__EmbedRequest"]["properties"]["dimensions"]
        assert {"type": "null"} in dims["anyOf"]
        assert (await client.post(TEI, json={"inputs": "x", "dimensions": None})).status_code == 200

    in_process(go)


@pytest.mark.parametrize(
    ("route", "body"),
    [
        (OLLAMA, {"model": "all-minilm", "input": "x", "input_type": ""}),
        (OPENAI, {"model": "all-minilm", "input": "x", "input_type": ""}),
        (TEI, {"inputs": "x", "prompt_name": ""}),
        ("/tokenize", {"inputs": "x", "prompt_name": ""}),
    ],
)
def test_empty_input_type_is_refused_and_the_schema_says_so(
    in_process: Callable[..., Any], route: str, body: dict[str, Any]
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        response = await client.post(route, json=body)
        assert response.status_code in (400, 422), response.text
        spec = (await client.get("/openapi.json")).json()
        ref = spec["paths"][route]["post"]["requestBody"]["content"]["application/json"]
        name = ref["schema"]["$ref"].rsplit("/", 1)[1]
        field = "prompt_name" if "prompt_name" in body else "input_type"
        prop = spec["components"]["schemas"][name]["properties"][field]
        allowed = next(a["enum"] for a in prop["anyOf"] if a.get("type") == "string")
        assert "" not in allowed and {"query", "document"} <= set(allowed)

    in_process(go)


def test_decode_ids_are_bounded_in_the_schema(in_process: Callable[..., Any]) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        ids = spec["components"]["schemas"]["DecodeRequest"]["properties"]["ids"]
        flat = ids["anyOf"][0]
        assert flat["items"] == {"type": "integer", "minimum": 0}

    in_process(go)


@pytest.mark.parametrize(
    ("route", "body", "status"),
    [
        (OLLAMA, {"model": "", "input": "x"}, 400),
        ("/api/embeddings", {"model": "", "prompt": "x"}, 400),
        (OPENAI, {"model": "", "input": "x"}, 400),
        (TEI, {"inputs": "x", "model": ""}, 422),
        ("/api/show", {"model": ""}, 400),
    ],
)
def test_empty_model_name_is_refused_not_the_default(
    in_process: Callable[..., Any], route: str, body: dict[str, Any], status: int
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        response = await client.post(route, json=body)
        assert response.status_code == status, response.text
        assert "model" in check_shape(route, response)

    in_process(go)


def test_schema_blank_rule_matches_the_server() -> None:
    """The schema's "not blank" pattern and the engine's ``str.strip()`` agree on every
    character (ECMA's ``\\S`` would not: U+FEFF, U+001C-U+001F, U+0085)."""
    import re

    from lembed.server.state import TEXT_SCHEMA

    pattern = re.compile(str(TEXT_SCHEMA["pattern"]))
    for code in range(0x10000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        assert bool(pattern.search(char)) == bool(char.strip()), hex(code)


def test_integral_floats_are_integers_as_json_schema_says(in_process: Callable[..., Any]) -> None:
    """Schema-valid 8.0 is accepted where an integer is asked; 8.5 and "8" are not."""

    async def go(client: httpx.AsyncClient) -> None:
        ok = await client.post(TEI, json={"inputs": "x", "dimensions": 8.0})
        assert ok.status_code == 200 and len(ok.json()[0]) == 8
        assert (await client.post("/decode", json={"ids": [101.0, 102]})).status_code == 200
        for bad in (8.5, "8"):
            refused = await client.post(TEI, json={"inputs": "x", "dimensions": bad})
            assert refused.status_code == 422, refused.text
        spec = (await client.get("/openapi.json")).json()["components"]["schemas"]
        rows = spec["EmbeddingsRequest"]["properties"]["input"]["anyOf"][3]
        assert rows["minItems"] == 1  # [] is not a schema-valid list of token-id rows

    in_process(go)
