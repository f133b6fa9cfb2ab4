"""The ``lembed`` command line: thin commands grouped by feature."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import pydantic
import typer

from lembed import __version__
from lembed.cli import ask, bench, embed, evaluate, index, local_models, models, serve, sizing
from lembed.errors import LembedError
from lembed.settings import Settings

EXAMPLES = """\b
Examples:
  lembed serve                   # Ollama, OpenAI, TEI APIs on 127.0.0.1:11434
  lembed embed "hello world"     # JSON Lines, one vector per text
  lembed index ./docs && lembed search "key rotation"
  lembed pull nomic-embed-text   # the only command that goes online
"""


def _environment() -> str:
    """The LEMBED_* variables, from the settings object itself (so the list stays true)."""
    names = ", ".join(f"LEMBED_{name.upper()}" for name in Settings.model_fields)
    return (
        f"Environment: {names}; OLLAMA_HOST (host:port for serve and ps, as Ollama reads "
        "it); HF_HOME / HF_HUB_CACHE (where models are found)."
    )


app = typer.Typer(
    name="lembed",
    help="Local text embeddings: models on your machine, served over the APIs you already use.",
    epilog=EXAMPLES + "\n\n" + _environment(),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lembed version {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-v", callback=_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Build the settings once; commands read them from the context. A bad ``LEMBED_*``
    variable is one line naming it and exit status 2 (a usage error), not a traceback."""
    try:
        ctx.obj = Settings()
    except pydantic.ValidationError as exc:
        print(f"error: {settings_problem(exc)}", file=sys.stderr)
        raise typer.Exit(2) from None


def settings_problem(exc: pydantic.ValidationError) -> str:
    """Each bad setting as ``LEMBED_NAME: what is wrong``, joined by ``; ``."""
    parts = []
    for err in exc.errors():
        name = "LEMBED_" + "_".join(str(part) for part in err["loc"]).upper()
        parts.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


embed.register(app)
models.register(app)
serve.register(app)
evaluate.register(app)
bench.register(app)
sizing.register(app)
index.register(app)
ask.register(app)
local_models.register(app)


def quiet_third_parties(args: list[str]) -> None:
    """No progress bars or chatter of other libraries in lembed's output (transformers'
    "Loading weights", bm25s' "Building index", pypdf's warnings); lembed shows its own
    progress. ``lembed pull`` keeps the hub's download bars. An explicit setting wins."""
    if "pull" not in args[:1]:
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for name in ("pypdf", "transformers", "huggingface_hub", "bm25s", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    quiet_third_parties(sys.argv[1:] if argv is None else argv)
    try:
        app(args=argv, prog_name="lembed")  # standalone: usage errors exit 2 with a message
    except LembedError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
