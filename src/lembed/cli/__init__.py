"""The ``lembed`` command line: thin commands grouped by feature."""

from __future__ import annotations

import logging
import sys

import typer

from lembed.cli import ask, bench, embed, evaluate, index, models, serve, sizing
from lembed.errors import LembedError
from lembed.settings import Settings

app = typer.Typer(
    name="lembed",
    help="Local text embeddings: models on your machine, served over the APIs you already use.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(ctx: typer.Context) -> None:
    """Build the settings once; commands read them from the context."""
    ctx.obj = Settings()


embed.register(app)
models.register(app)
serve.register(app)
evaluate.register(app)
bench.register(app)
sizing.register(app)
index.register(app)
ask.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        app(args=argv, prog_name="lembed")  # standalone: usage errors exit 2 with a message
    except LembedError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
