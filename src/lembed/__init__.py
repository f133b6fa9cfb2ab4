"""lembed: local text embeddings, served over the APIs you already use.

>>> import lembed
>>> model = lembed.load_model("all-minilm")          # doctest: +SKIP
>>> model.embed(["hello world"]).vectors.shape       # doctest: +SKIP
(1, 384)

Importing lembed loads neither torch nor onnxruntime; backends load on first use.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# onnxruntime (1.32 measured) resolves mobile.events.data.microsoft.com to send telemetry from
# Linux too; only this variable, set before onnxruntime loads, stops it (its Python
# disable_telemetry_events() does not). Local means nothing leaves the machine: default it off.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
__all__ = ["EmbeddingModel", "Embeddings", "Settings", "__version__", "errors", "load_model"]

if TYPE_CHECKING:
    from lembed import errors
    from lembed.engine.load import load_model
    from lembed.engine.model import EmbeddingModel, Embeddings
    from lembed.settings import Settings


def __getattr__(name: str) -> Any:
    import importlib

    where = {
        "load_model": "lembed.engine.load",
        "EmbeddingModel": "lembed.engine.model",
        "Embeddings": "lembed.engine.model",
        "Settings": "lembed.settings",
    }
    if name == "errors":
        return importlib.import_module("lembed.errors")
    if name in where:
        return getattr(importlib.import_module(where[name]), name)
    raise AttributeError(f"module 'lembed' has no attribute {name!r}")
