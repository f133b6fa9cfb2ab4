#!/usr/bin/env python
"""Throughput, latency and model-FLOPs utilisation: sentence-transformers vs lembed onnx.

One run measures, interleaved over ``--rounds`` rounds (medians reported):

* tokens/s and embeddings/s of sentence-transformers (torch, the baseline), lembed onnx fp32
  and lembed onnx int8 on (a) short sentences from the STS Benchmark and (b) the first
  SciFact passages (title + text), end to end (tokenisation and pooling included);
* single-sentence latency (p50 / p99 over many different short sentences);
* each engine's ratio to sentence-transformers measured in the same run;
* model-FLOPs utilisation against a GEMM peak measured here twice: numpy's BLAS on large
  square matrices, and ONNX Runtime's own MatMul on the model's layer shapes (the ceiling
  of the onnx backend);
* cosine agreement of each lembed engine with sentence-transformers on the same texts;
* with ``--engines onnx openvino openvino-bf16``: the precision modes' throughput ratio and
  min cosine against lembed onnx fp32 in the same run (``× onnx``, ``cos min onnx``).
  ``openvino-bf16`` is what users get (bf16 only where the CPU has AMX-BF16, else fp32);
  ``openvino-bf16-forced`` runs bf16 even where it does not pay, to measure it.

Run from the repository root::

    .venv/bin/python benchmarks/throughput.py                 # table
    .venv/bin/python benchmarks/throughput.py --json          # JSON on stdout
    .venv/bin/python benchmarks/throughput.py --rounds 5 --passages 300 --out bench.json
    .venv/bin/python benchmarks/throughput.py --threads 1 --clock cpu   # on a busy machine

``--clock cpu`` times process CPU seconds instead of wall seconds: with ``--threads 1`` that
is each engine's own work, hardly moved by other processes competing for the cores (with
more threads it also counts spin-waiting). Wall time is the default and what users see.

Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE to dodge old OpenBLAS bugs; they
slow numpy's GEMM. This process removes both before numpy is imported (only here; the
values found are reported) so that the numpy peak is the real one; threadpoolctl reports
which BLAS kernel ran.
"""

from __future__ import annotations

import os

