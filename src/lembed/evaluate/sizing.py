"""Sizing before buying: storage per dtype (raw vectors plus an HNSW graph) and the time
to embed a corpus at a given rate.

Sizes are printed in binary units (KiB, MiB, GiB: powers of 1024), which is what the
seed's figures are: 1,000,000 × 768 float32 = 3,072,000,000 bytes = 2.9 GiB; int8 = 732 MiB.

The HNSW estimate follows hnswlib's memory layout (the index behind Chroma; Qdrant's is
close): each vector keeps ``2·M`` neighbour ids of 4 bytes on layer 0 plus a 4-byte count,
an 8-byte label, a 4-byte level and an 8-byte pointer to its upper layers; a vector
reaches layer ``l`` with probability ``M^-l``, so upper layers add ``(4·M + 4) / (M - 1)``
bytes on average. Payloads, ids kept by the store and write-ahead logs are not included.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from lembed.errors import ValidationError
from lembed.evaluate.search import STORE_DTYPES, StoreDtype, bytes_per_vector

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(n: float) -> str:
    """``3_072_000_000`` -> ``"2.9 GiB"``: one decimal under 10, none above."""
    if n < 1024:
        return f"{n:,.0f} B"
    power = min(int(math.log(n, 1024)), len(UNITS) - 1)
    value = n / 1024**power
    if round(value, 1) >= 1024 and power < len(UNITS) - 1:
        power, value = power + 1, value / 1024
    return f"{value:.1f} {UNITS[power]}" if value < 10 else f"{value:,.0f} {UNITS[power]}"


def human_duration(seconds: float) -> str:
    """``555.6`` -> ``"9 min 16 s"``; ``26_316`` -> ``"7 h 19 min"``; days past 48 h."""
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 48 * 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s / 86400:.1f} days"


def hnsw_bytes_per_vector(m: int = 16) -> float:
    """Average bytes of HNSW graph per vector for ``M`` links per node (hnswlib layout)."""
    if m < 2:
        raise ValidationError("HNSW M must be at least 2")
    layer0 = 2 * m * 4 + 4
    upper = (4 * m + 4) / (m - 1)
    return layer0 + upper + 8 + 4 + 8


@dataclass(frozen=True)
class SizeRow:
    dtype: str
    bytes_per_vector: int
    raw_bytes: int
    hnsw_bytes: int
    total_bytes: int


def storage_table(
    vectors: int, dim: int, dtypes: tuple[str, ...] = STORE_DTYPES, hnsw_m: int | None = 16
) -> list[SizeRow]:
    """Raw and indexed size of ``vectors`` vectors of ``dim`` dimensions for each dtype."""
    if vectors < 1 or dim < 1:
        raise ValidationError("--vectors and --dim must be positive")
    rows = []
    graph = round(vectors * hnsw_bytes_per_vector(hnsw_m)) if hnsw_m else 0
    for dtype in dtypes:
        if dtype not in STORE_DTYPES:
            raise ValidationError(f"dtype must be one of {', '.join(STORE_DTYPES)}, not {dtype!r}")
        per = bytes_per_vector(dim, dtype)
        raw = vectors * per
        rows.append(SizeRow(dtype, per, raw, graph, raw + graph))
    return rows


def size_report(
    vectors: int,
    dim: int,
    dtypes: tuple[StoreDtype, ...] = STORE_DTYPES,
    hnsw_m: int | None = 16,
    rate: float | None = None,
    rate_source: str = "given",
) -> dict[str, Any]:
    """The ``lembed size`` document: storage rows, and embedding time when a rate is known."""
    rows = storage_table(vectors, dim, dtypes, hnsw_m)
    doc: dict[str, Any] = {
        "vectors": vectors,
        "dim": dim,
        "hnsw_m": hnsw_m,
        "rows": [asdict(r) for r in rows],
    }
    if rate is not None:
        if rate <= 0:
            raise ValidationError("the embedding rate must be positive")
        doc["embed"] = {"rate": rate, "source": rate_source, "seconds": vectors / rate}
    return doc


def size_markdown(doc: dict[str, Any]) -> str:
    m = doc["hnsw_m"]
    lines = [
        f"{doc['vectors']:,} vectors × {doc['dim']} dimensions",
        "",
        "| dtype | bytes/vector | raw vectors | HNSW graph"
        + (f" (M={m})" if m else "")
        + " | total |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in doc["rows"]:
        lines.append(
            f"| {r['dtype']} | {r['bytes_per_vector']:,} | {human_bytes(r['raw_bytes'])} | "
            f"{human_bytes(r['hnsw_bytes']) if m else '-'} | {human_bytes(r['total_bytes'])} |"
        )
    lines += ["", "Units are binary (1 GiB = 1024³ bytes); raw = vectors × bytes/vector."]
    if "embed" in doc:
        e = doc["embed"]
        lines.append(
            f"Embedding {doc['vectors']:,} documents at {e['rate']:,.0f} embeddings/s "
            f"({e['source']}): {human_duration(e['seconds'])}."
        )
    return "\n".join(lines) + "\n"
