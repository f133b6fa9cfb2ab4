"""uvicorn's HTTP protocol with a header read timeout.

uvicorn (0.54) times out idle keep-alive connections (``timeout_keep_alive``) but has no
limit on how long a client may take to send a request's headers: a connection that sends
``GET / HTTP/1.1\\r\\nHost: x\\r\\n`` and then nothing is held forever (slowloris). This
protocol closes a connection whose request headers are not complete ``header_timeout``
seconds after its first byte (or after it opened); a request whose headers arrived is
never cut, however long its body or its answer takes.

It also turns Nagle's algorithm off on every TCP connection (:func:`no_delay`): uvicorn
writes a response's headers and its body in two writes, and with Nagle on the body waits
for the client's delayed ACK.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

DEFAULT_HEADER_TIMEOUT = 10.0


def _base() -> type[Any]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:  # httptools is optional for uvicorn: fall back to h11
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


def header_timeout_protocol(seconds: float = DEFAULT_HEADER_TIMEOUT) -> type[asyncio.Protocol]:
    """A uvicorn HTTP protocol class (for ``uvicorn.Config(http=...)``) that closes
    connections whose request headers take longer than ``seconds``."""
    base = _base()

    class HeaderTimeoutProtocol(base):  # type: ignore[misc, valid-type]
        header_timeout = seconds

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._header_timer: asyncio.TimerHandle | None = None

        def _waiting_for_headers(self) -> bool:
            cycle = self.cycle
            return cycle is None or bool(cycle.response_complete)

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(self.header_timeout, self._expire)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expire(self) -> None:
            self._header_timer = None
            if self._waiting_for_headers() and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            no_delay(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._waiting_for_headers():
                self._arm()
            super().data_received(data)
            if not self._waiting_for_headers():  # a request's headers are complete
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._disarm()  # idle keep-alive is uvicorn's timeout_keep_alive from here

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Set ``TCP_NODELAY`` on a TCP connection, so each write goes out at once.

    uvloop sets it on every connection; asyncio's own loop only where the listening socket
    was made with ``IPPROTO_TCP``, which ``socket.socket()`` (``lembed serve``'s ``bind``,
    or a caller's) is not. Without it the body of every response waited for the client's
    delayed ACK: on the asyncio loop (no uvloop installed) idle p50 48 ms instead of 4 ms,
    and ≈ 20 % fewer requests/s under 32 clients (``benchmarks/serve_ab.py``).
    """
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
