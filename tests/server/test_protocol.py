"""A real uvicorn on loopback with lembed's HTTP protocol: partial headers time out, a bad
request (a lone surrogate) leaves the keep-alive connection serving, and connections send
at once (TCP_NODELAY) on either event loop."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.engine.pool import ModelPool
from lembed.server.app import create_app
from lembed.server.protocol import header_timeout_protocol
from tests.server.conftest import LiveServer, live_env

pytestmark = pytest.mark.server


@contextmanager
def uvicorn_server(model: EmbeddingModel, loop: str = "auto") -> Iterator[Any]:
    """uvicorn with lembed's protocol on a ``socket.socket()`` (as ``lembed serve`` binds)."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(
        create_app(ModelPool([model])),
        log_level="warning",
        access_log=False,
        http=header_timeout_protocol(0.5),
        timeout_keep_alive=5,
        lifespan="on",
        loop=loop,
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    try:
        yield srv, sock.getsockname()
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def server(fake_model: EmbeddingModel) -> Iterator[tuple[str, int]]:
    with uvicorn_server(fake_model) as (_, address):
        yield address


def closed_within(conn: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``conn`` (recv gives b""), or None if it didn't."""
    conn.settimeout(seconds)
    start = time.monotonic()
    try:
        while conn.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def request(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def read_response(conn: socket.socket) -> tuple[int, bytes]:
    conn.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        rest += conn.recv(65536)
    return int(head.split(b" ", 2)[1]), rest


@pytest.mark.parametrize(
    "partial",
    [b"", b"GET /health HTTP/1.1\r\nHost: t\r\n", b"POST /api/embed HTTP/1.1\r\nHost"],
    ids=["nothing", "headers-unfinished", "mid-header"],
)
def test_partial_headers_are_timed_out(server: tuple[str, int], partial: bytes) -> None:
    with socket.create_connection(server) as conn:
        conn.sendall(partial)
        took = closed_within(conn, 5)
    assert took is not None, "the server kept a connection with unfinished headers open"
    assert took < 3


def test_slow_headers_after_a_keep_alive_request_are_timed_out(server: tuple[str, int]) -> None:
    with socket.create_connection(server) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(conn)[0] == 200
        conn.sendall(b"GET /health HTTP/1.1\r\n")  # the next request never finishes
        assert closed_within(conn, 5) is not None


def test_a_complete_request_is_not_cut(server: tuple[str, int]) -> None:
    with socket.create_connection(server) as conn:
        for _ in range(3):  # keep-alive requests spaced past the header timeout
            conn.sendall(request("/api/embed", b'{"model": "all-minilm", "input": "hi"}'))
            status, _ = read_response(conn)
            assert status == 200
            time.sleep(0.7)


def test_a_lone_surrogate_keeps_the_connection(server: tuple[str, int]) -> None:
    bad = b'{"model": "all-minilm", "input": "a\\ud800b"}'
    good = b'{"model": "all-minilm", "input": "ab"}'
    with socket.create_connection(server) as conn:
        for body, want in ((bad, 400), (good, 200), (bad, 400), (good, 200)):
            conn.sendall(request("/api/embed", body))
            status, payload = read_response(conn)
            assert status == want, payload


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_connections_send_at_once(fake_model: EmbeddingModel, loop: str) -> None:
    """Nagle off on the server's side of each connection: asyncio's loop leaves it on for
    sockets made by ``socket.socket()``, and every response's body then waited for the
    client's delayed ACK (≈ 40 ms)."""
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    with (
        uvicorn_server(fake_model, loop) as (srv, address),
        socket.create_connection(address) as conn,
    ):
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(conn)[0] == 200
        (protocol,) = srv.server_state.connections
        sock = protocol.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_lembed_serve_times_out_partial_headers(cache_dir: Path) -> None:
    """The real ``lembed serve`` process runs with the protocol and its setting."""
    env = {**live_env(cache_dir), "LEMBED_BACKEND": "fake", "LEMBED_HEADER_TIMEOUT_S": "0.5"}
    live = LiveServer([], env)
    try:
        with socket.create_connection(("127.0.0.1", live.port)) as conn:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n")
            assert closed_within(conn, 5) is not None
    finally:
        live.stop()
