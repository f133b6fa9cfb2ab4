"""``lembed size`` and ``lembed recommend``: plan storage and pick a model before buying."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from lembed.errors import ValidationError
from lembed.settings import Settings


def size(
    ctx: typer.Context,
    vectors: Annotated[int, typer.Option("--vectors", "-n", help="how many vectors")],
    dim: Annotated[
        int | None, typer.Option(help="dimensions (default: the model's)", show_default=False)
    ] = None,
    dtype: Annotated[
        list[str] | None, typer.Option(help="float32, int8, binary; repeat (default: all)")
    ] = None,
    hnsw_m: Annotated[int, typer.Option(help="HNSW links per node (M); 0 for no index")] = 16,
    rate: Annotated[
        float | None, typer.Option(help="embeddings per second, to time the indexing")
    ] = None,
    measure: Annotated[
        bool, typer.Option(help="measure the rate here with the model on document-length texts")
    ] = False,
    model: Annotated[str | None, typer.Option("--model", "-m", help="model name or path")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Storage per dtype (raw vectors + HNSW graph) and the time to embed the corpus."""
    from lembed.evaluate.search import STORE_DTYPES
    from lembed.evaluate.sizing import size_markdown, size_report
    from lembed.models.catalog import find

    settings: Settings = ctx.obj
    if rate is not None and measure:
        raise ValidationError("give --rate or --measure, not both")
    source = "given"
    if dim is None:
        spec = find(model or settings.model)
        if spec is None:
            raise ValidationError("give --dim (the model is not in the catalog)")
        dim = spec.dim
    if measure:
        from lembed.engine.load import load_model
        from lembed.evaluate.bench import Limits, bench_batches, builtin_texts

        loaded = load_model(model, settings=settings)
        texts = builtin_texts(64, words=(120, 200))
        row = bench_batches(loaded, texts, [32], Limits(max_seconds=5.0, max_items=320))[0]
        rate = row["embeddings_per_s"]
        source = f"measured here: {loaded.name} on {loaded.backend.name}, ~160-word texts"
    doc = size_report(
        vectors,
        dim,
        tuple(dtype or STORE_DTYPES),  # type: ignore[arg-type]
        hnsw_m or None,
        rate,
        source,
    )
    sys.stdout.write(json.dumps(doc) + "\n" if as_json else size_markdown(doc))


def recommend(
    languages: Annotated[str, typer.Option(help="en or multilingual")] = "en",
    doc_tokens: Annotated[
        int | None, typer.Option(help="typical document length in tokens (whole documents)")
    ] = None,
    cpu_only: Annotated[bool, typer.Option(help="no GPU to serve with")] = False,
    ram_gb: Annotated[float | None, typer.Option(help="RAM to spare for the model, GiB")] = None,
    commercial: Annotated[bool, typer.Option(help="commercial use: no NC licenses")] = False,
    priority: Annotated[str, typer.Option(help="balanced or recall")] = "balanced",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Answer the decision questions (languages, document length, CPU, RAM) with a model."""
    from lembed.evaluate.recommend import recommend as pick

    answer = pick(
        languages=languages,
        doc_tokens=doc_tokens,
        cpu_only=cpu_only,
        ram_gb=ram_gb,
        commercial=commercial,
        priority=priority,  # type: ignore[arg-type]
    )
    spec = answer.model
    if as_json:
        doc = {
            "model": spec.name,
            "hf_id": spec.hf_id,
            "reasons": answer.reasons,
            "alternatives": answer.alternatives,
        }
        sys.stdout.write(json.dumps(doc) + "\n")
        return
    lines = [f"{spec.name}  ({spec.hf_id})", *(f"- {r}" for r in answer.reasons)]
    if answer.alternatives:
        lines.append("next best: " + ", ".join(answer.alternatives))
    lines.append(
        f"get it: lembed pull {spec.name}" if not spec.packaged else "packaged: no download"
    )
    sys.stdout.write("\n".join(lines) + "\n")


def register(app: typer.Typer) -> None:
    app.command()(size)
    app.command()(recommend)
