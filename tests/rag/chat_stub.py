"""A loopback HTTP server that speaks the streaming chat protocols of OpenAI
(``/v1/chat/completions``, server-sent events) and Ollama (``/api/chat``, JSON lines).

No OpenAI or Ollama server can run here, so the HTTP generators are tested against this
stand-in: real sockets, real streaming, the wire formats of the two APIs' documentation.
It answers with the words of ``reply`` one event at a time and records every request;
with ``hold`` it sends the first word, then waits for ``release`` before the rest (to prove
a client shows text while the answer is still coming).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ChatStub:
    def __init__(self, reply: str, status: int = 200, hold: bool = False) -> None:
        self.reply = reply
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self.hold = hold
        self.release = threading.Event()
        self.finished = threading.Event()


@contextmanager
def chat_stub(reply: str, status: int = 200, hold: bool = False) -> Iterator[ChatStub]:
    stub = ChatStub(reply, status, hold)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.requests.append(
                {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
            )
            if stub.status != 200:
                self._send(stub.status, "application/json")
                self.wfile.write(json.dumps({"error": {"message": "model not found"}}).encode())
                return
            words = [w + " " for w in stub.reply.split()]
            if self.path == "/v1/chat/completions":
                self._send(200, "text/event-stream")
                for n, word in enumerate(words):
                    if n == 1 and stub.hold:
                        stub.release.wait(60)
                    event = {"choices": [{"index": 0, "delta": {"content": word}}]}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                stub.finished.set()
            elif self.path == "/api/chat":
                self._send(200, "application/x-ndjson")
                for word in words:
                    event = {"message": {"role": "assistant", "content": word}, "done": False}
                    self.wfile.write((json.dumps(event) + "\n").encode())
                    self.wfile.flush()
                self.wfile.write(
                    b'{"message": {"role": "assistant", "content": ""}, "done": true}\n'
                )
            else:
                self._send(404, "application/json")
                self.wfile.write(b'{"error": "not found"}')

        def _send(self, status: int, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Connection", "close")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
