#!/usr/bin/env python
"""Export a full-size random-weight bge-m3 to ONNX: the fp32 graph passes protobuf's 2 GB
limit, so its weights must land in one external-data file (``model.onnx_data``).

Builds BAAI/bge-m3's architecture at its real sizes (XLM-R large: 24 layers, hidden 1024,
16 heads, vocabulary 250,002, 8,194 positions; 568 M parameters, 2.27 GB fp32) in the hub
layout under a temporary Hugging Face cache, then runs lembed's own path: ``load_model
("bge-m3", backend="onnx")`` (export, external data, the export check against torch),
and compares dense and sparse outputs with the torch backend. Prints one JSON object:
export seconds, graph and data sizes, load seconds, and the agreement.

Needs about 10 GB of RAM and a few minutes of two cores; run it under the CPU lock:

    ../shared/bin/heavy .venv/bin/python benchmarks/bge_m3_export.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bge-m3-full-") as tmp:
        root = Path(tmp)
        os.environ["HF_HUB_CACHE"] = str(root / "hub")
        os.environ["HF_HUB_OFFLINE"] = "1"
        from tests.fixtures.bge_m3 import in_hub_cache

        start = time.perf_counter()
        snap = in_hub_cache(
            root / "hub",
            hidden=args.hidden,
            layers=args.layers,
            heads=args.hidden // 64,
            vocab_size=250_002,
        )
        build_s = time.perf_counter() - start
        weights = (snap / "pytorch_model.bin").stat().st_size

        from lembed.engine.load import load_model
        from lembed.settings import Settings

        settings = Settings(cache_dir=root / "cache", threads=args.threads)
        start = time.perf_counter()
        onnx_model = load_model("bge-m3", backend="onnx", settings=settings)
        export_s = time.perf_counter() - start
        graph = Path(onnx_model.backend.graph)  # type: ignore[attr-defined]
        data = graph.with_name("model.onnx_data")
        start = time.perf_counter()
        load_model("bge-m3", backend="onnx", settings=settings)  # cached: load only
        load_s = time.perf_counter() - start

        import numpy as np

        texts = ["What is BGE M3?", "Defination of BM25 " * 20, "短い日本語の文です。"]
        torch_model = load_model("bge-m3", backend="torch", settings=settings)
        a = onnx_model.embed(texts, output=["dense", "sparse"])
        b = torch_model.embed(texts, output=["dense", "sparse"])
        assert a.sparse is not None and b.sparse is not None
        sparse_err = max(
            max(
                (abs(x.as_dict().get(k, 0.0) - y.as_dict().get(k, 0.0)) for k in x.as_dict()),
                default=0.0,
            )
            for x, y in zip(a.sparse, b.sparse, strict=True)
        )
        print(
            json.dumps(
                {
                    "layers": args.layers,
                    "hidden": args.hidden,
                    "weights_bytes": weights,
                    "build_s": round(build_s, 1),
                    "export_s": round(export_s, 1),
                    "graph_bytes": graph.stat().st_size,
                    "external_data": data.is_file(),
                    "data_bytes": data.stat().st_size if data.is_file() else 0,
                    "cached_load_s": round(load_s, 1),
                    "dense_min_cosine_onnx_vs_torch": float(
                        np.sum(a.vectors * b.vectors, axis=1).min()
                    ),
                    "sparse_max_abs_diff": sparse_err,
                }
            )
        )


if __name__ == "__main__":
    main()
