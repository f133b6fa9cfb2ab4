"""``lembed embed``: embed texts from arguments, a file or stdin."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lembed.cli.options import Backend
from lembed.errors import ValidationError
from lembed.settings import Settings


def _read_lines(path: Path | None) -> list[str]:
    if path is not None and str(path) != "-":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"cannot read {path}: {exc}") from exc
    else:
        text = sys.stdin.read()
    return [line for line in text.splitlines() if line.strip()]


def embed(
    ctx: typer.Context,
    texts: Annotated[list[str] | None, typer.Argument(help="texts to embed")] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input", "-i", help="file with one text per line ('-' for stdin)"),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="model name or path")] = None,
    input_type: Annotated[
        str, typer.Option(help="query, document or none: which prefix to apply")
    ] = "document",
    dimensions: Annotated[int | None, typer.Option(help="Matryoshka dimensions")] = None,
    dtype: Annotated[str, typer.Option(help="float32, int8, uint8, binary, ubinary")] = "float32",
    truncate: Annotated[str, typer.Option(help="right, left or error")] = "right",
    backend: Backend = None,
    quantize: Annotated[str | None, typer.Option(help="none or int8 (onnx)")] = None,
    output: Annotated[str, typer.Option("--format", "-f", help="jsonl or json")] = "jsonl",
) -> None:
    """Embed texts and print the vectors as JSON Lines (one object per text) or JSON."""
    from lembed.engine.load import load_model

    settings: Settings = ctx.obj
    if output not in ("jsonl", "json"):
        raise ValidationError(f"--format must be jsonl or json, not {output!r}")
    items = list(texts or [])
    if input_file is not None or not items:
        if input_file is None and sys.stdin.isatty():
            raise ValidationError("give texts as arguments, with -i FILE, or on stdin")
        items += _read_lines(input_file)
    loaded = load_model(model, backend=backend, quantize=quantize, settings=settings)
    result = loaded.embed(
        items,
        input_type=input_type,
        dimensions=dimensions,
        dtype=dtype,  # type: ignore[arg-type]
        truncate=truncate,  # type: ignore[arg-type]
    )
    for i in result.truncated:
        print(
            f"warning: input {i} was cut to the {loaded.max_tokens}-token window of {loaded.name}",
            file=sys.stderr,
        )
    rows: list[dict[str, Any]] = [
        {
            "index": i,
            "tokens": result.token_counts[i],
            "truncated": i in result.truncated,
            "embedding": vector.tolist(),
        }
        for i, vector in enumerate(result.vectors)
    ]
    out = sys.stdout
    if output == "json":
        doc = {
            "model": result.model,
            "dimensions": dimensions or loaded.dim,
            "dtype": dtype,
            "data": rows,
            "usage": {"prompt_tokens": result.prompt_tokens},
        }
        out.write(json.dumps(doc) + "\n")
    else:
        for row in rows:
            out.write(json.dumps({"model": result.model, **row}) + "\n")


def register(app: typer.Typer) -> None:
    app.command()(embed)