OPENBLAS_ENV = {
    k: os.environ.pop(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ
}

import argparse  # noqa: E402
import csv  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
BASELINE = "sentence-transformers"
FP32 = "lembed onnx"  # the fp32 engine the precision modes are measured against


# -- workloads --------------------------------------------------------------------------


def sts_sentences(n: int, split: str = "test") -> list[str]:
    """The first ``n`` distinct sentences of an STS Benchmark split (sentence1, sentence2)."""
    path = DATA / "stsbenchmark" / f"sts-{split}.normalized.tsv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    sentences = [s for r in rows for s in (r[1], r[2]) if s.strip()]
    if split == "test" and n > len(set(sentences)):  # test alone has ~2,700 distinct
        sentences += sts_sentences(n, "dev")
    return list(dict.fromkeys(sentences))[:n]


def scifact_passages(n: int) -> list[str]:
    """The first ``n`` SciFact corpus documents as ``title + " " + text``."""
    out = []
    with gzip.open(DATA / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            out.append(f"{doc.get('title', '')} {doc.get('text', '')}".strip())
            if len(out) == n:
                break
    return out


# -- engines ----------------------------------------------------------------------------


@dataclass
class Engine:
    name: str
    embed: Callable[[list[str]], np.ndarray]  # texts -> unit vectors [n, d]
    load_seconds: float
    info: dict[str, Any] = field(default_factory=dict)


def sentence_transformers_engine(model_dir: Path, batch_size: int, threads: int) -> Engine:
    import torch
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    st = SentenceTransformer(str(model_dir), device="cpu")
    load = time.perf_counter() - start

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(
            st.encode(texts, batch_size=batch_size, normalize_embeddings=True), dtype=np.float32
        )

    info = {"batch_size": batch_size, "torch_threads": torch.get_num_threads()}
    return Engine(BASELINE, embed, load, info)


def lembed_engine(name: str, settings: Any, force_bf16: bool = False, **load_args: Any) -> Engine:
    from lembed.engine.load import load_model

    load_model(settings=settings, **load_args)  # builds/caches the graph: not timed
    start = time.perf_counter()
    model = load_model(settings=settings, **load_args)
    if force_bf16:  # bf16 even where it does not pay (measurement only)
        from lembed.engine.model import EmbeddingModel
        from lembed.runtime.backends.openvino import OpenVinoBackend

        graph = model.backend.graph  # type: ignore[attr-defined]
        forced = OpenVinoBackend(graph, threads=settings.threads, precision="bf16", detect=False)
        model = EmbeddingModel(
            model.resolved,
            model.tokenizer,
            forced,
            batch_tokens=model.batch_tokens,
            max_batch_size=model.max_batch_size,
        )
    load = time.perf_counter() - start

    def embed(texts: list[str]) -> np.ndarray:
        return model.embed(texts, input_type="none").vectors

    info = {
        "backend": model.backend.name,
        "batch_tokens": model.batch_tokens,
        "max_batch_size": model.max_batch_size,
        **{k: v for k, v in load_args.items() if isinstance(v, str)},
    }
    if hasattr(model.backend, "precision"):
        info["precision"] = model.backend.precision  # what ran, after any fallback
    graph = getattr(model.backend, "graph", None)
    if graph is not None:
        info["graph"] = str(graph)
    return Engine(name, embed, load, info)


# -- model FLOPs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Transformer:
    """The shape of an encoder, from its ``config.json``."""

    layers: int
    hidden: int
    intermediate: int

    @classmethod
    def from_folder(cls, folder: Path) -> Transformer:
        cfg = json.loads((folder / "config.json").read_text())
        hidden = int(cfg.get("hidden_size") or cfg["d_model"])
        layers = int(cfg.get("num_hidden_layers") or cfg["n_layers"])
        return cls(layers, hidden, int(cfg.get("intermediate_size") or 4 * hidden))

    def flops_per_token(self, seq: int) -> float:
        """Forward FLOPs of one token in a sequence of ``seq`` tokens.

        Per layer: 2 x the weights of Q, K, V, the output projection (4 h^2) and the FFN
        (2 h i), plus attention scores QK^T and the weighted sum of V (2 x 2 x seq x h).
        Embedding lookups, layer norms, softmax and GELU are left out (all O(h) per token).
        """
        h, i = self.hidden, self.intermediate
        return self.layers * (2 * (4 * h * h + 2 * h * i) + 4 * seq * h)

    def flops(self, lengths: Sequence[int]) -> float:
        """FLOPs of the useful (unpadded) tokens of texts of the given lengths."""
        return float(sum(n * self.flops_per_token(n) for n in lengths))


Clock = Callable[[], float]


def numpy_gemm_peak(threads: int, clock: Clock, seconds: float = 1.5) -> dict[str, Any]:
    """Best fp32 GEMM GFLOP/s of numpy's BLAS on square matrices."""
    from threadpoolctl import threadpool_info, threadpool_limits

    rng = np.random.default_rng(0)
    best: dict[str, float] = {}
    with threadpool_limits(limits=threads or None, user_api="blas"):
        for n in (1024, 2048, 3072):
            a = rng.standard_normal((n, n), dtype=np.float32)
            b = rng.standard_normal((n, n), dtype=np.float32)
            a @ b
            times = []
            stop = time.perf_counter() + seconds
            while time.perf_counter() < stop or len(times) < 3:
                t = clock()
                a @ b
                times.append(clock() - t)
            best[f"{n}x{n}x{n}"] = 2 * n**3 / min(times) / 1e9
        blas = [
            {k: p.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    return {"gflops": max(best.values()), "by_shape": best, "blas": blas}


def ort_matmul_peak(
    shape: Transformer, threads: int, clock: Clock, seconds: float = 1.5
) -> dict[str, Any]:
    """Best fp32 GFLOP/s of ONNX Runtime's MatMul (constant weights) on the model's shapes."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    rows = 4096
    h, i = shape.hidden, shape.intermediate
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, n in ((h, h), (h, i), (i, h), (1024, 1024)):
            w = numpy_helper.from_array(rng.standard_normal((k, n), dtype=np.float32), "w")
            graph = helper.make_graph(
                [helper.make_node("MatMul", ["x", "w"], ["y"])],
                "gemm",
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["m", k])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["m", n])],
                [w],
            )
            path = Path(tmp) / f"mm{k}x{n}.onnx"
            onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            x = rng.standard_normal((rows, k), dtype=np.float32)
            session.run(None, {"x": x})
            times = []
            stop = time.perf_counter() + seconds / 4
            while time.perf_counter() < stop or len(times) < 3:
                t = clock()
                session.run(None, {"x": x})
                times.append(clock() - t)
            best[f"{rows}x{k}x{n}"] = 2 * rows * k * n / min(times) / 1e9
    return {"gflops": max(best.values()), "by_shape": best}


# -- measurement ------------------------------------------------------------------------


def pause() -> None:
    """Let the previous engine's spinning worker threads go idle before the next timing."""
    time.sleep(0.3)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from lembed.engine.load import load_model
    from lembed.settings import Settings

    overrides = {
        k: v
        for k, v in (
            ("batch_tokens", args.batch_tokens),
            ("max_batch_size", args.max_batch_size),
            ("threads", args.threads),
        )
        if v is not None
    }
    if args.cache_dir:
        overrides["cache_dir"] = Path(args.cache_dir)
    settings = Settings(**overrides)
    reference = load_model(backend="fake", settings=settings)
    model_dir = reference.resolved.path
    shape = Transformer.from_folder(model_dir)
    threads = settings.threads

    log(f"workloads: {args.sentences} STS sentences, {args.passages} SciFact passages")
    workloads = {
        "sentences": sts_sentences(args.sentences),
        "passages": scifact_passages(args.passages),
    }
    lengths = {k: reference.encode(v, input_type="none").token_counts for k, v in workloads.items()}

    log("loading engines")
    engines = [sentence_transformers_engine(model_dir, args.st_batch_size, threads)]
    for name in args.engines:
        if name.startswith("openvino"):
            bf16 = settings.model_copy(update={"precision": "bf16" if "bf16" in name else "fp32"})
            engines.append(
                lembed_engine(
                    f"lembed {name}", bf16, force_bf16=name.endswith("forced"), backend="openvino"
                )
            )
            continue
        quant = "int8" if name.endswith("int8") else "none"
        engines.append(lembed_engine(f"lembed {name}", settings, backend="onnx", quantize=quant))

    log("warming up")
    for engine in engines:
        for texts in workloads.values():
            engine.embed(texts[:64])

    seconds: dict[str, dict[str, list[float]]] = {
        w: {e.name: [] for e in engines} for w in workloads
    }
    latency: dict[str, list[float]] = {e.name: [] for e in engines}
    vectors: dict[str, dict[str, np.ndarray]] = {w: {} for w in workloads}
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    singles = [s for s in workloads["sentences"] if len(s.split()) <= 12]
    rng = np.random.default_rng(0)
    for r in range(args.rounds):
        order = engines if r % 2 == 0 else engines[::-1]  # alternate to cancel drift
        for wname, texts in workloads.items():
            for engine in order:
                pause()
                start = clock()
                out = engine.embed(texts)
                seconds[wname][engine.name].append(clock() - start)
                vectors[wname][engine.name] = out
                took = seconds[wname][engine.name][-1]
                log(f"round {r + 1} {wname:9} {engine.name:24} {took:.2f}s")
        picks = rng.choice(len(singles), size=args.latency_n, replace=False)
        for engine in order:
            pause()
            for j in picks:
                start = clock()
                engine.embed([singles[j]])
                latency[engine.name].append(clock() - start)

    log("measuring the GEMM peak")
    peaks = {
        "numpy": numpy_gemm_peak(threads, clock),
        "onnxruntime": ort_matmul_peak(shape, threads, clock),
    }

    results: dict[str, Any] = {}
    for wname, texts in workloads.items():
        n_tokens = sum(lengths[wname])
        flops = shape.flops(lengths[wname])
        base = statistics.median(seconds[wname][BASELINE])
        rows = {}
        for engine in engines:
            times = seconds[wname][engine.name]
            med = statistics.median(times)
            ratios = [b / t for b, t in zip(seconds[wname][BASELINE], times, strict=True)]
            row = {
                "seconds": times,
                "median_seconds": med,
                "tokens_per_s": n_tokens / med,
                "embeddings_per_s": len(texts) / med,
                "speedup_vs_baseline": base / med,
                "speedup_per_round": ratios,
                "gflops": flops / med / 1e9,
                "mfu_numpy": flops / med / 1e9 / peaks["numpy"]["gflops"],
                "mfu_onnxruntime": flops / med / 1e9 / peaks["onnxruntime"]["gflops"],
            }
            if engine.name != BASELINE:
                cos = (vectors[wname][engine.name] * vectors[wname][BASELINE]).sum(axis=1)
                row["cosine_vs_baseline"] = {"mean": float(cos.mean()), "min": float(cos.min())}
            if FP32 in seconds[wname] and engine.name not in (BASELINE, FP32):
                fp32 = seconds[wname][FP32]
                cos = (vectors[wname][engine.name] * vectors[wname][FP32]).sum(axis=1)
                row["speedup_vs_onnx"] = statistics.median(fp32) / med
                row["speedup_vs_onnx_per_round"] = [b / t for b, t in zip(fp32, times, strict=True)]
                row["cosine_min_vs_onnx"] = float(cos.min())
            rows[engine.name] = row
        results[wname] = {
            "texts": len(texts),
            "tokens": n_tokens,
            "mean_tokens": n_tokens / len(texts),
            "mflop_per_token": flops / n_tokens / 1e6,
            "engines": rows,
        }
    base_p50 = percentile(latency[BASELINE], 50)
    results["latency"] = {
        "texts": len(singles),
        "samples_per_engine": args.latency_n * args.rounds,
        "engines": {
            name: {
                "p50_ms": 1e3 * percentile(v, 50),
                "p99_ms": 1e3 * percentile(v, 99),
                "speedup_vs_baseline": base_p50 / percentile(v, 50),
            }
            for name, v in latency.items()
        },
    }
    return {
        "machine": machine(threads),
        "openblas_env_removed": OPENBLAS_ENV,
        "model": {"name": reference.name, "path": str(model_dir), **shape.__dict__},
        "settings": {k: str(v) for k, v in settings.model_dump().items()},
        "rounds": args.rounds,
        "clock": args.clock,
        "engines": {e.name: {"load_seconds": e.load_seconds, **e.info} for e in engines},
        "gemm_peak": peaks,
        "results": results,
    }


def machine(threads: int) -> dict[str, Any]:
    import onnxruntime

    cpu = ""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not cpu:
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = sorted(
        flags & {"avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16"}
    )
    return {
        "cpu": cpu or platform.processor(),
        "isa": isa,
        "cores": os.cpu_count(),
        "threads_setting": threads,
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
    }


# -- output -----------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def table(report: dict[str, Any]) -> str:
    peaks = report["gemm_peak"]
    m = report["machine"]
    blas = ", ".join(f"{b['internal_api']}/{b['architecture']}" for b in peaks["numpy"]["blas"])
    lines = [
        f"{report['model']['name']} on {m['cpu']} ({m['cores']} cores, {', '.join(m['isa'])}), "
        f"onnxruntime {m['onnxruntime']}, {report['rounds']} rounds, medians, "
        f"{report['clock']} clock, threads={m['threads_setting'] or 'all cores'}",
        f"GEMM peak fp32: numpy {peaks['numpy']['gflops']:.1f} GFLOP/s "
        f"({blas}); "
        f"onnxruntime MatMul {peaks['onnxruntime']['gflops']:.1f} GFLOP/s",
        "",
    ]
    head = (
        f"{'workload':10} {'engine':24} {'tok/s':>8} {'emb/s':>8} {'× base':>7} "
        f"{'GFLOP/s':>8} {'MFU np':>7} {'MFU ort':>7} {'cos mean':>9} {'cos min':>8} "
        f"{'× onnx':>7} {'cos min onnx':>12}"
    )
    lines += [head, "-" * len(head)]
    for wname in ("sentences", "passages"):
        w = report["results"][wname]
        for name, row in w["engines"].items():
            cos = row.get("cosine_vs_baseline")
            vs = (
                f" {row['speedup_vs_onnx']:6.2f}× {row['cosine_min_vs_onnx']:12.6f}"
                if "speedup_vs_onnx" in row
                else f" {'—':>7} {'—':>12}"
            )
            lines.append(
                f"{wname:10} {name:24} {row['tokens_per_s']:8.0f} {row['embeddings_per_s']:8.1f} "
                f"{row['speedup_vs_baseline']:6.2f}× {row['gflops']:8.1f} "
                f"{row['mfu_numpy']:6.0%} {row['mfu_onnxruntime']:7.0%} "
                + (f"{cos['mean']:9.5f} {cos['min']:8.5f}" if cos else f"{'—':>9} {'—':>8}")
                + vs
            )
        lines.append(
            f"{'':10} ({w['texts']} texts, {w['mean_tokens']:.1f} tokens each on average, "
            f"{w['mflop_per_token']:.2f} MFLOP/token)"
        )
    lat = report["results"]["latency"]
    lines += ["", f"single short sentence ({lat['samples_per_engine']} calls per engine):"]
    for name, row in lat["engines"].items():
        lines.append(
            f"  {name:24} p50 {row['p50_ms']:7.2f} ms   p99 {row['p99_ms']:7.2f} ms   "
            f"{row['speedup_vs_baseline']:5.2f}× base"
        )
    lines += ["", "load time (graph already cached):"]
    for name, e in report["engines"].items():
        lines.append(f"  {name:24} {e['load_seconds']:.2f} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--sentences", type=int, default=2000, help="STS sentences (default 2000)")
    p.add_argument("--passages", type=int, default=1000, help="SciFact passages (default 1000)")
    p.add_argument("--latency-n", type=int, default=100, help="single-sentence calls per round")
    p.add_argument("--st-batch-size", type=int, default=32, help="sentence-transformers batch")
    p.add_argument("--batch-tokens", type=int, help="lembed token budget per forward pass")
    p.add_argument("--max-batch-size", type=int, help="lembed most inputs per forward pass")
    p.add_argument("--threads", type=int, help="inference threads for every engine (0 = cores)")
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall seconds (default) or process CPU seconds (use with --threads 1)",
    )
    p.add_argument("--cache-dir", help="lembed cache dir (default: the user cache)")
    p.add_argument(
        "--engines",
        nargs="+",
        default=["onnx", "onnx-int8"],
        choices=["onnx", "onnx-int8", "openvino", "openvino-bf16", "openvino-bf16-forced"],
        help="lembed engines besides the sentence-transformers baseline",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--out", help="also write the JSON report to this file")
    args = p.parse_args(argv)
    report = run(args)
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text if args.json else table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
