"""``lembed index`` / ``search`` / ``collections``, in-process (fake backend, real stores) and,
for the kill-and-resume check, as a real subprocess killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lembed.cli import main
from lembed.settings import Settings
from lembed.stores import open_client
from tests.ingest.conftest import scifact_docs

pytestmark = pytest.mark.store


def corpus(folder: Path, n: int, skip: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, doc in enumerate(scifact_docs(n, skip=skip)):
        (folder / f"d{i:03d}.txt").write_text(f"{doc['title']}\n{doc['text']}", encoding="utf-8")
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def fake_cli(cli_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LEMBED_BACKEND", "fake")
    return cli_settings


@pytest.mark.parametrize("scheme", ["chroma", "qdrant"])
def test_index_search_collections(
    scheme: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_cli: Settings
) -> None:
    docs = corpus(tmp_path / "docs", 15)
    (docs / "skip.bin").write_bytes(b"\0\1")
    store = f"{scheme}:{tmp_path / 'db'}"
    rc, out, err = run(capsys, "index", str(docs), "--store", store, "-c", "papers", "--json")
    assert rc == 0, err
    report = json.loads(out)
    assert report["documents"] == 15 and report["embedded"] == report["chunks"] > 15
    skip = (docs / "skip.bin").as_posix()
    assert report["skipped"] == [{"source": skip, "reason": ANY_TYPE, "failed": False}]
    assert report["status"] == "ok" and report["exit_code"] == 0
    assert report["tokens_per_second"] > 0
    assert "embedded" in err  # plain progress lines when stderr is not a terminal

    rc, out, _ = run(capsys, "index", str(docs), "--store", store, "-c", "papers")
    assert rc == 0 and "0 embedded" in out and "tokens/s" in out

    title = scifact_docs(4)[3]["title"]
    source = (docs / "d003.txt").resolve().as_posix()
    rc, out, _ = run(capsys, "search", title, "-s", store, "-c", "papers", "-k", "3", "--json")
    hits = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and [h["rank"] for h in hits] == [1, 2, 3]
    assert hits[0]["source"] == source and hits[0]["score"] >= hits[1]["score"]
    rc, out, _ = run(
        capsys, "search", title, "-s", store, "-c", "papers", "--filter", f"source={source}"
    )
    assert rc == 0 and out.count(source) >= 1 and "d001" not in out

    rc, out, _ = run(capsys, "collections", "-s", store, "--json")
    assert json.loads(out) == {
        "name": "papers",
        "count": report["chunks"],
        "dim": 384,
        "model": "all-minilm-l6-v2",
    }
    rc, _, err = run(capsys, "collections", "-s", store, "--drop", "papers")
    assert rc == 0 and "dropped" in err
    rc, out, _ = run(capsys, "collections", "-s", store)
    assert rc == 0 and out == ""


class _AnyUnsupported:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith("unsupported file type")


ANY_TYPE = _AnyUnsupported()


def test_bad_arguments_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_cli: Settings
) -> None:
    docs = corpus(tmp_path / "docs", 2)
    cases = [
        (["index", str(docs), "--store", "nosuch:x"], "unknown store"),
        (["index", str(docs), "--store", "memory:", "--chunk-tokens", "999"], "256-token window"),
        (["index", str(docs), "--store", "chroma:" + str(tmp_path), "-c", "x"], "collection"),
        (["index", str(docs), "--store", "memory:", "--quantization", "int8"], "quantis"),
        (["search", "q", "--store", "memory:", "--filter", "nokey"], "key=value"),
        (["search", "q", "--store", f"chroma:{tmp_path / 'db'}", "-c", "nope"], "no collection"),
    ]
    for args, message in cases:
        rc, _, err = run(capsys, *args)
        assert rc == 1 and err.startswith("error: ") and message in err, (args, err)


def lembed(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lembed", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["chroma", "qdrant"])
def test_killed_then_resumed_equals_a_clean_run(
    scheme: str, tmp_path: Path, settings: Settings
) -> None:
    docs = corpus(tmp_path / "docs", 60, skip=500)
    env = {**os.environ, "LEMBED_BACKEND": "fake", "LEMBED_CACHE_DIR": str(settings.cache_dir)}
    killed, clean = f"{scheme}:{tmp_path / 'killed'}", f"{scheme}:{tmp_path / 'clean'}"
    args = ["index", str(docs), "--chunk-tokens", "48", "--json"]

    proc = lembed(*args, "--batch", "4", "--store", killed, env=env)  # small batches to kill
    assert proc.stderr is not None
    for line in proc.stderr:  # one line per batch written
        if line.startswith("embedded ") and int(line.split()[1].split("/")[0]) >= 40:
            break
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    resumed = lembed(*args, "--store", killed, env=env)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    second = json.loads(out)
    assert 40 <= second["unchanged"] < second["chunks"]  # the killed run's work was kept
    assert second["embedded"] == second["chunks"] - second["unchanged"]

    reference = lembed(*args, "--store", clean, env=env)
    out, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    assert json.loads(out)["embedded"] == second["chunks"]

    a, b = open_client(killed), open_client(clean)
    assert a.get("lembed").scan() == b.get("lembed").scan()
    assert a.get("lembed").count() == b.get("lembed").count() == second["chunks"]
    a.close()
    b.close()


def test_missing_path_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_cli: Settings
) -> None:
    rc, out, err = run(capsys, "index", str(tmp_path / "nonexistent"), "-s", "memory:")
    assert rc == 2 and out == ""
    assert f"{tmp_path / 'nonexistent'}: no such file or directory" in err


def test_nothing_readable_exits_4(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_cli: Settings
) -> None:
    (tmp_path / "only.png").write_bytes(b"\x89PNG")
    rc, out, err = run(capsys, "index", str(tmp_path), "-s", "memory:", "--json")
    assert rc == 4, err
    assert json.loads(out)["status"] == "nothing indexed"


def test_bad_files_make_a_partial_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_cli: Settings
) -> None:
    """The acceptance folder, small: a symlink loop, a one-line file over --max-file-mb, a
    corrupt PDF, a NUL-only file and good files."""
    docs = corpus(tmp_path / "docs", 4)
    (docs / "loop.txt").symlink_to(docs / "loop.txt")
    (docs / "huge.txt").write_text("word " * 400_000, encoding="utf-8")  # 2 MB, one line
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (docs / "zeros.txt").write_bytes(b"\0" * 1000)
    store = f"chroma:{tmp_path / 'db'}"
    rc, out, err = run(capsys, "index", str(docs), "-s", store, "--max-file-mb", "1")
    assert rc == 3, err
    assert "partial: 4 file(s) failed (exit 3)" in err
    assert "4 loaded, 4 skipped" in out
    for name, reason in [
        ("loop.txt", "symbolic links"),
        ("huge.txt", "over the 1 MB limit"),
        ("broken.pdf", "cannot read"),
        ("zeros.txt", "binary"),
    ]:
        line = next(line for line in out.splitlines() if name in line)
        assert line.strip().startswith("failed") and reason in line, line
    rc, out, _ = run(capsys, "index", str(docs), "-s", store, "--json", "--max-file-mb", "1")
    report = json.loads(out)
    assert rc == 3 and report["status"] == "partial" and report["unchanged"] == report["chunks"]


def test_a_second_index_into_the_same_collection_fails_before_loading(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_cli: Settings
) -> None:
    """A run holds the collection's lock; a second process fails at once, without a model."""
    docs = corpus(tmp_path / "docs", 2)
    store = f"qdrant:{tmp_path / 'q'}"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from lembed.ingest.lock import writer_lock\n"
        f"with writer_lock({store!r}, 'lembed', Path({str(fake_cli.cache_dir)!r})):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        rc, _, err = run(capsys, "index", str(docs), "-s", store, "--model", "no-such-model")
        assert rc == 1 and "is being written by lembed index (pid" in err, err
        assert "no-such-model" not in err  # refused before the model was looked up
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    rc, _, err = run(capsys, "index", str(docs), "-s", store)
    assert rc == 0, err
