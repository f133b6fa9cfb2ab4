#!/usr/bin/env python
"""`lembed index` on a folder of good files and bad ones: the run indexes the good files, lists
each bad one with its reason, exits 3 ("partial") and takes bounded time (``--max-seconds``).

The folder: N good text files, a file symlink loop, a one-line text file of --big-mb MB
(200 by default, over the default --max-file-mb), a corrupt PDF and a file of NUL bytes.

    .venv/bin/python benchmarks/index_bad_folder.py                 # onnx, 200 MB file
    .venv/bin/python benchmarks/index_bad_folder.py --backend fake --big-mb 50
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = b"local embeddings stay on the machine that made them "


def build(folder: Path, good: int, big_mb: int) -> None:
    folder.mkdir(parents=True)
    for i in range(good):
        text = f"Document {i}. " + "Embeddings map text to vectors. " * (20 + i % 30)
        (folder / f"good{i:03d}.txt").write_text(text, encoding="utf-8")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    with (folder / "huge.txt").open("wb") as fh:  # one line, no newline
        block = WORDS * (1_000_000 // len(WORDS) + 1)
        for _ in range(big_mb):
            fh.write(block[:1_000_000])
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(4096))
    (folder / "zeros.txt").write_bytes(b"\0" * 65536)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="onnx", choices=["onnx", "fake"])
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--good", type=int, default=50)
    parser.add_argument("--max-file-mb", type=float, default=None, help="default: lembed's")
    parser.add_argument(
        "--max-seconds", type=float, default=120, help="the bound on the index run's time"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lembed-bad-") as tmp:
        folder = Path(tmp) / "docs"
        t0 = time.perf_counter()
        build(folder, args.good, args.big_mb)
        built = time.perf_counter() - t0
        cmd = [sys.executable, "-m", "lembed", "index", str(folder), "--json"]
        cmd += ["--store", f"chroma:{Path(tmp) / 'db'}", "--backend", args.backend]
        if args.max_file_mb is not None:
            cmd += ["--max-file-mb", str(args.max_file_mb)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        start = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        seconds = time.perf_counter() - start
    report = json.loads(out.stdout.splitlines()[-1]) if out.stdout.strip() else {}
    failed = [s for s in report.get("skipped", []) if s["failed"]]
    print(f"folder: {args.good} good files + loop, {args.big_mb} MB one-line file, corrupt PDF, "
          f"NUL file (built in {built:.1f} s)")  # fmt: skip
    print(f"lembed index ({args.backend}): exit {out.returncode} "
          f"({report.get('status', '?')}) in {seconds:.1f} s")  # fmt: skip
    print(f"  documents {report.get('documents')}, chunks {report.get('chunks')}")
    for skipped in failed:
        print(f"  failed {Path(skipped['source']).name}: {skipped['reason']}")
    named = {Path(s["source"]).name for s in failed}
    ok = (
        out.returncode == 3
        and report.get("documents") == args.good
        and named == {"loop.txt", "huge.txt", "corrupt.pdf", "zeros.txt"}
        and all(s["reason"] for s in failed)
        and seconds < args.max_seconds
    )
    print(f"  {'PASS' if ok else 'FAIL'} (exit 3, {args.good} documents, the 4 bad files "
          f"listed with reasons, under {args.max_seconds:.0f} s)")  # fmt: skip
    if not ok:
        print(out.stderr[-3000:], file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
