"""``lembed eval retrieval`` and ``lembed eval sts``: quality on standard data sets."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from lembed.cli.options import Backends
from lembed.errors import ValidationError
from lembed.settings import Settings

eval_app = typer.Typer(
    help="Measure quality: retrieval (BEIR folders) and STS; report table, JSON and plot.",
    no_args_is_help=True,
)

Dimensions = Annotated[
    list[int] | None, typer.Option("--dimensions", "-d", help="Matryoshka dimensions; repeat")
]
Model = Annotated[str | None, typer.Option("--model", "-m", help="model name or path")]
Out = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="folder for report.md, report.json, quality_vs_bytes.png"),
]
AsJson = Annotated[bool, typer.Option("--json", help="print the JSON report, not Markdown")]


def _default_backend(settings: Settings) -> str:
    return (
        "onnx-int8"
        if settings.backend == "onnx" and settings.quantize == "int8"
        else settings.backend
    )


def _dims(dimensions: list[int] | None) -> list[int | None]:
    return list(dimensions) if dimensions else [None]


def _loader(settings: Settings, model: str | None) -> Any:
    from lembed.engine.load import load_model

    def load(backend: str, quantize: str) -> Any:
        return load_model(model, backend=backend, quantize=quantize, settings=settings)

    return load


@contextmanager
def _progress() -> Iterator[Any]:
    """A rich progress bar on stderr when it is a terminal; otherwise nothing."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done)

        yield update


def _emit(doc: dict[str, Any], out: Path | None, as_json: bool) -> None:
    from lembed.evaluate import report

    if out is not None:
        for path in report.write(doc, out):
            print(f"wrote {path}", file=sys.stderr)
    sys.stdout.write(json.dumps(doc) + "\n" if as_json else report.markdown(doc))


