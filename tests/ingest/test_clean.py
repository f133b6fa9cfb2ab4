"""Boilerplate: lines repeated on more than a share of pages are removed and reported."""

from __future__ import annotations

from lembed.ingest.clean import Boilerplate, normalise, repeated_lines, unwrap


def pages(n: int) -> list[str]:
    return [
        f"ACME Report\nBody text number {i} about topic {chr(97 + i)}.\nPage {i} of {n}"
        for i in range(1, n + 1)
    ]


def test_headers_footers_and_page_numbers_are_found() -> None:
    assert normalise("  Page 12  of 40 ") == "page # of #"
    found = repeated_lines(pages(5), share=0.3)
    assert found == {"acme report": 5, "page # of #": 5}


def test_strip_removes_them_and_reports() -> None:
    docs = [pages(4), ["Another file\nwith ACME Report inside a sentence"]]
    cleaner = Boilerplate(docs, share=0.3)
    cleaned = cleaner.strip(docs[0])
    assert cleaned[0] == "Body text number 1 about topic b."
    assert cleaner.strip(docs[1]) == docs[1]  # only whole lines are boilerplate
    assert cleaner.report.units == 5
    assert dict(cleaner.report.top()) == {"acme report": 4, "page # of #": 4}
    assert cleaner.report.removed == 8


def test_share_threshold_and_small_corpora() -> None:
    units = ["common line\nunique a", "common line\nunique b", "x", "y", "z", "w"]
    assert repeated_lines(units, share=0.3) == {}  # 2 of 6 units is not more than 30 %
    assert repeated_lines(units, share=0.2) == {}  # and fewer than 3 units never count
    assert repeated_lines(["same", "same"], share=0.3) == {}
    assert repeated_lines(units + ["common line"] * 2, share=0.3) == {"common line": 4}


def test_multi_page_document_in_a_large_corpus() -> None:
    singles = [[f"note {chr(65 + i)} is unique"] for i in range(40)]
    cleaner = Boilerplate([*singles, pages(5)], share=0.3)
    assert cleaner.corpus == {}  # 5 pages of 45 units: not corpus-wide boilerplate
    cleaned = cleaner.strip(pages(5))  # but within the document it is
    assert all("ACME" not in p and "Page" not in p for p in cleaned)


def test_unwrap_joins_wrapped_lines() -> None:
    assert unwrap("a wrapped\nline here\n\nnext  para") == "a wrapped line here\n\nnext para"


def test_a_document_is_never_emptied() -> None:
    records = [[f"Order {i} shipped"] for i in range(10)]  # all the same once digits fold
    cleaner = Boilerplate(records, share=0.3)
    assert cleaner.corpus == {"order # shipped": 10}
    assert cleaner.strip(records[3]) == ["Order 3 shipped"]
    assert cleaner.report.removed == 0
