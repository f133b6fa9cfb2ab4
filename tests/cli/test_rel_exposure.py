"""The real ``lembed serve --host 0.0.0.0`` process: without a key it warns on stderr before it
serves, with one it does not. Only 127.0.0.1 is contacted (the 0.0.0.0 socket answers there)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.server.conftest import LiveServer, live_env

pytestmark = [pytest.mark.server]


def _serve_output(args: list[str], cache_dir: Path) -> tuple[str, int]:
    """Everything ``lembed serve ARGS`` printed up to a healthy start, and /health's status."""
    env = {**live_env(cache_dir), "LEMBED_BACKEND": "fake"}
    server = LiveServer(["--host", "0.0.0.0", *args], env)
    try:
        headers = {"Authorization": "Bearer sekret"} if args else {}
        status = httpx.get(server.url + "/health", headers=headers, timeout=5).status_code
    finally:
        server.stop()
    return server.output, status


def test_serve_on_all_interfaces_without_a_key_warns(cache_dir: Path) -> None:
    out, status = _serve_output([], cache_dir)
    assert status == 200
    warning = "warning: listening on 0.0.0.0 without an API key"
    assert warning in out and "--api-key" in out, out
    assert out.index(warning) < out.index("lembed serving"), out  # before it serves


def test_serve_on_all_interfaces_with_a_key_does_not_warn(cache_dir: Path) -> None:
    out, status = _serve_output(["--api-key", "sekret"], cache_dir)
    assert status == 200
    assert "lembed serving" in out and "without an API key" not in out, out
