"""Schemathesis against the committed openapi.json of a live `lembed serve` (short run).

The long run (thousands of requests, the onnx backend) is ``benchmarks/fuzz.py``; both run
``--checks all`` on openapi.json specialised to the served model (``fuzz.specialise``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import LiveServer, live_env

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fuzz import (  # type: ignore[import-not-found]  # noqa: E402
    drain,
    index_collection,
    prepare,
    schemathesis_command,
    specialise,
)

sys.path.pop(0)

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_fuzz_all_routes_no_5xx_and_schema_conformant(cache_dir: Path, tmp_path: Path) -> None:
    env = {**live_env(cache_dir), "LEMBED_BACKEND": "fake"}
    store = index_collection(tmp_path, env)
    server = LiveServer(["--api-key", "fuzz-key", "--store", store], env)
    log = drain(server)
    try:
        schema, config, facts = prepare(server.url, "fuzz-key", tmp_path)
        cmd = schemathesis_command(
            server.url, schema=schema, config=config, max_examples=12, api_key="fuzz-key"
        )
        out = subprocess.run(
            cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=dict(os.environ)
        )
    finally:
        server.stop()
    assert out.returncode == 0, out.stdout[-3000:] + "\n".join(log)
    paths = json.loads((ROOT / "openapi.json").read_text())["paths"]
    operations = sum(len(methods) for methods in paths.values())
    assert f"Selected: {operations}/{operations}" in out.stdout, out.stdout[-3000:]
    assert " generated, " in out.stdout
    assert facts["dim"] > 0 and facts["vocab"] > max(facts["special_ids"])


def test_specialised_schema_holds_the_model_limits() -> None:
    facts = {
        "collection": "docs",
        "name": "m",
        "dim": 8,
        "vocab": 100,
        "special_ids": [0, 1],
        "sparse": False,
    }
    spec = specialise(json.loads((ROOT / "openapi.json").read_text()), facts)
    schemas = spec["components"]["schemas"]
    dims = schemas["lembed__server__tei__EmbedRequest"]["properties"]["dimensions"]
    assert {"type": "integer", "minimum": 1, "maximum": 8} in dims["anyOf"]
    ids = schemas["DecodeRequest"]["properties"]["ids"]["anyOf"][0]["items"]
    assert ids["maximum"] == 99
    branch = next(b for b in schemas["EmbeddingsRequest"]["anyOf"] if "required" in b)
    assert branch["properties"]["tokenizer"]["enum"] == ["m"]
    assert schemas["SearchRequest"]["properties"]["collection"]["enum"] == ["docs"]
    assert schemas["PullRequest"]["properties"]["model"]["anyOf"][0].get("enum") is None
