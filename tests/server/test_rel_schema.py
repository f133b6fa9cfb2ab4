"""The schema and the server agree (schemathesis ``--checks all`` classes, one test each):
what openapi.json allows is accepted, what it forbids is refused, and a request is validated
whole before a route checks what the model can do."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest

from lembed.errors import ValidationError
from lembed.server.collections import COLLECTION_PATTERN
from lembed.stores import check_collection


def _body_validator(spec: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    """A validator for components/schemas/NAME, its $refs resolved in ``spec``."""
    root = {**spec["components"]["schemas"][name], "components": spec["components"]}
    return jsonschema.Draft202012Validator(root)


async def _spec(client: httpx.AsyncClient) -> dict[str, Any]:
    spec: dict[str, Any] = (await client.get("/openapi.json")).json()
    return spec


NAMES = ["abc", "a.b", "a_b", "a-b", "a._b", "A1.b-c_d", "x" * 128, "1.2"]
BAD_NAMES = ["ab", "a..b", ".ab", "ab.", "_ab", "ab-", "a b", "äbc", "x" * 129, "", "a/b"]


@pytest.mark.parametrize("name", NAMES + BAD_NAMES)
def test_collection_pattern_is_check_collection(name: str) -> None:
    """The look-around-free pattern (with 3-128 characters) admits exactly what the stores do."""
    fits = re.fullmatch(COLLECTION_PATTERN, name) is not None and 3 <= len(name) <= 128
    try:
        check_collection(name)
        accepted = True
    except ValidationError:
        accepted = False
    assert fits == accepted == (name in NAMES)


def test_collection_names_are_refused_as_the_schema_says(
    in_process: Callable[..., Any],
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        spec = await _spec(client)
        path = spec["paths"]["/v1/collections/{name}/sources"]["get"]["parameters"][0]
        assert path["schema"]["pattern"] == COLLECTION_PATTERN
        search = spec["components"]["schemas"]["SearchRequest"]["properties"]["collection"]
        assert (search["minLength"], search["maxLength"]) == (3, 128)
        for bad in ("0", "a..b"):
            response = await client.get(f"/v1/collections/{bad}/sources")
            assert response.status_code == 400, response.text  # the OpenAI dialect's
            assert response.json()["error"]["param"] == "name"
            response = await client.post("/v1/search", json={"query": "x", "collection": bad})
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"] == "collection"

    in_process(go)


@pytest.mark.parametrize(
    "body",
    [
        {"input": ["a", "b"], "truncate": 0},  # strict: no 0 for a boolean
        {"input": ["a", "b"], "input_type": "sideways"},  # the enum
        {"input": ["a"] * 65},  # maxItems
        {"input": ["a", "b"], "dtype": "binary", "dimensions": 12},  # 8 dimensions a byte
        {"input": ["a", "b"], "model": ""},
    ],
)
def test_compare_refuses_what_its_schema_forbids(
    in_process: Callable[..., Any], body: dict[str, Any]
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        validator = _body_validator(await _spec(client), "CompareRequest")
        assert not validator.is_valid(body)
        response = await client.post("/v1/compare", json=body)
        assert response.status_code in (400, 422), response.text
        assert "error" in response.json()

    in_process(go)


def test_compare_accepts_what_its_schema_allows(in_process: Callable[..., Any]) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        validator = _body_validator(await _spec(client), "CompareRequest")
        for body in (
            {"input": ["a"]},
            {"input": ["a", "b"], "dtype": "binary", "dimensions": 16, "input_type": "query"},
            {"input": ["a", "b"], "dtype": "int8", "dimensions": 12, "truncate": False},
        ):
            assert validator.is_valid(body)
            response = await client.post("/v1/compare", json=body)
            assert response.status_code == 200, response.text

    in_process(go)


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({}, False),
        ({"model": None, "name": None}, False),
        ({"model": "0", "name": ""}, False),  # a blank name is refused, even beside a good one
        ({"model": "/etc/passwd"}, False),
        ({"name": " ~/models/x"}, False),
        ({"model": "   "}, False),
    ],
)
def test_pull_names_are_checked_as_the_schema_says(
    in_process: Callable[..., Any], body: dict[str, Any], valid: bool
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        validator = _body_validator(await _spec(client), "PullRequest")
        assert validator.is_valid(body) is valid
        response = await client.post("/api/pull", json={**body, "stream": False})
        assert response.status_code == 400, response.text  # refused before any download
        assert set(response.json()) == {"error"}

    in_process(go)


def test_pull_schema_needs_one_name(in_process: Callable[..., Any]) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        validator = _body_validator(await _spec(client), "PullRequest")
        assert validator.is_valid({"model": "all-minilm"})
        assert validator.is_valid({"name": "all-minilm", "model": None})

    in_process(go)


def test_token_ids_need_a_tokenizer_in_schema_and_server(
    in_process: Callable[..., Any],
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        validator = _body_validator(await _spec(client), "EmbeddingsRequest")
        model = (await client.get("/v1/models")).json()["data"][0]["id"]
        ids = {"model": model, "input": [[2023, 2003]]}
        assert not validator.is_valid(ids)
        response = await client.post("/v1/embeddings", json=ids)
        assert response.status_code == 400, response.text
        assert validator.is_valid({**ids, "tokenizer": model})
        response = await client.post("/v1/embeddings", json={**ids, "tokenizer": model})
        assert response.status_code == 200, response.text
        assert validator.is_valid({"model": model, "input": "text", "tokenizer": "anything"})

    in_process(go)


def test_sparse_validates_prompt_name_before_the_model_capability(
    in_process: Callable[..., Any],
) -> None:
    """The fake model has no sparse head (424), but a bad prompt_name is the client's error."""

    async def go(client: httpx.AsyncClient) -> None:
        response = await client.post("/embed_sparse", json={"inputs": "x", "prompt_name": "AAA"})
        assert response.status_code == 422, response.text
        assert response.json()["error_type"] == "validation"
        assert "prompt_name" in response.json()["error"]
        ok = await client.post("/embed_sparse", json={"inputs": "x", "prompt_name": " Query"})
        assert ok.status_code == 424, ok.text  # the lenient spelling still reaches the route

    in_process(go)


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/v1/search", {"query": "x", "k": "5"}),
        ("/v1/search", {"query": "x", "k": True}),
        ("/v1/ask", {"question": "x", "top_n": 2.5}),
    ],
)
def test_search_and_ask_are_strict(
    in_process: Callable[..., Any], route: str, body: dict[str, Any]
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        response = await client.post(route, json=body)
        assert response.status_code == 400, response.text  # the OpenAI dialect's
        assert response.json()["error"]["param"] == next(iter(set(body) - {"query", "question"}))

    in_process(go)
