"""``--engine ray`` goes through the one orchestration of :func:`lembed.ingest.api.index`: it
holds the collection's writer lock for the whole run (a second writer, a real ``lembed index``
process, fails at once, before its model is looked up), and exits and reports as the local
engine does (``--max-file-mb``, exit 3 for a partial run, the ids of a local run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lembed.cli import main
from lembed.engine.model import EmbeddingModel
from lembed.errors import ValidationError
from lembed.ingest import index
from lembed.ingest.pipeline import Progress
from lembed.scale.api import RayEngine
from lembed.scale.api import index as index_on_ray
from lembed.scale.ray_guard import RaySession
from lembed.settings import Settings

pytestmark = pytest.mark.store


def second_writer(docs: Path, store: str, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    """Another ``lembed index --engine ray`` into the same collection, as its own process."""
    env = os.environ | {"LEMBED_CACHE_DIR": str(cache_dir), "LEMBED_BACKEND": "fake"}
    cmd = [sys.executable, "-m", "lembed", "index", str(docs), "-s", store, "--engine", "ray",
           "--model", "no-such-model"]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_ray_run_holds_the_writer_lock(
    local_ray: RaySession,
    cli_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"{i}.txt").write_text(f"Document number {i}, a short one.\n", encoding="utf-8")
    store = f"qdrant:{tmp_path / 'q'}"
    fake = cli_settings.model_copy(update={"backend": "fake"})
    refused: list[subprocess.CompletedProcess[str]] = []

    def mid_run(event: Progress) -> None:  # the Ray run is under way: its files are loaded
        if event.stage == "load" and not refused:
            refused.append(second_writer(docs, store, fake.cache_dir))

    report = index_on_ray([docs], store=store, settings=fake, progress=mid_run)
    assert report.documents == 3 and report.embedded == 3 and report.model == "all-minilm-l6-v2"
    [other] = refused
    assert other.returncode == 1, other.stderr
    assert f"is being written by lembed index (pid {os.getpid()})" in other.stderr
    assert "no-such-model" not in other.stderr  # refused before the model was looked up

    # the lock is gone with the run; the same CLI options, the same exit codes and report
    (docs / "huge.txt").write_text("word " * 300_000, encoding="utf-8")  # 1.5 MB
    monkeypatch.setenv("LEMBED_BACKEND", "fake")
    args = ["index", str(docs), "-s", store, "--max-file-mb", "1", "--json"]
    assert main([*args, "--engine", "ray"]) == 3
    got = json.loads(capsys.readouterr().out)
    assert (got["status"], got["exit_code"], got["model"]) == ("partial", 3, "all-minilm-l6-v2")
    assert got["unchanged"] == got["chunks"] == 3 and got["embedded"] == 0
    [skipped] = got["skipped"]
    assert skipped["failed"] and "over the 1 MB limit" in skipped["reason"]
    assert main(args) == 3  # the local engine: the same report
    local = json.loads(capsys.readouterr().out)
    keys = ("documents", "chunks", "embedded", "unchanged", "skipped", "status", "model")
    assert {k: local[k] for k in keys} == {k: got[k] for k in keys}


def test_the_ray_engine_wants_a_model_name(
    fake_model: EmbeddingModel, settings: Settings, tmp_path: Path
) -> None:
    engine = RayEngine()
    with pytest.raises(ValidationError, match="loads its model in the workers"):
        index([tmp_path], store="memory:", model=fake_model, engine=engine, settings=settings)
