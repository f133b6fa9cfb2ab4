"""``lembed ask``: answer a question from an indexed collection, offline, with citations.

The answer streams to stdout as it is generated, followed by the cited sources and the
timing line ``embed X ms · search X ms · rerank X ms · generate X ms``; notes (no reranker,
a passage cut to fit) go to stderr. ``--json`` prints one JSON object instead;
``--no-generate`` prints the ranked, numbered context only.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from lembed.cli.index import (
    CollectionModelOpt,
    CollectionOpt,
    FilterOpt,
    StoreOpt,
    parse_filter,
)
from lembed.errors import ValidationError
from lembed.settings import Settings
from lembed.stores import DEFAULT_COLLECTION, DEFAULT_STORE


def _snippet(text: str, width: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="the question")],
    k: Annotated[int, typer.Option("-k", help="passages to retrieve")] = 20,
    top_n: Annotated[int, typer.Option("--top-n", "-n", help="passages to keep")] = 5,
    mode: Annotated[
        str | None,
        typer.Option(help="dense, bm25 or hybrid (default: hybrid if the BM25 index is there)"),
    ] = None,
    reranker: Annotated[
        str, typer.Option(help="cross-encoder name or folder; auto (first present) or none")
    ] = "auto",
    llm: Annotated[
        str, typer.Option(help="local, local:PATH.gguf, ollama:MODEL or openai:MODEL")
    ] = "local",
    llm_url: Annotated[
        str | None, typer.Option(help="Ollama URL or OpenAI-compatible base URL (…/v1)")
    ] = None,
    llm_key: Annotated[
        str | None, typer.Option(envvar="OPENAI_API_KEY", help="API key (openai:)")
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="most tokens in the answer")] = 256,
    filters: FilterOpt = None,
    store: StoreOpt = DEFAULT_STORE,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    model: CollectionModelOpt = None,
    backend: Annotated[str | None, typer.Option(help="onnx, torch or fake")] = None,
    generate: Annotated[
        bool, typer.Option("--generate/--no-generate", help="--no-generate: context only")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Answer a question from an indexed collection: retrieve → rerank → generate."""
    from lembed.rag.pipeline import ask as run_ask

    if mode not in (None, "dense", "bm25", "hybrid"):
        raise ValidationError(f"--mode must be dense, bm25 or hybrid, not {mode!r}")
    settings: Settings = ctx.obj
    out = sys.stdout
    streamed = False

    def show(piece: str) -> None:
        nonlocal streamed
        streamed = True
        out.write(piece)
        out.flush()

    result = run_ask(
        question,
        store=store,
        collection=collection,
        model=model,
        backend=backend,
        mode=mode,  # type: ignore[arg-type]
        k=k,
        top_n=top_n,
        reranker=reranker,
        llm=llm if generate else None,
        llm_url=llm_url,
        llm_key=llm_key,
        max_tokens=max_tokens,
        where=parse_filter(filters) or None,
        settings=settings,
        on_text=None if as_json else show,
    )
    if as_json:
        out.write(json.dumps(result.to_json()) + "\n")
        return
    if streamed:
        out.write("\n")
        out.flush()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.answer is None:
        if not result.passages:
            print("no passages found", file=sys.stderr)
        for p in result.passages:
            out.write(f"[{p.number}] {p.hit.score:.4f}  {p.source}\n    {_snippet(p.text)}\n")
    else:
        out.write("\nSources:\n")
        for p in result.passages:
            mark = "*" if p.number in result.citations else " "
            out.write(f"{mark}[{p.number}] {p.source}  ({p.hit.score:.3f})\n")
        if result.passages and not result.citations:
            out.write("  (the answer cites no passage)\n")
    reranked = result.reranker or "none"
    out.write(f"\n{result.timings.line()}  ({result.mode}, reranker {reranked})\n")


def register(app: typer.Typer) -> None:
    app.command()(ask)
