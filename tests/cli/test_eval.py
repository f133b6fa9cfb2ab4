"""``lembed eval retrieval`` / ``lembed eval sts``, run in-process on real data slices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lembed.cli import main
from lembed.settings import Settings
from tests.conftest import DATA
from tests.evaluate.conftest import write_beir


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def small_beir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_beir(tmp_path_factory.mktemp("cli-beir") / "scifact", queries=10, extra_docs=40)


def test_retrieval_sweep_json_and_report_folder(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings, small_beir: Path, tmp_path: Path
) -> None:
    rc, out, err = run(
        capsys, "eval", "retrieval", "--dataset", str(small_beir), "-b", "fake",
        "--dtype", "float32", "--dtype", "binary+rescore", "-d", "384", "-d", "128",
        "--json", "--out", str(tmp_path / "rep"),
    )  # fmt: skip
    assert rc == 0, err
    doc = json.loads(out)
    assert [r["label"] for r in doc["results"]] == [
        "fake 384d float32", "fake 384d binary+rescore", "fake 128d float32",
        "fake 128d binary+rescore",
    ]  # fmt: skip
    assert doc["reference"] is None  # the slice has no reference_scores.json
    assert set(doc["results"][0]["scores"]) == {
        "ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10",
    }  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == [
        "quality_vs_bytes.png", "report.json", "report.md",
    ]  # fmt: skip
    assert "wrote " in err


def test_retrieval_markdown_on_a_sample_of_the_real_folder(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings
) -> None:
    rc, out, _ = run(
        capsys, "eval", "retrieval", "--dataset", str(DATA / "scifact"), "-b", "fake",
        "--queries", "5", "--docs", "20", "--prefixes", "off",
    )  # fmt: skip
    assert rc == 0
    assert out.startswith("# retrieval evaluation: all-minilm-l6-v2 on scifact[5q,")
    assert "| fake 384d float32 no-prefix | 1,536 |" in out
    assert "Published" not in out  # a sample is not comparable with the published score


def test_sts_reports_the_published_reference(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings
) -> None:
    rc, out, _ = run(
        capsys, "eval", "sts", "--dataset", str(DATA / "stsbenchmark"), "-b", "fake",
        "--dtype", "float32", "--dtype", "int8", "--json",
    )  # fmt: skip
    assert rc == 0
    doc = json.loads(out)
    assert doc["size"].startswith("1,379 pairs")
    assert round(doc["reference"]["score"], 4) == 0.8203
    assert [r["bytes_per_vector"] for r in doc["results"]] == [1536, 384]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["retrieval", "--dataset", "/no/such"], "dataset folder /no/such does not exist"),
        (["retrieval", "--dataset", ".", "--dtype", "fp16"], "dtype must be one of"),
        (["retrieval", "--dataset", ".", "--prefixes", "maybe"], "--prefixes must be on or off"),
        (["retrieval", "--dataset", ".", "-b", "gpu"], "backend must be one of"),
        (["retrieval", "--dataset", str(DATA / "scifact"), "--docs", "3"], "--docs needs"),
        (["sts", "--dataset", "/no/such.tsv"], "STS file /no/such.tsv does not exist"),
    ],
)
def test_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings, args: list[str], message: str
) -> None:
    rc, out, err = run(capsys, "eval", *args)
    assert rc == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.store
def test_retrieval_through_a_store_matches_exact_search(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings, small_beir: Path, tmp_path: Path
) -> None:
    args = ["eval", "retrieval", "--dataset", str(small_beir), "-b", "fake", "--json"]
    rc, exact, _ = run(capsys, *args)
    rc2, through, err = run(capsys, *args, "--store", f"qdrant:{tmp_path}")
    assert rc == rc2 == 0, err
    a, b = json.loads(exact), json.loads(through)
    assert b["results"][0]["scores"] == pytest.approx(a["results"][0]["scores"], abs=1e-4)
    assert b["notes"][-1] == f"searched through the store qdrant:{tmp_path} (a scratch collection)"


def test_render_a_saved_report(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings, small_beir: Path, tmp_path: Path
) -> None:
    rc, out, _ = run(
        capsys, "eval", "retrieval", "--dataset", str(small_beir), "-b", "fake", "--json"
    )
    saved = tmp_path / "r.json"
    saved.write_text(out)
    rc, md, err = run(capsys, "eval", "render", str(saved), "--out", str(tmp_path / "again"))
    assert rc == 0 and md.startswith("# retrieval evaluation: all-minilm-l6-v2 on scifact")
    assert (tmp_path / "again" / "quality_vs_bytes.png").stat().st_size > 10_000
    rc, _, err = run(capsys, "eval", "render", str(small_beir / "queries.jsonl"))
    assert rc == 1 and err.startswith("error: cannot read a report from")


@pytest.mark.store
def test_modes_and_through_index(
    capsys: pytest.CaptureFixture[str], cli_settings: Settings, small_beir: Path
) -> None:
    args = ["eval", "retrieval", "--dataset", str(small_beir), "-b", "fake"]
    modes = ["--mode", "dense", "--mode", "bm25", "--mode", "hybrid"]
    rc, out, err = run(capsys, *args, *modes)
    assert rc == 0, err
    for row in ("| fake 384d float32 |", "| bm25 |", "| fake 384d float32 hybrid:0.7 |"):
        assert row in out
    rc, out, err = run(capsys, *args, *modes[:4], "--through-index", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert [r["label"] for r in doc["results"]] == ["index fake 384d float32", "index bm25"]
    assert doc["results"][1]["scores"]["ndcg@10"] > 0.3 and "lembed index" in doc["timings"]
    rc, _, err = run(capsys, *args, "--mode", "hybrid:2")
    assert rc == 1 and "between 0 and 1" in err
