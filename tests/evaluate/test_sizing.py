"""Storage and time sizing, checked against the seed's figures."""

from __future__ import annotations

import pytest

from lembed.errors import ValidationError
from lembed.evaluate.sizing import (
    hnsw_bytes_per_vector,
    human_bytes,
    human_duration,
    size_markdown,
    size_report,
    storage_table,
)


def test_seed_storage_figures() -> None:
    rows = {r.dtype: r for r in storage_table(1_000_000, 768)}
    assert rows["float32"].raw_bytes == 3_072_000_000
    assert human_bytes(rows["float32"].raw_bytes) == "2.9 GiB"
    assert human_bytes(rows["int8"].raw_bytes) == "732 MiB"
    assert rows["binary"].bytes_per_vector == 96
    # seed: 100 K vectors -> 293 MB (768-d) / 391 MB (1024-d), in MiB
    assert human_bytes(100_000 * 3072) == "293 MiB" and human_bytes(100_000 * 4096) == "391 MiB"


def test_seed_indexing_times() -> None:
    assert human_duration(100_000 / 180) == "9 min 16 s"  # seed: ≈ 9 min
    assert human_duration(10_000_000 / 4800) == "34 min 43 s"  # seed: ≈ 35 min
    assert human_duration(1_000_000_000 / 38_000) == "7 h 18 min"  # seed: ≈ 7 h
    assert human_duration(3.25) == "3.2 s" and human_duration(10 * 86400) == "10.0 days"


def test_hnsw_graph_estimate() -> None:
    # hnswlib, M=16: 2M links of 4 B + count on layer 0, label, level, pointer, upper layers
    assert hnsw_bytes_per_vector(16) == pytest.approx(132 + 68 / 15 + 20)
    assert hnsw_bytes_per_vector(32) > hnsw_bytes_per_vector(16)
    row = storage_table(1000, 384, ("int8",), hnsw_m=16)[0]
    assert row.total_bytes == 384_000 + round(1000 * hnsw_bytes_per_vector(16))
    assert storage_table(1000, 384, ("int8",), hnsw_m=None)[0].hnsw_bytes == 0


def test_report_and_errors() -> None:
    doc = size_report(1_000_000, 768, rate=180.0, rate_source="seed")
    assert doc["embed"]["seconds"] == pytest.approx(5555.56, abs=0.01)
    text = size_markdown(doc)
    assert "| float32 | 3,072 | 2.9 GiB | 149 MiB | 3.0 GiB |" in text
    assert "at 180 embeddings/s (seed): 1 h 32 min" in text
    with pytest.raises(ValidationError, match="positive"):
        storage_table(0, 768)
    with pytest.raises(ValidationError, match="dtype must be one of"):
        storage_table(10, 768, ("float16",))
    with pytest.raises(ValidationError, match="rate must be positive"):
        size_report(10, 8, rate=0)
    assert human_bytes(512) == "512 B" and human_bytes(1023.99 * 1024**2) == "1.0 GiB"
