"""`lembed index` and `ask` print lembed's own output only: no third-party progress bars
(bm25s' "Building index"/"Split strings", tqdm bars) or warnings. Real processes: the
switches must be in place before those libraries are first imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NOISE = ("%|", "it/s]", "Building", "Split strings", "Tokenize", "Warning", "warn(")


def lembed(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEMBED_BACKEND": "fake", "HF_HUB_OFFLINE": "1"}
    for name in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY"):
        env.pop(name, None)  # what a user's shell has: nothing set
    return subprocess.run(
        [sys.executable, "-m", "lembed", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.mark.slow
def test_index_and_ask_print_no_third_party_noise(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"n{i}.md").write_text(f"# Note {i}\n\nKeys rotate every {i + 2} weeks.\n")
    store = f"chroma:{tmp_path / 'db'}"
    index = lembed("index", str(docs), "-s", store, cwd=tmp_path)
    assert index.returncode == 0, index.stderr
    ask = lembed(
        "ask",
        "how often do keys rotate?",
        "-s",
        store,
        "--no-generate",
        "--reranker",
        "none",
        cwd=tmp_path,
    )
    assert ask.returncode == 0, ask.stderr
    assert "Keys rotate" in ask.stdout
    for out in (index, ask):
        noise = [n for n in NOISE if n in out.stderr or n in out.stdout]
        assert not noise, out.stderr
