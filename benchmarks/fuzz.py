#!/usr/bin/env python
"""Fuzz every route of a live `lembed serve` with schemathesis, from the committed openapi.json.

Starts a server on a free loopback port (fake backend by default: the HTTP layer is under
test; `--backend onnx` for the real model), then runs schemathesis with the checks in
``FUZZ_CHECKS``: no 5xx, responses that conform to their documented schema, status code,
content type and headers (including ``Allow`` on 405), and ``--max-response-time`` against
hangs. Two stricter checks are left out on purpose: ``positive_data_acceptance`` (limits that
depend on the loaded model — ``dimensions`` up to its size, token ids within its vocabulary,
its prompt names — are enforced by the server but cannot be written into a model-independent
schema) and ``negative_data_rejection`` (pydantic's lax mode accepts ``0``/``1`` for booleans,
as most JSON APIs do).

    .venv/bin/python benchmarks/fuzz.py --max-examples 100 --max-time 300   # ≥ 5,000 requests
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUZZ_CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance,unsupported_method,"
    "missing_required_header,ignored_auth"
)


def schemathesis_command(
    url: str, *, max_examples: int, api_key: str, max_time: int | None = None
) -> list[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    return [
        str(exe),
        "run",
        str(ROOT / "openapi.json"),
        "--url",
        url,
        "--checks",
        FUZZ_CHECKS,
        "--max-examples",
        str(max_examples),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-response-time",
        "10",
        "--workers",
        "2",
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
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LEMBED_BACKEND": args.backend}
    server = LiveServer(["--api-key", "fuzz-key"], env)
    start = time.monotonic()
    try:
        cmd = schemathesis_command(
            server.url, max_examples=args.max_examples, api_key="fuzz-key", max_time=args.max_time
        )
        out = subprocess.run(cmd, capture_output=True, text=True)
        health = __import__("httpx").get(server.url + "/health").status_code
    finally:
        server.stop()
    tail = out.stdout[-2500:]
    print(tail)
    generated = re.search(r"(\d+) generated", out.stdout)
    print(
        f"fuzz: {generated.group(1) if generated else '?'} generated requests in "
        f"{time.monotonic() - start:.0f} s, exit {out.returncode}, /health after: {health}"
    )
    sys.exit(out.returncode)


if __name__ == "__main__":
    main()
