"""Schemathesis against the committed openapi.json of a live `lembed serve` (short run).

The long run (thousands of requests) is ``benchmarks/fuzz.py``; both use the checks in
``FUZZ_CHECKS``.
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
from fuzz import schemathesis_command  # type: ignore[import-not-found]  # noqa: E402

sys.path.pop(0)

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_fuzz_all_routes_no_5xx_and_schema_conformant(cache_dir: Path) -> None:
    env = {**live_env(cache_dir), "LEMBED_BACKEND": "fake"}
    server = LiveServer(["--api-key", "fuzz-key"], env)
    try:
        cmd = schemathesis_command(server.url, max_examples=12, api_key="fuzz-key")
        out = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(os.environ)
        )
    finally:
        server.stop()
    assert out.returncode == 0, out.stdout[-3000:]
    paths = json.loads((ROOT / "openapi.json").read_text())["paths"]
    operations = sum(len(methods) for methods in paths.values())
    assert f"Selected: {operations}/{operations}" in out.stdout, out.stdout[-3000:]
    assert " generated, " in out.stdout
