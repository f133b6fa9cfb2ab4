"""The pure parts of the Ray path, without Ray: boilerplate counted in parts equals the
one-process count, loading rows, option and address checks, the guard's environment."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

import pytest

from lembed.errors import ValidationError
from lembed.ingest.clean import Boilerplate, repeated_lines
from lembed.ingest.loaders import Document, Section
from lembed.scale.ray_guard import BOOTSTRAP, check_address, guard_env, patched_env
from lembed.scale.ray_index import (
    RayOptions,
    candidates,
    is_frequent,
    load_rows,
    unit_counts,
)

LINES = ["Page 1 of 9", "ACME Corp", "Confidential", "see also", "chapter one", "the end"]


def corpus(rng: random.Random, n: int) -> list[Document]:
    docs = []
    for i in range(n):
        sections = []
        for _ in range(rng.randint(1, 3)):
            picked = [line for line in LINES if rng.random() < rng.choice([0.05, 0.3, 0.6])]
            sections.append(Section("\n".join([*picked, f"body {i} {rng.random()}"])))
        docs.append(Document(f"d{i}.txt", "text", sections))
    return docs


@pytest.mark.parametrize("seed", range(30))
def test_parts_find_the_lines_one_process_finds(seed: int) -> None:
    rng = random.Random(seed)
    docs = corpus(rng, rng.randint(0, 60))
    share = rng.choice([0.1, 0.3, 0.5, 0.9])
    whole = repeated_lines([s.text for d in docs for s in d.sections], share)
    cuts = sorted(rng.sample(range(len(docs) + 1), k=min(len(docs) + 1, 4)))
    parts = [docs[a:b] for a, b in zip([0, *cuts], [*cuts, len(docs)], strict=True)]
    found: set[str] = set().union(*(candidates(p, share) for p in parts))
    assert set(whole) <= found  # no boilerplate line is missed by the parts
    units = sum(len(d.sections) for d in docs)
    totals = sum((unit_counts(p, found) for p in parts), start=unit_counts([]))
    assert {k: n for k, n in totals.items() if is_frequent(n, units, share)} == whole
    known = Boilerplate.known(whole, units, share)
    one = Boilerplate([[s.text for s in d.sections] for d in docs], share)
    assert known.corpus == one.corpus and known.report.units == one.report.units


def test_load_rows_like_the_pipeline(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello\nworld\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "b.bin").write_bytes(b"\0")
    rows = load_rows([str(p) for p in sorted(tmp_path.iterdir())], "text", 0.3)
    assert rows["kind"] == ["doc", "info"]
    doc = pickle.loads(rows["data"][0])
    assert doc.source.endswith("a.txt") and rows["source"][0] == doc.source
    info = pickle.loads(rows["data"][1])
    assert info.documents == 1 and info.units == 1
    assert {s.reason for s in info.skipped} >= {"no text"}
    assert len(info.skipped) == 2 and info.emptied == {(tmp_path / "empty.txt").as_posix()}


def test_options_are_checked() -> None:
    RayOptions(workers=2, gpus_per_worker=0.5).check()
    for bad in (RayOptions(workers=0), RayOptions(cpus_per_worker=0), RayOptions(docs_per_batch=0)):
        with pytest.raises(ValidationError):
            bad.check()


def test_addresses() -> None:
    assert check_address(None) is None and check_address("local") is None
    assert check_address("auto") == "auto"
    assert check_address("ray://head:10001") == "ray://head:10001"
    assert check_address("10.0.0.5:6379") == "10.0.0.5:6379"
    with pytest.raises(ValidationError, match="ray://"):
        check_address("head")


def test_guard_env_and_restore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("RAY_USAGE_STATS_ENABLED", raising=False)
    home = os.environ["HOME"]
    env = guard_env(tmp_path / "home")
    assert (tmp_path / "home" / BOOTSTRAP).read_text() == "provider:\n  type: local\n"
    assert env["HOME"] == str(tmp_path / "home")
    assert env["RAY_USAGE_STATS_ENABLED"] == "0"
    assert env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
    assert env["HF_HUB_CACHE"] == str(tmp_path / "hf" / "hub")  # pinned before HOME moves
    with patched_env(env):
        assert os.environ["HOME"] == str(tmp_path / "home")
    assert os.environ["HOME"] == home and "RAY_USAGE_STATS_ENABLED" not in os.environ
