"""``lembed models`` and ``lembed pull``: the catalog and downloads."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from lembed.errors import LembedError
from lembed.models.catalog import CATALOG, ModelSpec
from lembed.models.resolve import resolve


def _where(name: str) -> str:
    try:
        found = resolve(name)
    except LembedError:
        return ""
    return f"{found.source}: {found.path}"


def _prompts(spec: ModelSpec) -> str:
    """The input types that change the text or the weights; "*": selects a task adapter."""
    shown = []
    for kind in spec.input_types:
        if kind == "none" or kind in (spec.query_task, spec.document_task):
            continue  # the bare model; a task already shown as query/document
        if spec.prefix(kind) or spec.task(kind):
            shown.append(f"{kind}*" if spec.task(kind) else kind)
    return ", ".join(shown) or "-"


def models(
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines output")] = False,
) -> None:
    """List the catalog, with where each model is available on this machine."""
    rows = [
        {
            "name": s.name,
            "aliases": list(s.aliases),
            "hf_id": s.hf_id,
            "dim": s.dim,
            "max_tokens": s.max_tokens,
            "pooling": s.pooling,
            "query_prefix": s.query_prefix,
            "document_prefix": s.document_prefix,
            "matryoshka_dims": list(s.matryoshka_dims),
            "matryoshka_recipe": s.matryoshka_recipe,
            "outputs": list(s.outputs),
            "prompts": {t: s.prefix(t) for t in s.input_types if t != "none"},
            "tasks": list(s.tasks),
            "license": s.license,
            "params_m": s.params_m,
            "size_mb": s.size_mb,
            "languages": s.languages,
            "available": _where(s.name),
        }
        for s in CATALOG
    ]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    cells = [
        [
            str(row["name"]),
            ", ".join(row["aliases"]),  # type: ignore[arg-type]
            str(row["dim"]),
            str(row["max_tokens"]),
            f"{row['params_m']}M",
            str(row["license"]),
            ", ".join(row["outputs"]),  # type: ignore[arg-type]
            _prompts(spec),
            ", ".join(map(str, row["matryoshka_dims"])) or "-",  # type: ignore[call-overload]
            str(row["available"]).split(":", 1)[0] or "-",
        ]
        for spec, row in zip(CATALOG, rows, strict=True)
    ]
    header = [
        "name",
        "aliases",
        "dim",
        "tokens",
        "params",
        "license",
        "outputs",
        "prompts",
        "matryoshka",
        "local",
    ]
    if not sys.stdout.isatty():  # piped: plain columns, nothing cut
        widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
        for r in [header, *cells]:
            typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*header)
    for column in table.columns:
        column.overflow = "fold"  # narrow terminals wrap cells, never cut them with "…"
    table.columns[0].no_wrap = True  # and a name stays on one line
    for r in cells:
        table.add_row(*r)
    Console().print(table)


def pull(
    name: Annotated[str, typer.Argument(help="catalog name, alias or HF id (org/name)")],
    revision: Annotated[str | None, typer.Option(help="branch, tag or commit")] = None,
) -> None:
    """Download a model from the Hugging Face hub into the local HF cache."""
    from lembed.models.pull import pull as download

    path = download(name, revision=revision)
    typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command()(models)
    app.command()(pull)