def retrieval(
    ctx: typer.Context,
    dataset: Annotated[Path, typer.Option(help="BEIR folder: corpus, queries.jsonl, qrels/")],
    model: Model = None,
    split: Annotated[str, typer.Option(help="qrels split to evaluate")] = "test",
    backend: Backends = None,
    dimensions: Dimensions = None,
    dtype: Annotated[
        list[str] | None,
        typer.Option(
            help="stored dtype: float32, int8, int8+rescore, binary, binary+rescore; repeat"
        ),
    ] = None,
    prefixes: Annotated[
        list[str] | None, typer.Option(help="on or off: apply the model's prefixes; repeat")
    ] = None,
    queries: Annotated[
        int | None, typer.Option(help="evaluate only the first N queries (quick runs)")
    ] = None,
    docs: Annotated[
        int | None,
        typer.Option(help="with --queries: the judged docs plus N random others"),
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed of --docs")] = 0,
    store: Annotated[
        str | None,
        typer.Option(
            help="search through this vector store (URI, e.g. memory: or qdrant:DIR) "
            "instead of exact in-memory search"
        ),
    ] = None,
    mode: Annotated[
        list[str] | None,
        typer.Option(
            "--mode",
            help="dense, bm25, hybrid or hybrid:W (W = dense share, 0-1); repeat to sweep "
            "(default: dense)",
        ),
    ] = None,
    through_index: Annotated[
        bool,
        typer.Option(
            "--through-index",
            help="run the real `lembed index` pipeline (chunking, cleaning, BM25 sidecar) into "
            "a scratch collection, search it as `lembed ask` does; a document scores as its "
            "best chunk",
        ),
    ] = False,
    index_store: Annotated[
        str | None,
        typer.Option(help="with --through-index: the store URI (default: a scratch qdrant+local)"),
    ] = None,
    cache: Annotated[
        bool, typer.Option("--cache/--no-cache", help="keep embeddings under the cache dir")
    ] = True,
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Retrieval quality (NDCG@10, Recall@1/5/10/100, MRR@10) on a BEIR-format folder.

    Example: lembed eval retrieval --dataset DIR --mode dense --mode bm25 --mode hybrid"""
    from lembed.evaluate.datasets import load_beir, sample
    from lembed.evaluate.report import reference_score
    from lembed.evaluate.retrieval import (
        Variant,
        evaluate_retrieval,
        exact_searcher,
        report_doc,
        sweep,
    )
    from lembed.evaluate.search import Searcher

    settings: Settings = ctx.obj
    switch = {"on": True, "off": False}
    for p in prefixes or []:
        if p not in switch:
            raise ValidationError(f"--prefixes must be on or off, not {p!r}")
    variants = sweep(
        backend or [_default_backend(settings)],
        _dims(dimensions),
        dtype or ["float32"],
        [switch[p] for p in prefixes or ["on"]],
        mode or ["dense"],
    )
    data = load_beir(dataset, split)
    sampled = queries is not None
    if sampled:
        data = sample(data, queries or 0, docs if docs is not None else 0, seed)
    elif docs is not None:
        raise ValidationError("--docs needs --queries")
    if through_index:
        from lembed.evaluate.through_index import evaluate_through_index

        if store is not None:
            raise ValidationError("--through-index searches its own store: use --index-store")
        with _progress() as progress:
            result = evaluate_through_index(
                data,
                [v for v in variants if v.dimensions is None and v.dtype == "float32"],
                _loader(settings, model),
                store=index_store,
                settings=settings,
                progress=progress,
            )
        reference = None if sampled else reference_score(dataset, result.hf_id, "ndcg_at_10")
        _emit(report_doc(result, reference), out, as_json)
        return
    searcher: Callable[[Any, Variant], Searcher] = exact_searcher
    if store is not None:
        from lembed.evaluate.store_search import store_searcher

        searcher = store_searcher(store)
    with _progress() as progress:
        result = evaluate_retrieval(
            data,
            variants,
            _loader(settings, model),
            searcher=searcher,
            progress=progress,
            cache=settings.cache_dir / "eval-embeddings" if cache else None,
        )
    if store is not None:
        result.notes.append(f"searched through the store {store} (a scratch collection)")
    reference = None if sampled else reference_score(dataset, result.hf_id, "ndcg_at_10")
    _emit(report_doc(result, reference), out, as_json)


def sts(
    ctx: typer.Context,
    dataset: Annotated[Path, typer.Option(help="STS Benchmark folder or .tsv/.csv file")],
    model: Model = None,
    backend: Backends = None,
    dimensions: Dimensions = None,
    dtype: Annotated[list[str] | None, typer.Option(help="float32, int8 or binary; repeat")] = None,
    input_type: Annotated[
        str, typer.Option(help="prefix for both sentences: none (MTEB default), query, document")
    ] = "none",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """STS: Spearman correlation of cosine similarity with the gold scores."""
    from lembed.engine.model import INPUT_TYPES
    from lembed.evaluate.datasets import load_sts
    from lembed.evaluate.report import reference_score
    from lembed.evaluate.sts import evaluate_sts
    from lembed.models.catalog import find

    settings: Settings = ctx.obj
    if input_type not in INPUT_TYPES:
        raise ValidationError(f"--input-type must be one of {', '.join(INPUT_TYPES)}")
    data = load_sts(dataset)
    spec = find(model or settings.model)
    reference = reference_score(dataset, spec.hf_id, "cosine_spearman") if spec else None
    with _progress() as progress:
        doc = evaluate_sts(
            data,
            _loader(settings, model),
            backends=backend or [_default_backend(settings)],
            dimensions=_dims(dimensions),
            dtypes=dtype or ["float32"],
            input_type=input_type,
            reference=reference,
            progress=progress,
        )
    _emit(doc, out, as_json)


def render(
    report_json: Annotated[Path, typer.Argument(help="a report.json written by --out or --json")],
    out: Out = None,
) -> None:
    """Render a saved JSON report again as Markdown (and, with --out, the plot)."""
    from lembed.evaluate.report import add_deltas

    try:
        doc = add_deltas(json.loads(report_json.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"cannot read a report from {report_json}: {exc}") from exc
    _emit(doc, out, as_json=False)


def register(app: typer.Typer) -> None:
    eval_app.command()(retrieval)
    eval_app.command()(sts)
    eval_app.command()(render)
    app.add_typer(eval_app, name="eval")
