"""``lembed ask``: answer a question from an indexed collection, offline, with citations.

The answer goes to stdout (a remote generator's streams as it is written), followed by the
cited sources with comparable scores (cosine for dense, the fused score in [0, 1] for
hybrid, the reranker's) and the timing line ``load X ms · embed X ms · search X ms ·
rerank X ms · generate X ms``; notes (no reranker, a passage cut to fit, an answer that fell
back to extraction) go to stderr. ``--json`` prints one JSON object instead (with each
passage's raw dense and BM25 scores); ``--no-generate`` prints the ranked context only.

The answer is extractive (the passages' sentences closest to the question, no language
model, milliseconds) unless ``--llm`` or ``LEMBED_LLM`` names a generator: ``local``
(SmolLM2-135M, offline), ``ollama:MODEL`` (``OLLAMA_HOST``) or ``openai:MODEL``
(``OPENAI_BASE_URL``, ``OPENAI_API_KEY``).
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
from lembed.cli.options import Backend
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
        typer.Option(help="dense (default), bm25, hybrid or hybrid:W (W = dense share, 0-1)"),
    ] = None,
    reranker: Annotated[
        str, typer.Option(help="cross-encoder name or folder; auto (first present) or none")
    ] = "auto",
    llm: Annotated[
        str,
        typer.Option(
            envvar="LEMBED_LLM",
            help="extractive (no model), local (SmolLM2-135M), local:PATH.gguf, "
            "ollama:MODEL or openai:MODEL",
        ),
    ] = "extractive",
    llm_url: Annotated[
        str | None,
        typer.Option(
            help="Ollama URL or OpenAI-compatible base URL (…/v1); default OLLAMA_HOST / "
            "OPENAI_BASE_URL"
        ),
    ] = None,
    llm_key: Annotated[
        str | None, typer.Option(envvar="OPENAI_API_KEY", help="API key (openai:)")
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="most tokens in the answer")] = 256,
    filters: FilterOpt = None,
    store: StoreOpt = DEFAULT_STORE,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    model: CollectionModelOpt = None,
    backend: Backend = None,
    generate: Annotated[
        bool, typer.Option("--generate/--no-generate", help="--no-generate: context only")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Answer a question from an indexed collection: retrieve → rerank → answer.

    Example: lembed ask "How do I read a CSV file?" --llm ollama:llama3.2"""
    from lembed.rag.extractive import NOT_FOUND
    from lembed.rag.fusion import mode_label, parse_mode
    from lembed.rag.pipeline import ask as run_ask

    if mode is not None:
        parse_mode(mode)  # a clear error before any model loads
    streams = llm.split(":", 1)[0].strip().lower() in ("ollama", "openai")
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
        mode=mode,
        k=k,
        top_n=top_n,
        reranker=reranker,
        llm=llm if generate else None,
        llm_url=llm_url,
        llm_key=llm_key,
        max_tokens=max_tokens,
        where=parse_filter(filters) or None,
        settings=settings,
        on_text=show if streams and not as_json else None,
    )
    if as_json:
        out.write(json.dumps(result.to_json()) + "\n")
        return
    if streamed:
        out.write("\n")
        out.flush()
    elif result.answer is not None:
        out.write(result.answer + "\n")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    kind = result.score_kind
    if result.answer is None:
        if not result.passages:
            print("no passages found", file=sys.stderr)
        for p in result.passages:
            out.write(f"[{p.number}] {kind} {p.hit.score:.3f}  {p.source}\n")
            out.write(f"    {_snippet(p.text)}\n")
    elif result.citations:
        out.write("\nSources:\n")
        for p in result.passages:
            mark = "*" if p.number in result.citations else " "
            out.write(f"{mark}[{p.number}] {p.source}  ({kind} {p.hit.score:.3f})\n")
    elif result.passages:
        far = result.answer == NOT_FOUND
        out.write("\nClosest passages (too far from the question to quote):\n" if far else "")
        out.write("" if far else "\nThe answer cites no passage. Closest passages:\n")
        for p in result.passages[:3]:
            out.write(f" [{p.number}] {p.source}  ({kind} {p.hit.score:.3f})\n")
    reranked = result.reranker or "none"
    how = result.answer_kind or "context only"
    if result.generator and result.answer_kind != "extractive":
        how = f"{how} by {result.generator}"
    mode = mode_label(result.mode, result.weight)
    out.write(f"\n{result.timings.line()}  ({mode}, reranker {reranked}, {how})\n")


def register(app: typer.Typer) -> None:
    app.command()(ask)
