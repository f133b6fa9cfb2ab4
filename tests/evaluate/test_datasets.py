"""Reading BEIR folders and STS files, on the real data and on broken copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from lembed.errors import ValidationError
from lembed.evaluate.datasets import doc_text, load_beir, load_sts, read_qrels, sample
from tests.evaluate.conftest import SCIFACT, STS


def test_full_scifact_has_the_official_counts() -> None:
    data = load_beir(SCIFACT)
    assert len(data.corpus) == 5183 and len(data.queries) == 300
    assert sum(len(rel) for rel in data.qrels.values()) == 339
    assert list(data.queries)[:3] == ["1", "3", "5"]  # numeric order, not string order


def test_documents_are_title_space_text() -> None:
    data = load_beir(SCIFACT)
    text = data.corpus["4983"]
    assert text.startswith("Microstructural development of human newborn cerebral white matter")
    assert "white matter assessed in vivo by diffusion tensor" in text
    assert doc_text("", " body ") == "body" and doc_text("T", "b") == "T b"


def test_slice_folder_round_trips(beir_dir: Path) -> None:
    data = load_beir(beir_dir)
    assert len(data.queries) == 30 and len(data.corpus) >= 300
    assert all(d in data.corpus for rel in data.qrels.values() for d in rel)


def test_sample_keeps_judged_docs_and_is_seeded() -> None:
    data = load_beir(SCIFACT)
    a, b, c = sample(data, 5, 20, seed=1), sample(data, 5, 20, seed=1), sample(data, 5, 20, 2)
    assert a.corpus == b.corpus != c.corpus
    assert {d for rel in a.qrels.values() for d in rel} <= set(a.corpus)
    assert list(a.queries) == list(data.queries)[:5]


def test_qrels_drop_zero_scores_and_header(tmp_path: Path) -> None:
    path = tmp_path / "q.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\nq2\td3\t0\n")
    assert read_qrels(path) == {"q1": {"d1": 1}}


def test_broken_folders_say_what_is_wrong(tmp_path: Path, beir_dir: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        load_beir(tmp_path / "nope")
    with pytest.raises(ValidationError, match=r"not a BEIR folder: none of corpus\.jsonl"):
        load_beir(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\nnot json\n')
    (bad / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\n')
    (bad / "qrels").mkdir()
    (bad / "qrels" / "test.tsv").write_text("q1\td1\t1\n")
    with pytest.raises(ValidationError, match=r"corpus.jsonl:2: not JSON"):
        load_beir(bad)
    with pytest.raises(ValidationError, match=r"qrels/dev.tsv"):
        load_beir(beir_dir, split="dev")


def test_sts_test_split_parses_both_formats() -> None:
    normalized = load_sts(STS)
    original = load_sts(STS / "sts-test.csv")
    assert len(normalized.pairs) == 1379 == len(original.pairs)
    assert normalized.pairs == original.pairs
    assert normalized.scores == pytest.approx(original.scores, abs=1e-3)
    assert normalized.pairs[0] == ("A girl is styling her hair.", "A girl is brushing her hair.")
    assert sum('"' in a + b for a, b in normalized.pairs) >= 50  # bare quotes survive


def test_sts_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        load_sts(tmp_path / "x.tsv")
    bad = tmp_path / "sts-test.normalized.tsv"
    bad.write_text("score\tsentence1\tsentence2\nhigh\ta\tb\n")
    with pytest.raises(ValidationError, match="'high' is not a number"):
        load_sts(tmp_path)
