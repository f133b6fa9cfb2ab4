"""Ingest fixtures: SciFact slices and a PDF with a running header, footer and page numbers."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SCIFACT = DATA / "scifact"


def scifact_docs(n: int, skip: int = 0) -> list[dict[str, str]]:
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in itertools.islice(fh, skip, skip + n)]


def write_pdf(path: Path, pages: list[str], header: str = "ACME Corp - Quarterly Report") -> Path:
    """A PDF whose every page has ``header`` on top and "Page N of M" at the bottom."""
    from fpdf import FPDF

    class Doc(FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, header, new_x="LMARGIN", new_y="NEXT")

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = Doc()
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, text.encode("latin-1", "replace").decode("latin-1"))
    pdf.output(str(path))
    return path


@pytest.fixture
def report_pdf(tmp_path: Path) -> Path:
    pages = [d["text"][:900] for d in scifact_docs(6, skip=40)]
    return write_pdf(tmp_path / "report.pdf", pages)
