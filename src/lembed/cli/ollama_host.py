"""``OLLAMA_HOST``, read as Ollama reads it: ``host``, ``host:port``, ``:port``, with or
without ``http://``; the port defaults to 11434. ``LEMBED_HOST`` / ``LEMBED_PORT`` and the
command's own ``--host`` / ``--port`` win over it."""

from __future__ import annotations

from urllib.parse import urlsplit

from lembed.errors import ValidationError

OLLAMA_PORT = 11434


def parse_ollama_host(value: str, default_port: int = OLLAMA_PORT) -> tuple[str, int]:
    """``(host, port)`` of an ``OLLAMA_HOST`` value."""
    raw = value.strip()
    if not raw:
        return "127.0.0.1", default_port
    if "://" not in raw:
        raw = "http://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"OLLAMA_HOST={value!r} is not host[:port]: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise ValidationError(f"OLLAMA_HOST={value!r}: only http is served")
    return parts.hostname or "127.0.0.1", port if port is not None else default_port


def serve_address(
    host: str | None, port: int | None, environ: dict[str, str]
) -> tuple[str | None, int | None]:
    """``--host`` / ``--port`` for ``lembed serve``, from ``OLLAMA_HOST`` where neither the
    options nor ``LEMBED_HOST`` / ``LEMBED_PORT`` say."""
    value = environ.get("OLLAMA_HOST")
    if value is None:
        return host, port
    env_host, env_port = parse_ollama_host(value)
    if host is None and "LEMBED_HOST" not in environ:
        host = env_host
    if port is None and "LEMBED_PORT" not in environ:
        port = env_port
    return host, port
