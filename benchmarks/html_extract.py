"""HTML → text for indexing, measured on real Sphinx pages (Debian's python3-doc).

For each extractor: median milliseconds per page, and the share of the pages' code blocks
(``<pre>``) whose every non-blank line comes out as a line of the text, verbatim after
stripping (a shredded block, one token per line, or one joined into a paragraph, fails).

    apt-get install python3-doc
    python benchmarks/html_extract.py --pages 40
    # compared with those installed: trafilatura, html-text, inscriptis, markdownify

Not part of the test suite (the tests use small Sphinx-shaped fixtures).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

DOCS = Path("/usr/share/doc/python3.11/html")


def extractors() -> dict[str, Callable[[str], str]]:
    from lembed.ingest.loaders import html_text

    out: dict[str, Callable[[str], str]] = {"lembed (markdownify over cleaned bs4)": html_text}
    try:
        import bs4

        def get_text(h: str) -> str:  # the loader before: get_text("\n")
            return bs4.BeautifulSoup(h, "html.parser").get_text("\n")

        out["bs4 get_text('\\n') (before)"] = get_text
    except ImportError:
        pass
    try:
        import trafilatura

        out["trafilatura (markdown)"] = lambda h: (
            trafilatura.extract(h, output_format="markdown", favor_recall=True) or ""
        )
    except ImportError:
        pass
    try:
        import html_text as ht

        out["html-text"] = ht.extract_text
    except ImportError:
        pass
    try:
        import inscriptis

        out["inscriptis"] = inscriptis.get_text
    except ImportError:
        pass
    try:
        import markdownify

        out["markdownify (plain)"] = lambda h: markdownify.markdownify(h)
    except ImportError:
        pass
    return out


def code_blocks(markup: str) -> list[list[str]]:
    import bs4

    soup = bs4.BeautifulSoup(markup, "html.parser")
    blocks = []
    for pre in soup.find_all("pre"):
        lines = [line.strip() for line in pre.get_text().splitlines() if line.strip()]
        if lines:
            blocks.append(lines)
    return blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args()
    pages = sorted((args.docs / "library").glob("*.html"))
    with_code = [p for p in pages if "<pre>" in p.read_text(encoding="utf-8")][: args.pages]
    csv = args.docs / "library" / "csv.html"
    if csv.exists() and csv not in with_code:
        with_code[-1] = csv
    markup = [p.read_text(encoding="utf-8") for p in with_code]
    truth = [code_blocks(m) for m in markup]
    total = sum(len(b) for b in truth)
    print(f"{len(markup)} pages of {args.docs}, {total} code blocks")
    print(f"{'extractor':40} {'ms/page (median)':>17} {'code blocks intact':>19}")
    for name, fn in extractors().items():
        times, intact = [], 0
        for m, blocks in zip(markup, truth, strict=True):
            start = time.perf_counter()
            text = fn(m)
            times.append((time.perf_counter() - start) * 1000)
            lines = {line.strip() for line in text.splitlines()}
            intact += sum(all(line in lines for line in b) for b in blocks)
        print(f"{name:40} {statistics.median(times):17.1f} {intact / total:18.1%}")


if __name__ == "__main__":
    main()
