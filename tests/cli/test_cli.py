"""The CLI, run in-process through ``lembed.cli.main``."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from lembed.cli import main
from lembed.settings import Settings


def run(
    capsys: pytest.CaptureFixture[str], *args: str, stdin: str | None = None
) -> tuple[int, str, str]:
    if stdin is not None:
        import sys

        old = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            rc = main(list(args))
        finally:
            sys.stdin = old
    else:
        rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.model
def test_embed_prints_a_384d_unit_vector(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings
) -> None:
    rc, out, _ = run(capsys, "embed", "hello world")
    assert rc == 0
    row = json.loads(out)
    vec = np.array(row["embedding"])
    assert row["model"] == "all-minilm-l6-v2" and vec.shape == (384,)
    assert abs(np.linalg.norm(vec) - 1) < 1e-5 and row["tokens"] == 4


def test_embed_stdin_json_and_options(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings
) -> None:
    rc, out, _ = run(
        capsys, "embed", "--backend", "fake", "-f", "json", "--dtype", "ubinary", stdin="a\n\nb\n"
    )
    assert rc == 0
    doc = json.loads(out)
    assert [r["index"] for r in doc["data"]] == [0, 1]
    assert len(doc["data"][0]["embedding"]) == 48 and doc["usage"]["prompt_tokens"] == 6


def test_embed_reports_truncation_on_stderr(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings
) -> None:
    rc, out, err = run(capsys, "embed", "--backend", "fake", "word " * 300)
    assert rc == 0 and json.loads(out)["truncated"] is True
    assert "cut to the 256-token window" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["embed", "--backend", "fake", "  "], "error: input[0] is empty"),
        (["embed", "--backend", "fake", "--truncate", "error", "w " * 300], "256-token window"),
        (["embed", "--backend", "fake", "--dimensions", "999", "x"], "between 1 and 384"),
        (["embed", "-m", "nomic-embed-text", "x"], "lembed pull nomic-embed-text-v1.5"),
        (["embed", "--backend", "fake", "-i", "/no/such/file"], "cannot read /no/such/file"),
    ],
)
def test_errors_are_one_line_with_status_1(
    capsys: pytest.CaptureFixture[str],
    cli_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    rc, out, err = run(capsys, *args)
    assert rc == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_models_json_lists_catalog_with_availability(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings
) -> None:
    rc, out, _ = run(capsys, "models", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and len(rows) == 7
    assert rows[0]["available"].startswith("packaged: ")
    assert {"nomic-embed-text-v1.5", "bge-m3", "mxbai-embed-large-v1"} <= {r["name"] for r in rows}


def test_pull_offline_is_one_line(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc, _, err = run(capsys, "pull", "bge-small-en-v1.5")
    assert rc == 1
    assert err.startswith("error: cannot download BAAI/bge-small-en-v1.5")
    assert len(err.strip().splitlines()) == 1


def test_usage_error_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "embed", "--no-such-flag")
    assert rc == 2 and "No such option" in err
