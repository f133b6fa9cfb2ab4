#!/usr/bin/env python
"""The offline generator: load time (first, converting the GGUF; then cached) and decode
speed of SmolLM2-135M-Instruct on a RAG-sized prompt, per runtime.

``transformers`` is always measured; ``llama-cpp`` too when llama-cpp-python is installed
(``lembed[llama]``). Tokens/s counts generated tokens over the wall time of the stream
(prefill included, as a user waits for it); the time to the first piece is shown apart.

    .venv/bin/python benchmarks/rag_generate.py
    .venv/bin/python benchmarks/rag_generate.py --threads 2 --tokens 128 --rounds 3
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import tempfile
import time
from pathlib import Path

PASSAGES = [
    (
        "eiffel.md",
        "The Eiffel Tower in Paris was completed in 1889 for the World's Fair. It is "
        "330 metres tall and was the tallest man-made structure until 1930.",
    ),
    (
        "tides.md",
        "Ocean tides are caused mainly by the gravitational pull of the Moon, with a "
        "smaller contribution from the Sun; spring tides follow new and full moons.",
    ),
    (
        "coffee.md",
        "A French press needs water at about 93 degrees Celsius and four minutes of "
        "steeping before the plunger is pressed.",
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=64, help="tokens to generate")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()

    from lembed.rag.generators import LocalGenerator
    from lembed.rag.prompt import build_prompt
    from lembed.settings import Settings
    from lembed.stores.base import Hit

    hits = [Hit(s, 1.0, t, {"source": s}) for s, t in PASSAGES]
    runtimes = ["transformers"] + (["llama-cpp"] if importlib.util.find_spec("llama_cpp") else [])
    tmp = Path(tempfile.mkdtemp(prefix="lembed-gen-"))
    print("| runtime | first load s | cached load s | prompt tokens | first piece s | tokens/s |")
    print("|---|---|---|---|---|---|")
    try:
        for runtime in runtimes:
            settings = Settings(cache_dir=tmp, threads=args.threads)
            first = LocalGenerator(runtime=runtime, settings=settings)
            gen = LocalGenerator(runtime=runtime, settings=settings)
            prompt = build_prompt(
                "When was the Eiffel Tower completed?",
                hits,
                count_tokens=gen.count_tokens,
                budget=gen.context_tokens - args.tokens,
            )
            rates, firsts = [], []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                first_at = None
                pieces = []
                for piece in gen.stream(prompt.messages, max_tokens=args.tokens):
                    first_at = first_at or time.perf_counter() - t0
                    pieces.append(piece)
                elapsed = time.perf_counter() - t0
                rates.append(gen.count_tokens("".join(pieces)) / elapsed)
                firsts.append(first_at or elapsed)
            print(
                f"| {runtime} | {first.load_seconds:.1f} | {gen.load_seconds:.1f} | "
                f"{prompt.tokens} | {statistics.median(firsts):.2f} | "
                f"{statistics.median(rates):.1f} |",
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
