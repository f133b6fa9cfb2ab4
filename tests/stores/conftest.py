"""Store fixtures: a real ``chroma run`` server on a free loopback port, and one factory that
opens a fresh collection in any adapter (the conformance suite runs over all of them)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from lembed.stores import StoreClient, open_client

KINDS = ["memory", "chroma", "chroma-http", "qdrant", "qdrant-local"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``chroma run`` on 127.0.0.1 for the session; stop it afterwards."""
    exe = Path(sys.executable).parent / "chroma"
    binary = str(exe) if exe.exists() else shutil.which("chroma")
    if binary is None:
        pytest.fail("the chroma command is missing: pip install 'lembed[chroma]'")
    port = free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    log = (folder / "server.log").open("wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [binary, "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma run did not start: {(folder / 'server.log').read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def store_uri(kind: str, folder: Path, chroma_url: str | None) -> str:
    return {
        "memory": "memory:",
        "chroma": f"chroma:{folder / 'chroma'}",
        "chroma-http": f"chroma+{chroma_url}",
        "qdrant": f"qdrant:{folder / 'qdrant'}",
        "qdrant-local": f"qdrant+local:{folder / 'qdrant-local'}",
    }[kind]


ClientFactory = Callable[[], StoreClient]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ClientFactory]:
    """Open (and reopen) a client of ``kind``; all are closed after the test."""
    url = request.getfixturevalue("chroma_url") if kind == "chroma-http" else None
    uri = store_uri(kind, tmp_path, url)
    opened: list[StoreClient] = []

    def make() -> StoreClient:
        client = open_client(uri)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


@pytest.fixture
def collection_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"
