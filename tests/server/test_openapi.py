import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_matches_live_schema() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from openapi import live_schema  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    committed = (ROOT / "openapi.json").read_text()
    assert committed == live_schema(), "openapi.json is stale: run `make openapi`"
