#!/usr/bin/env python
"""Fuzz every route of a live `lembed serve` with schemathesis `--checks all`.

Starts a server on a free loopback port (fake backend by default: the HTTP layer is under
test; `--backend onnx` for the real model) and runs schemathesis with every check: no 5xx,
responses that conform to their documented schema, status code, content type and headers,
``Allow`` on 405, schema-valid requests accepted (``positive_data_acceptance``) and
schema-violating ones refused (``negative_data_rejection``), and ``--max-response-time``
against hangs.

The committed openapi.json is model-independent. A few limits depend on the loaded model, and
the server enforces them: ``dimensions`` up to its size, token ids below its vocabulary size,
``"tokenizer"`` naming it. The run therefore fuzzes a copy of openapi.json with those limits
filled in from the live server (``specialise``; ``/api/show`` gives them), and nothing else
changed. One expectation is per model: a model without a sparse head answers every
``/embed_sparse`` with TEI's 424, so that status counts as the accepted answer there.

    .venv/bin/python benchmarks/fuzz.py --backend onnx --max-time 300   # the acceptance run
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
FUZZ_CHECKS = "all"
# positive_data_acceptance's default statuses, plus TEI's 424 (model without a sparse head)
_SPARSE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "424", "429", "5xx"]
# request bodies whose "model" is not the embedding model (a name to pull, the reranker)
_NOT_EMBEDDING_MODELS = {"PullRequest", "RerankRequest", "TEIRerankRequest"}
COLLECTION = "fuzz-docs"


def model_facts(url: str, api_key: str) -> dict[str, Any]:
    """The limits of the server's default model that the committed schema cannot hold."""
    from lembed.engine.load import load_model
    from lembed.settings import Settings

    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        name = client.get("/v1/models").raise_for_status().json()["data"][0]["id"]
        info = client.post("/api/show", json={"model": name}).raise_for_status().json()
        sparse = client.post("/embed_sparse", json={"inputs": "probe"}).status_code
    # the same model's tokenizer, here (the fake backend loads no weights)
    tokenizer = load_model(name, backend="fake", settings=Settings()).tokenizer
    added = tokenizer._tok.get_added_tokens_decoder()
    return {
        "collection": COLLECTION,
        "name": name,
        "dim": int(info["model_info"]["embedding_length"]),
        "vocab": tokenizer.vocab_size,
        "special_ids": sorted(i for i, token in added.items() if token.special),
        "sparse": sparse == 200,
    }


