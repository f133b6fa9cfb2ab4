"""A model's architecture as its ``config.json`` names it, in Ollama's spelling."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=64)
def architecture(folder: Path) -> str:
    """``bert``, ``nomic-bert``, ``xlm-roberta``...: ``model_type`` with ``-`` for ``_``;
    "" when the folder has no readable config."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(config.get("model_type") or "").replace("_", "-") if isinstance(config, dict) else ""
