"""How ``lembed index`` shows its work: a rich progress bar (documents, chunks, tokens/s)
on a terminal, plain lines otherwise, and the closing summary."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from lembed.ingest.pipeline import IndexReport, Progress


class ProgressView:
    """A context manager whose ``update`` takes the pipeline's :class:`Progress` events."""

    PLAIN_EVERY_S = 5.0  # plain mode: a load/chunk line at most this often

    def __init__(self) -> None:
        self._live = sys.stderr.isatty()
        self._last_line = 0.0
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressView:
        if self._live:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[docs]} docs · {task.fields[chunks]} chunks"),
                TextColumn("· {task.fields[rate]:.0f} tokens/s"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("loading", total=None, docs="0", chunks="-", rate=0.0)
        return self

    def update(self, event: Progress) -> None:
        rate = event.tokens / event.seconds if event.seconds else 0.0
        docs = f"{event.documents}/{event.documents_total}"
        if self._bar is not None:
            description = {
                "load": "loading",
                "chunk": "chunking",
                "embed": "embedding",
                "done": "done",
            }[event.stage]
            total = event.chunks_total if event.stage in ("embed", "done") else None
            self._bar.update(
                self._task,
                description=description,
                completed=event.chunks,
                total=total,
                docs=docs,
                chunks=f"{event.chunks}/{event.chunks_total}" if total is not None else "-",
                rate=rate,
            )
        elif event.stage in ("load", "chunk"):
            finished = event.documents == event.documents_total
            if finished or event.seconds - self._last_line >= self.PLAIN_EVERY_S:
                self._last_line = event.seconds
                verb = "read" if event.stage == "load" else "chunked"
                noun = "files" if event.stage == "load" else "documents"
                print(f"{verb} {docs} {noun}", file=sys.stderr, flush=True)
        elif event.stage == "embed":
            print(
                f"embedded {event.chunks}/{event.chunks_total} chunks, {docs} documents, "
                f"{rate:.0f} tokens/s",
                file=sys.stderr,
                flush=True,
            )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, exc, tb)


def report_json(report: IndexReport, store: str, collection: str, model: str) -> dict[str, Any]:
    return {
        "store": store,
        "collection": collection,
        "model": model,
        "documents": report.documents,
        "skipped": [
            {"source": s.source, "reason": s.reason, "failed": s.failed} for s in report.skipped
        ],
        "chunks": report.chunks,
        "embedded": report.embedded,
        "unchanged": report.unchanged,
        "deleted": report.deleted,
        "pruned": report.pruned,
        "tokens": report.tokens,
        "seconds": round(report.seconds, 3),
        "embed_seconds": round(report.embed_seconds, 3),
        "tokens_per_second": round(report.tokens_per_second, 1),
        "chunks_per_second": round(report.chunks_per_second, 2),
        "boilerplate": {
            "removed_lines": report.boilerplate.removed,
            "lines": dict(report.boilerplate.top(50)),
        },
    }


def print_report(report: IndexReport, store: str, collection: str, model: str) -> None:
    """The human summary, on stdout."""
    out = sys.stdout
    out.write(f"indexed into {store} / {collection} with {model}\n")
    out.write(f"  documents  {report.documents} loaded, {len(report.skipped)} skipped\n")
    failed = [s for s in report.skipped if s.failed]  # every failure is listed
    passed = [s for s in report.skipped if not s.failed]  # unsupported types, empty files
    for skipped in failed:
        out.write(f"    failed  {skipped.source}: {skipped.reason}\n")
    for skipped in passed[:10]:
        out.write(f"    skipped {skipped.source}: {skipped.reason}\n")
    if len(passed) > 10:
        out.write(f"    ... and {len(passed) - 10} more skipped\n")
    out.write(
        f"  chunks     {report.chunks} in the corpus: {report.embedded} embedded, "
        f"{report.unchanged} unchanged, {report.deleted} replaced, {report.pruned} pruned\n"
    )
    out.write(
        f"  throughput {report.tokens} tokens in {report.seconds:.2f} s: "
        f"{report.tokens_per_second:.0f} tokens/s, {report.chunks_per_second:.1f} chunks/s "
        f"(embedding {report.embed_seconds:.2f} s)\n"
    )
    if report.boilerplate.lines:
        out.write(f"  boilerplate {report.boilerplate.removed} lines removed:\n")
        for line, units in report.boilerplate.top(5):
            out.write(f"    {units:>5} pages  {line!r}\n")