def _bound_integers(node: Any, key: str, value: Any) -> None:
    """Set ``key`` (maximum, not) on every integer schema under ``node``."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            node[key] = value
        for child in node.values():
            _bound_integers(child, key, value)
    elif isinstance(node, list):
        for child in node:
            _bound_integers(child, key, value)


def _only(node: dict[str, Any], values: list[str]) -> None:
    """Narrow a string (or nullable string) schema to ``values``."""
    for branch in node.get("anyOf", [node]):
        if branch.get("type") == "string":
            branch.clear()
            branch.update(type="string", enum=values)


def specialise(schema: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """openapi.json with the loaded model's limits (dimensions ≤ its size, token ids below its
    vocabulary, token-id inputs' "tokenizer" naming it) and the served names: ``model`` is the
    served model, collections the fuzz collection (other names are 404s, which would keep the
    fuzzer out of the routes' logic; the negative phase still sends them)."""
    out = copy.deepcopy(schema)
    operations = [op for ops in out["paths"].values() for op in ops.values()]
    for param in (p for op in operations for p in op.get("parameters", [])):
        if param["in"] == "path" and param["schema"].get("description") == "collection name":
            _only(param["schema"], [facts["collection"]])
    for name, body in out["components"]["schemas"].items():
        if not name.endswith("Request"):
            continue
        props = body.get("properties", {})
        if "model" in props and name not in _NOT_EMBEDDING_MODELS:
            _only(props["model"], [facts["name"]])
        if "collection" in props:
            _only(props["collection"], [facts["collection"]])
        if "dimensions" in props:
            _bound_integers(props["dimensions"], "maximum", facts["dim"])
        if name == "DecodeRequest":
            _bound_integers(props["ids"], "maximum", facts["vocab"] - 1)
        if name == "EmbeddingsRequest":  # ids of text: decoded without special tokens
            _bound_integers(props["input"], "maximum", facts["vocab"] - 1)
            _bound_integers(props["input"], "not", {"enum": facts["special_ids"]})
            (ids_branch,) = [b for b in body["anyOf"] if "tokenizer" in b.get("required", [])]
            ids_branch["properties"]["tokenizer"]["enum"] = [facts["name"]]
    return out


def prepare(url: str, api_key: str, folder: Path) -> tuple[Path, Path, dict[str, Any]]:
    """(schema, schemathesis.toml, facts) for fuzzing the server at ``url``."""
    facts = model_facts(url, api_key)
    schema = specialise(json.loads((ROOT / "openapi.json").read_text()), facts)
    schema_path = folder / "openapi.json"
    schema_path.write_text(json.dumps(schema))
    config = folder / "schemathesis.toml"
    lines = []
    if not facts["sparse"]:
        lines = [
            "[[operations]]",
            'include-path = "/embed_sparse"',
            f"checks.positive_data_acceptance.expected-statuses = {json.dumps(_SPARSE_STATUSES)}",
        ]
    config.write_text("".join(line + "\n" for line in lines))
    return schema_path, config, facts


def index_collection(folder: Path, env: dict[str, str]) -> str:
    """A small collection (``COLLECTION``) for the search, ask and collection routes; the
    ``--store`` URI that holds it."""
    docs = folder / "docs"
    docs.mkdir()
    topics = ["vectors", "chunking", "prefixes", "reranking", "quantisation", "stores"]
    for i, topic in enumerate(topics):
        text = f"# Notes on {topic}\n\n" + f"Local embeddings and {topic}. Sentence {i}. " * 30
        (docs / f"{topic}.md").write_text(text, encoding="utf-8")
    store = f"chroma:{folder / 'db'}"
    cmd = [sys.executable, "-m", "lembed", "index", str(docs), "--store", store]
    subprocess.run([*cmd, "--collection", COLLECTION], env=env, check=True, capture_output=True)
    return store


def drain(server: Any, keep: int = 200) -> deque[str]:
    """Read the server's log as it comes (an unread pipe fills and blocks the server); the
    last ``keep`` lines."""
    lines: deque[str] = deque(maxlen=keep)
    threading.Thread(target=lines.extend, args=(server.proc.stdout,), daemon=True).start()
    return lines


def schemathesis_command(
    url: str,
    *,
    schema: Path,
    config: Path,
    max_examples: int,
    api_key: str,
    max_time: int | None = None,
    checks: str = FUZZ_CHECKS,
    workers: int = 1,
) -> list[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    return [
        str(exe),
        "--config-file",
        str(config),
        "run",
        str(schema),
        "--url",
        url,
        "--checks",
        checks,
        "--max-examples",
        str(max_examples),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-response-time",
        "10",
        "--workers",
        str(workers),
        "--header",
        f"Authorization: Bearer {api_key}",
        "--no-color",
        *(["--max-time", str(max_time)] if max_time else []),
    ]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.server.conftest import LiveServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=400)
    parser.add_argument("--backend", default="fake", choices=["fake", "onnx"])
    parser.add_argument(
        "--max-time", type=int, default=None, help="seconds; fuzzing repeats until spent"
    )
    parser.add_argument("--checks", default=FUZZ_CHECKS, help="schemathesis --checks")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="schemathesis workers (threads: 2 can hit CPython 3.11's ast race in hypothesis)",
    )
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LEMBED_BACKEND": args.backend}
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lembed-fuzz-") as tmp:
        store = index_collection(Path(tmp), env)
        server = LiveServer(["--api-key", "fuzz-key", "--store", store], env)
        log = drain(server)
        try:
            schema, config, facts = prepare(server.url, "fuzz-key", Path(tmp))
            print(f"fuzz: {args.backend} backend, model facts {facts}", flush=True)
            cmd = schemathesis_command(
                server.url,
                schema=schema,
                config=config,
                max_examples=args.max_examples,
                api_key="fuzz-key",
                max_time=args.max_time,
                checks=args.checks,
                workers=args.workers,
            )
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
            health = httpx.get(server.url + "/health").status_code
        finally:
            server.stop()
    print(out.stdout[-20000:])
    if out.returncode:
        print("server log (last lines):", *log, sep="\n")
    generated = re.search(r"(\d+) generated", out.stdout)
    print(
        f"fuzz: {generated.group(1) if generated else '?'} generated requests in "
        f"{time.monotonic() - start:.0f} s, exit {out.returncode}, /health after: {health}"
    )
    sys.exit(out.returncode)


if __name__ == "__main__":
    main()
