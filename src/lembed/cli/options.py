"""Options several commands share, with help texts derived from the registries (so adding
a backend updates every command's ``--help``)."""

from __future__ import annotations

from typing import Annotated

import typer

from lembed.runtime import registry

Backend = Annotated[str | None, typer.Option(help=registry.choices())]
Backends = Annotated[
    list[str] | None,
    typer.Option(
        "--backend",
        "-b",
        help=f"{registry.choices(sweep=True)}; repeat to sweep (default: the configured backend)",
    ),
]
