"""HTML keeps its structure: highlighted code verbatim, headings, inline text in its line;
navigation goes, and the boilerplate rule never takes code or one-token lines."""

from __future__ import annotations

from pathlib import Path

from lembed.engine.model import EmbeddingModel
from lembed.ingest.clean import Boilerplate
from lembed.ingest.loaders import html_text
from lembed.ingest.pipeline import index
from lembed.stores import open_client

# What Sphinx writes for a highlighted block: one <span> per token, newlines between them.
CODE = (
    '<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span>'
    '<span class="kn">import</span> <span class="nn">{module}</span>\n'
    '<span class="k">with</span> <span class="nb">open</span><span class="p">(</span>'
    '<span class="s1">\'some.{module}\'</span><span class="p">,</span> '
    '<span class="n">newline</span><span class="o">=</span><span class="s1">\'\'</span>'
    '<span class="p">)</span> <span class="k">as</span> <span class="n">f</span>'
    '<span class="p">:</span>\n'
    '    <span class="n">rows</span> <span class="o">=</span> '
    '<span class="nb">list</span><span class="p">(</span><span class="n">f</span>'
    '<span class="p">)</span>\n'
    '<span class="p">(</span>\n'
    "</pre></div></div>"
)


def sphinx_page(module: str, i: int) -> str:
    nav = (
        '<div class="related" role="navigation"><h3>Navigation</h3><ul>'
        '<li><a href="genindex.html">index</a></li><li><a href="py-modindex.html">modules</a>'
        f' |</li><li><a href="p{i + 1}.html">next</a> |</li></ul></div>'
    )
    return f"""<!DOCTYPE html><html><head><title>{module}</title></head><body>
    {nav}
    <div class="document"><div class="body" role="main">
    <section id="{module}"><h1><code class="xref py py-mod">{module}</code> — the {module}
    module<a class="headerlink" href="#{module}">¶</a></h1>
    <p>The <a href="x.html"><code>{module}</code></a> module reads <em>rows</em> of
    data number {i}, one line at a time.</p>
    <p>Example:</p>
    {CODE.format(module=module)}
    <dl><dt>Returns</dt><dd><p>A list of rows from page {i}.</p></dd></dl>
    </section></div></div>
    <div class="sphinxsidebar" role="navigation"><h3>Table of Contents</h3>
    <ul><li>Quick search</li></ul></div>
    {nav}
    <div class="footer">© Copyright 2001-2024, Python Software Foundation. Last updated on
    Jan 01, 2024.</div></body></html>"""


def test_sphinx_code_block_is_verbatim_and_navigation_is_gone() -> None:
    text = html_text(sphinx_page("csv", 1))
    lines = text.splitlines()
    assert "import csv" in lines
    assert "with open('some.csv', newline='') as f:" in lines
    assert "    rows = list(f)" in lines  # indentation kept
    assert lines[0] == "# `csv` — the csv module"  # heading, inline code in its line
    assert "The `csv` module reads *rows* of data number 1, one line at a time." in text
    for gone in ("Navigation", "modules", "Table of Contents", "Copyright", "¶"):
        assert gone not in text


def test_inline_elements_stay_on_their_line_and_pre_is_fenced() -> None:
    text = html_text(
        "<p>a <b>bold</b> <i>word</i> and <code>x()</code>.</p><pre>x = (\n  1\n)</pre>"
    )
    assert text == "a **bold** *word* and `x()`.\n\n```\nx = (\n  1\n)\n```"


def test_code_and_one_token_lines_are_never_boilerplate() -> None:
    pages = [html_text(sphinx_page("csv", i)) for i in range(6)]
    pages.append("running header\nReturns\n(\nimport\n7\nbody seven")
    pages.append("running header\nReturns\n(\nimport\n8\nbody eight")
    cleaner = Boilerplate([[p] for p in pages], share=0.3)
    found = set(cleaner.corpus)
    assert "returns" not in found and "(" not in found and "import" not in found
    code = {"import csv", "with open('some.csv', newline='') as f:", "rows = list(f)"}
    assert not code & found  # the code lines repeat on 6 of 8 pages, and stay
    assert "# `csv` — the csv module" in found  # prose that repeats still counts
    cleaned = cleaner.strip([pages[0]])[0]
    assert "import csv\nwith open('some.csv', newline='') as f:" in cleaned
    assert cleaner.strip([pages[6]])[0].splitlines() == [
        "running header",
        "Returns",
        "(",
        "import",
        "7",
        "body seven",
    ]


def test_indexed_sphinx_pages_keep_their_code(tmp_path: Path, fake_model: EmbeddingModel) -> None:
    for i, module in enumerate(["csv", "json", "io", "os", "re"]):
        (tmp_path / f"{module}.html").write_text(sphinx_page(module, i), encoding="utf-8")
    store = open_client("memory:").open("docs", fake_model.dim)
    report = index([tmp_path], store, fake_model, chunk_tokens=128)
    assert report.documents == 5
    hits = store.query(fake_model.embed(["csv"]).vectors[0], k=1000)
    source = (tmp_path / "csv.html").resolve().as_posix()
    joined = "\n".join(h.text for h in hits if h.metadata["source"] == source)
    assert "import csv\nwith open('some.csv', newline='') as f:" in joined
    assert "Navigation" not in joined


def test_the_same_text_twice_in_one_source_is_stored_once(
    tmp_path: Path, fake_model: EmbeddingModel
) -> None:
    para = "Rotate the signing keys every ninety days and keep the old key for a week."
    other = "Backups are encrypted with a separate key that never leaves the vault room."
    (tmp_path / "a.txt").write_text(f"{para}\n\n{other}\n\n{para}", encoding="utf-8")
    (tmp_path / "b.txt").write_text(para, encoding="utf-8")
    store = open_client("memory:").open("docs", fake_model.dim)
    report = index([tmp_path], store, fake_model, chunk_tokens=24, overlap=0)
    hits = store.query(fake_model.embed(["keys"]).vectors[0], k=1000)
    assert report.chunks == len(hits) == store.count() == 3
    pairs = [(h.metadata["source"], h.text) for h in hits]
    assert len(pairs) == len(set(pairs))  # no (source, text) twice
    assert [h.text for h in hits].count(para) == 2  # once per file
