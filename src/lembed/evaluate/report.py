"""Evaluation reports: one JSON document per run, rendered as Markdown and a PNG plot.

The JSON document is the source of truth (``--json`` prints it); the Markdown table and the
plot of quality against bytes per vector are drawn from it, so they never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lembed.errors import require

Doc = dict[str, Any]


def reference_score(folder: Path | None, hf_id: str, key: str) -> dict[str, Any] | None:
    """The published score of ``hf_id`` from a data set's ``reference_scores.json``."""
    if folder is None:
        return None
    path = (folder if folder.is_dir() else folder.parent) / "reference_scores.json"
    try:
        scores = json.loads(path.read_text(encoding="utf-8")).get("scores", {})
    except (OSError, ValueError):
        return None
    entry = scores.get(hf_id) if isinstance(scores, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get(key), int | float):
        return None
    return {"score": float(entry[key]), "source": str(entry.get("source", path))}


def add_deltas(doc: Doc) -> Doc:
    """Give each result its loss against the float32 result of the same setup, in points.

    The baseline of a variant is the float32, no-rescore result with the same backend,
    prefixes and dimensions, or failing that the first result.
    """
    main = doc["main_metric"]
    rows = doc["results"]
    for row in rows:
        same = [
            r
            for r in rows
            if r["dtype"] == "float32"
            and all(r[k] == row[k] for k in ("backend", "prefixes", "dimensions"))
        ]
        base = same[0] if same else rows[0]
        row["baseline"] = base["label"]
        row["delta"] = 100 * (row["scores"][main] - base["scores"][main])
    ref = doc.get("reference")
    if ref and rows:
        ref["delta"] = 100 * (rows[0]["scores"][main] - ref["score"])
    return doc


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def markdown(doc: Doc) -> str:
    """A Markdown report: context, one table row per variant, reference and notes."""
    main = doc["main_metric"]
    metrics: list[str] = doc["metrics"]
    lines = [
        f"# {doc['task']} evaluation: {doc['model']} on {doc['dataset']}",
        "",
        f"{doc['size']}. Scores ×100; Δ = {main} points against the float32 result of the "
        "same backend, prefixes and dimensions; bytes = one stored vector.",
        "",
        "| variant | bytes | " + " | ".join(metrics) + " | Δ |",
        "|---|---:|" + "---:|" * len(metrics) + "---:|",
    ]
    for row in doc["results"]:
        cells = [_pct(row["scores"][m]) for m in metrics]
        lines.append(
            f"| {row['label']} | {row['bytes_per_vector']:,} | "
            + " | ".join(cells)
            + f" | {row['delta']:+.2f} |"
        )
    ref = doc.get("reference")
    if ref:
        lines += [
            "",
            f"Published {main} of {doc['hf_id']}: {_pct(ref['score'])} "
            f"({ref['source']}); first row differs by {ref['delta']:+.2f} points.",
        ]
    if doc.get("timings"):
        lines += ["", "Timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in doc["timings"].items())]
    if doc.get("notes"):
        lines += ["", *(f"- {note}" for note in doc["notes"])]
    return "\n".join(lines) + "\n"


def plot(doc: Doc, path: Path) -> Path:
    """Draw quality against bytes per vector, one labelled point per variant, as PNG."""
    require("matplotlib", "eval", "the report plot")
    from matplotlib.figure import Figure

    main = doc["main_metric"]
    fig = Figure(figsize=(8, 5), dpi=120)
    ax = fig.subplots()
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in doc["results"]:
        marked = doc["task"] == "retrieval" and not row["prefixes"]
        groups.setdefault(row["backend"] + (" no-prefix" if marked else ""), []).append(row)
    for name, rows in groups.items():
        xs = [r["bytes_per_vector"] for r in rows]
        ys = [100 * r["scores"][main] for r in rows]
        ax.scatter(xs, ys, label=name, s=36, zorder=3)
        for r, x, y in zip(rows, xs, ys, strict=True):
            short = r["label"].removeprefix(r["backend"] + " ").removesuffix(" no-prefix")
            ax.annotate(short, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7)
    ref = doc.get("reference")
    if ref:
        ax.axhline(
            100 * ref["score"],
            color="grey",
            linestyle="--",
            linewidth=1,
            label=f"published {100 * ref['score']:.2f}",
        )
    values = [100 * r["scores"][main] for r in doc["results"]]
    values += [100 * ref["score"]] if ref else []
    low, high = min(values), max(values)
    pad = max(1.0, (high - low) * 0.1)  # at least a point either side: no zoom into noise
    ax.set_ylim(low - pad, high + pad)
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.set_xscale("log", base=2)
    ticks = sorted({r["bytes_per_vector"] for r in doc["results"]})
    ax.set_xticks(ticks, [f"{t:,}" for t in ticks], fontsize=8)
    ax.minorticks_off()
    ax.margins(x=0.15, y=0.1)
    ax.set_xlabel("bytes per stored vector (log scale)")
    ax.set_ylabel(f"{main} ×100")
    ax.set_title(f"{doc['model']} on {doc['dataset']}: quality vs size", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def write(doc: Doc, folder: Path) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``quality_vs_bytes.png`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "report.json"
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    md = folder / "report.md"
    md.write_text(markdown(doc), encoding="utf-8")
    return [out, md, plot(doc, folder / "quality_vs_bytes.png")]
