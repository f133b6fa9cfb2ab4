"""``lembed bench``: throughput, latency and MFU of the local engine or of a running server."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lembed.cli.options import Backends
from lembed.errors import ValidationError
from lembed.settings import Settings

if TYPE_CHECKING:
    from lembed.engine.model import EmbeddingModel


def _texts(path: Path | None, count: int) -> list[str]:
    from lembed.evaluate.bench import builtin_texts

    if path is None:
        return builtin_texts(count)
    try:
        lines = [t for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}") from exc
    if not lines:
        raise ValidationError(f"{path} holds no texts")
    return lines


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _query_call(model: EmbeddingModel) -> Callable[[str], object]:
    return lambda text: model.embed([text], input_type="query")


def markdown(doc: dict[str, Any]) -> str:
    lines = [f"# bench: {doc['target']}", ""]
    if doc.get("peak_gflops"):
        lines += [f"float32 GEMM peak (numpy BLAS, measured): {doc['peak_gflops']:.1f} GFLOP/s", ""]
    lines += [
        "| target | batch | embeddings/s | tokens/s | GFLOP/s | MFU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in doc["runs"]:
        for r in run["batches"]:
            mfu = r.get("mfu")
            lines.append(
                f"| {run['name']} | {r['batch_size']} | {r['embeddings_per_s']:,.1f} | "
                f"{_fmt(r.get('tokens_per_s'), ',.0f')} | {_fmt(r.get('gflops'), '.1f')} | "
                f"{'-' if mfu is None else f'{100 * mfu:.1f} %'} |"
            )
    lines += ["", "| target | single-text latency p50 | p99 | calls |", "|---|---:|---:|---:|"]
    for run in doc["runs"]:
        lat = run["latency"]
        lines.append(
            f"| {run['name']} | {lat['p50_ms']:.1f} ms | {lat['p99_ms']:.1f} ms | {lat['n']} |"
        )
    return "\n".join(lines) + "\n"


def bench(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", "-m", help="model name or path")] = None,
    backend: Backends = None,
    batch_size: Annotated[
        list[int] | None, typer.Option("--batch-size", help="texts per call; repeat")
    ] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input", "-i", help="texts to embed, one per line")
    ] = None,
    texts: Annotated[int, typer.Option(help="how many built-in texts (12-200 words)")] = 256,
    seconds: Annotated[float, typer.Option(help="time limit of each measurement")] = 10.0,
    max_calls: Annotated[int, typer.Option(help="most calls in the latency loop")] = 200,
    peak: Annotated[bool, typer.Option(help="measure the GEMM peak for MFU")] = True,
    url: Annotated[
        str | None, typer.Option(help="benchmark a running server instead (loopback)")
    ] = None,
    dialect: Annotated[str, typer.Option(help="ollama, openai or tei (with --url)")] = "ollama",
    requests: Annotated[int, typer.Option(help="with --url: most requests per batch size")] = 200,
    timeout: Annotated[float, typer.Option(help="with --url: seconds per request")] = 30.0,
    allow_remote: Annotated[
        bool, typer.Option(help="with --url: allow a host that is not loopback")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Embeddings/s, tokens/s and MFU per backend and batch size; single-text latency."""
    from lembed.evaluate import bench as b

    settings: Settings = ctx.obj
    corpus = _texts(input_file, texts)
    sizes = batch_size or [1, 8, 32]
    if seconds <= 0 or max_calls < 1 or requests < 1:
        raise ValidationError("--seconds, --max-calls and --requests must be positive")
    queries = [t for t in corpus if len(t.split()) <= 24] or corpus
    doc: dict[str, Any] = {"runs": []}
    if url is not None:
        if dialect not in b.DIALECTS:
            raise ValidationError(f"--dialect must be one of {', '.join(b.DIALECTS)}")
        base = b.check_loopback(url, allow_remote)
        client = b.RemoteEmbedder(base, dialect, model, timeout)
        try:
            limits = b.Limits(max_seconds=seconds, max_items=requests)
            batches = b.bench_remote(client, corpus, sizes, limits)
            latency = b.bench_latency(client, queries, limits)
        finally:
            client.close()
        doc["target"] = f"{base} ({dialect})"
        doc["runs"].append({"name": dialect, "batches": batches, "latency": latency})
    else:
        from lembed.engine.load import load_model
        from lembed.evaluate.retrieval import BACKENDS

        default = "onnx-int8" if settings.quantize == "int8" else settings.backend
        chosen = backend or [default]
        for name in chosen:
            if name not in BACKENDS:
                raise ValidationError(f"backend must be one of {', '.join(BACKENDS)}, not {name!r}")
        doc["peak_gflops"] = b.gemm_peak_gflops() if peak else None
        for name in chosen:
            kind, quant = BACKENDS[name]
            loaded = load_model(model, backend=kind, quantize=quant, settings=settings)
            limits = b.Limits(max_seconds=seconds, max_items=max_calls)
            batches = b.bench_batches(
                loaded, corpus, sizes, b.Limits(seconds, 10_000), doc["peak_gflops"]
            )
            latency = b.bench_latency(_query_call(loaded), queries, limits)
            doc["target"] = f"{loaded.name}, {len(corpus)} texts"
            doc["runs"].append({"name": name, "batches": batches, "latency": latency})
    sys.stdout.write(json.dumps(doc) + "\n" if as_json else markdown(doc))


def register(app: typer.Typer) -> None:
    app.command()(bench)
