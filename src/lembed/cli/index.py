"""``lembed index`` / ``search`` / ``collections``: folders of documents into a vector store.

Progress goes to stderr (a rich bar on a terminal, plain lines otherwise); results go to
stdout (``--json`` for JSON Lines).

``lembed index`` exit codes: 0 every file indexed (or unchanged); 1 an error stopped the run;
2 usage error (a bad option, a path that does not exist); 3 partial: some files failed
(unreadable, too large, binary, broken) and are listed, the rest was indexed; 4 nothing
was indexed (no readable document). Types lembed does not read (images, ...) and empty
files are listed as skipped but are not failures.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lembed.cli.options import Backend
from lembed.errors import ValidationError
from lembed.ingest.loaders import MAX_FILE_MB
from lembed.settings import Settings
from lembed.stores import DEFAULT_COLLECTION, DEFAULT_STORE, store_uris

if TYPE_CHECKING:
    from lembed.ingest.engine import Engine
    from lembed.ingest.pipeline import IndexReport

StoreOpt = Annotated[
    str,
    typer.Option(
        "--store",
        "-s",
        help=store_uris(),
    ),
]
CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="collection name")]
FilterOpt = Annotated[
    list[str] | None, typer.Option("--filter", "-f", help="metadata key=value (repeatable)")
]
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL, EXIT_NOTHING = 0, 1, 2, 3, 4
STATUS = {EXIT_OK: "ok", EXIT_PARTIAL: "partial", EXIT_NOTHING: "nothing indexed"}
CollectionModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="default: the collection's model")
]


def parse_filter(items: list[str] | None) -> dict[str, str | int | float | bool]:
    """``key=value`` pairs; values that look like booleans or numbers become them."""
    where: dict[str, str | int | float | bool] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--filter wants key=value, not {item!r}", param="filter")
        value: str | int | float | bool = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for cast in (int, float):
                try:
                    value = cast(raw)
                    break
                except ValueError:
                    continue
        where[key.strip()] = value
    return where


def check_paths(paths: list[Path]) -> None:
    """Exit 2 (usage) on a path that does not exist, before anything is loaded."""
    missing = [p for p in paths if not os.path.lexists(p)]
    for path in missing:
        print(f"error: {path}: no such file or directory", file=sys.stderr)
    if missing:
        raise typer.Exit(EXIT_USAGE)


def exit_code(report: IndexReport) -> int:
    """0 all indexed, 3 partial (some files failed), 4 nothing indexed."""
    if report.documents == 0:
        return EXIT_NOTHING
    return EXIT_PARTIAL if any(s.failed for s in report.skipped) else EXIT_OK


def index_engine(
    engine: str,
    backend: str | None,
    device: str | None,
    address: str | None,
    workers: int,
    gpus_per_worker: float,
) -> Engine:
    """The execution engine ``--engine`` names (Ray's is imported only when asked for)."""
    from lembed.ingest.engine import LocalEngine

    if engine == "local":
        return LocalEngine(backend=backend, device=device)
    if engine != "ray":
        raise ValidationError(f"--engine must be local or ray, not {engine!r}", param="engine")
    from lembed.scale.api import RayEngine
    from lembed.scale.ray_index import RayOptions

    ray = RayOptions(address=address, workers=workers, gpus_per_worker=gpus_per_worker)
    return RayEngine(ray, backend=backend, device=device)


def index(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="files and folders to index")],
    store: StoreOpt = DEFAULT_STORE,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    model: Annotated[str | None, typer.Option("--model", "-m", help="model name or path")] = None,
    backend: Backend = None,
    chunk_tokens: Annotated[
        int | None, typer.Option(help="tokens per chunk (default: the model's window)")
    ] = None,
    overlap: Annotated[
        int | None, typer.Option(help="tokens shared by neighbouring chunks (default 1/8)")
    ] = None,
    prune: Annotated[
        bool, typer.Option(help="remove chunks of files under PATHS that no longer exist")
    ] = False,
    boilerplate: Annotated[
        float, typer.Option(help="drop lines repeated on more than this share of pages")
    ] = 0.3,
    text_field: Annotated[str, typer.Option(help="text field of JSON Lines records")] = "text",
    batch: Annotated[int, typer.Option(help="chunks per embed-and-write batch")] = 256,
    max_file_mb: Annotated[
        float,
        typer.Option(help="skip (and list) files larger than this; 0 for no limit", min=0),
    ] = MAX_FILE_MB,
    quantization: Annotated[
        str, typer.Option(help="none, int8 or binary (Qdrant stores only)")
    ] = "none",
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    device: Annotated[
        str | None, typer.Option(help="auto, cpu or cuda (default: LEMBED_DEVICE, auto)")
    ] = None,
    engine: Annotated[str, typer.Option(help="local (this process) or ray")] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="ray: auto, ray://HOST:10001 or HOST:6379 (default: start a local Ray)"),
    ] = None,
    workers: Annotated[int, typer.Option(help="ray: embedding actors, one model each")] = 1,
    gpus_per_worker: Annotated[float, typer.Option(help="ray: GPUs per actor")] = 0.0,
) -> None:
    """Index files and folders: load, strip boilerplate, chunk, embed what is new, store.

    Exit codes: 0 ok, 1 error, 2 usage (e.g. no such path), 3 partial (some files failed
    and are listed), 4 nothing indexed.
    """
    from lembed.cli.index_view import ProgressView, print_report, report_json
    from lembed.ingest.api import index as run_index

    settings: Settings = ctx.obj
    check_paths(paths)
    if device not in (None, "auto", "cpu", "cuda"):
        raise ValidationError(f"--device must be auto, cpu or cuda, not {device!r}")
    runner = index_engine(engine, backend, device, address, workers, gpus_per_worker)
    with ProgressView() as view:  # the lock is taken before the model is loaded
        report = run_index(
            paths,
            store=store,
            collection=collection,
            model=model,
            chunk_tokens=chunk_tokens,
            overlap=overlap,
            prune=prune,
            boilerplate_share=boilerplate,
            text_field=text_field,
            batch_size=batch,
            quantization=quantization,
            settings=settings,
            progress=view.update,
            max_file_mb=max_file_mb or None,
            engine=runner,
        )
    code = exit_code(report)
    if as_json:
        row = report_json(report, store, collection, report.model)
        row.update(status=STATUS[code], exit_code=code)
        sys.stdout.write(json.dumps(row) + "\n")
    else:
        print_report(report, store, collection, report.model)
        if code != EXIT_OK:
            failed = sum(s.failed for s in report.skipped)
            why = f"{failed} file(s) failed" if code == EXIT_PARTIAL else "no readable document"
            print(f"{STATUS[code]}: {why} (exit {code})", file=sys.stderr)
    if code != EXIT_OK:
        raise typer.Exit(code)


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="what to look for")],
    k: Annotated[int, typer.Option("-k", help="number of hits")] = 10,
    filters: FilterOpt = None,
    store: StoreOpt = DEFAULT_STORE,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    model: CollectionModelOpt = None,
    backend: Backend = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines output")] = False,
) -> None:
    """Search a collection: the query is embedded as a query (with the model's prefix)."""
    from lembed.engine.load import load_model
    from lembed.ingest.api import collections as list_collections
    from lembed.ingest.api import search as run_search

    settings: Settings = ctx.obj
    where = parse_filter(filters)
    name = model
    if name is None:
        info = {c.name: c for c in list_collections(store)}.get(collection)
        name = info.model if info else None
    loaded = load_model(name, backend=backend, settings=settings)
    hits = run_search(
        query, store=store, collection=collection, model=loaded, k=k, where=where or None
    )
    for rank, hit in enumerate(hits, start=1):
        row: dict[str, Any] = {
            "rank": rank,
            "score": round(hit.score, 6),
            "id": hit.id,
            "source": hit.metadata.get("source"),
            "text": hit.text,
            "metadata": hit.metadata,
        }
        if as_json:
            sys.stdout.write(json.dumps(row) + "\n")
            continue
        where_from = str(hit.metadata.get("source", "?"))
        if "page" in hit.metadata:
            where_from += f" (page {hit.metadata['page']})"
        snippet = " ".join(hit.text.split())
        snippet = snippet if len(snippet) <= 160 else snippet[:157] + "..."
        sys.stdout.write(f"{rank:>2}. {hit.score:.4f}  {where_from}\n    {snippet}\n")
    if not hits and not as_json:
        print("no hits", file=sys.stderr)


def collections(
    store: StoreOpt = DEFAULT_STORE,
    drop: Annotated[str | None, typer.Option(help="delete this collection")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines output")] = False,
) -> None:
    """List the collections of a store (name, chunks, dimensions, model), or drop one."""
    from lembed.ingest.api import collections as list_collections
    from lembed.ingest.api import drop as drop_collection

    if drop is not None:
        if not drop_collection(drop, store):
            raise ValidationError(f"no collection {drop!r} in {store}", param="drop")
        print(f"dropped {drop}", file=sys.stderr)
        return
    found = list_collections(store)
    if found and not as_json:
        sys.stdout.write("NAME\tCHUNKS\tDIM\tMODEL\n")
    for info in found:
        if as_json:
            row = {"name": info.name, "count": info.count, "dim": info.dim, "model": info.model}
            sys.stdout.write(json.dumps(row) + "\n")
        else:
            sys.stdout.write(f"{info.name}\t{info.count}\t{info.dim}\t{info.model or '-'}\n")


def register(app: typer.Typer) -> None:
    app.command()(index)
    app.command()(search)
    app.command()(collections)
