"""Scale fixtures: one guarded local Ray (2 CPUs) for the whole package, started by lembed's
own :func:`lembed.scale.ray_guard.ray_session` and checked to be gone afterwards."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lembed.scale.ray_guard import RaySession, ray_session
from tests.ingest.conftest import scifact_docs, write_pdf

FOOTER = "Copyright 2024 ACME Journal of Things. All rights reserved."


def ray_processes() -> list[str]:
    """Ray's own processes (raylet, gcs_server, workers) still alive on this machine."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    me = os.getpid()
    return [
        line
        for line in out.splitlines()[1:]
        if ("raylet" in line or "gcs_server" in line or "ray::" in line)
        and "<defunct>" not in line  # exited, not yet reaped: nothing runs
        and int(line.split()[0]) != me
    ]


@pytest.fixture(scope="session")
def local_ray() -> Iterator[RaySession]:
    before = set(ray_processes())
    home = os.environ.get("HOME")
    with ray_session(num_cpus=2, object_store_mb=256) as session:
        assert session.started and session.home is not None
        yield session
    assert os.environ.get("HOME") == home
    assert session.home is not None and not session.home.exists()
    assert set(ray_processes()) <= before, "Ray processes left running"


def make_corpus(folder: Path, short: int = 280, long: int = 12) -> Path:
    """A few hundred documents: short ones (one chunk each), long SciFact abstracts (several
    chunks at 64 tokens), every one with the same footer (corpus-wide boilerplate), a PDF
    with a running header and page numbers, a Markdown file, an empty and an unreadable one."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = scifact_docs(short + long)
    for i, doc in enumerate(docs[:short]):
        body = doc["title"]
        (folder / f"s{i:03d}.txt").write_text(f"{body}\n{FOOTER}\n", encoding="utf-8")
    for i, doc in enumerate(docs[short:]):
        body = f"{doc['title']}\n\n{doc['text'][:1200]}\n{FOOTER}\n"
        (folder / f"l{i:02d}.txt").write_text(body, encoding="utf-8")
    (folder / "notes.md").write_text(
        "# Notes\n\nA heading, then a paragraph.\n\n## More\n\n- one\n- two\n", encoding="utf-8"
    )
    (folder / "empty.txt").write_text("   \n", encoding="utf-8")
    (folder / "blob.bin").write_bytes(b"\0\1\2")
    sub = folder / "reports"
    sub.mkdir(exist_ok=True)
    write_pdf(sub / "report.pdf", [d["text"][:500] for d in scifact_docs(4, skip=400)])
    return folder
