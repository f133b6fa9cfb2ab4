"""Evaluation reports: one JSON document per run, rendered as Markdown and a PNG plot.

The JSON document is the source of truth (``--json`` prints it); the Markdown table and the
plot of quality against bytes per vector are drawn from it, so they never disagree.
"""

from __future__ import annotations

import json
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
        row["delta_first"] = 100 * (row["scores"][main] - rows[0]["scores"][main])
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
    setups = {(r["backend"], r["prefixes"]) for r in doc["results"]}
    first = len(setups) > 1  # several backends / prefix settings: also compare with row 1
    lines = [
        f"# {doc['task']} evaluation: {doc['model']} on {doc['dataset']}",
        "",
        f"{doc['size']}. Scores ×100; Δ = {main} points against the float32 result of the "
        "same backend, prefixes and dimensions"
        + (f"; Δ row 1 = against {doc['results'][0]['label']}" if first else "")
        + "; bytes = one stored vector.",
        "",
        "| variant | bytes | " + " | ".join(metrics) + " | Δ |" + (" Δ row 1 |" if first else ""),
        "|---|---:|" + "---:|" * (len(metrics) + 1 + first),
    ]
    for row in doc["results"]:
        cells = [_pct(row["scores"][m]) for m in metrics] + [f"{row['delta']:+.2f}"]
        cells += [f"{row['delta_first']:+.2f}"] if first else []
        lines.append(
            f"| {row['label']} | {row['bytes_per_vector']:,} | " + " | ".join(cells) + " |"
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


_MARKERS = {"float32": "o", "int8": "s", "int8+rescore": "D", "binary": "v", "binary+rescore": "^"}


def plot(doc: Doc, path: Path) -> Path:
    """Draw quality against bytes per vector as PNG: one point per variant, coloured by
    setup (backend, prefixes), shaped by stored dtype, labelled with its dimensions."""
    require("matplotlib", "eval", "the report plot")
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    main = doc["main_metric"]
    fig = Figure(figsize=(8, 5), dpi=120)
    ax = fig.subplots()
    colours = (None, [f"C{i}" for i in range(10)])
    groups: dict[str, str] = {}  # setup -> colour
    kinds: dict[str, str] = {}  # stored dtype -> marker
    labelled: set[tuple[int, int, float]] = set()
    for row in doc["results"]:
        marked = doc["task"] == "retrieval" and not row["prefixes"]
        setup = row["backend"] + (" no-prefix" if marked else "")
        colour = groups.setdefault(setup, colours[1][len(groups) % len(colours[1])])
        kind = row["dtype"] + ("+rescore" if row.get("rescore") else "")
        marker = kinds.setdefault(kind, _MARKERS.get(kind, "o"))
        x, y = row["bytes_per_vector"], 100 * row["scores"][main]
        ax.scatter([x], [y], color=colour, marker=marker, s=40, zorder=3, alpha=0.85)
        spot = (x, row["dimensions"], round(y))  # one "384d" label per neighbourhood
        if spot not in labelled:
            labelled.add(spot)
            ax.annotate(
                f"{row['dimensions']}d",
                (x, y),
                textcoords="offset points",
                xytext=(6, -3),
                fontsize=7,
            )
    handles = [
        Line2D([], [], color=c, marker="o", linestyle="", label=g) for g, c in groups.items()
    ]
    handles += [
        Line2D([], [], color="grey", marker=m, linestyle="", label=k) for k, m in kinds.items()
    ]
    ref = doc.get("reference")
    if ref:
        ax.axhline(
            100 * ref["score"],
            color="grey",
            linestyle="--",
            linewidth=1,
            label=f"published {100 * ref['score']:.2f}",
        )
        handles.append(
            Line2D(
                [], [], color="grey", linestyle="--", label=f"published {100 * ref['score']:.2f}"
            )
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
    ax.legend(handles=handles, fontsize=8, loc="lower right")
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
