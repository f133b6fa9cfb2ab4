"""Retrieval-augmented generation: retrieve (dense, BM25, hybrid) → rerank → generate.

>>> from lembed.rag import ask                                   # doctest: +SKIP
>>> result = ask("How do I reset it?", store="chroma:./.lembed/chroma")  # doctest: +SKIP
>>> result.answer, result.citations, result.timings              # doctest: +SKIP
"""

from __future__ import annotations

from lembed.rag.pipeline import AskResult, ask

__all__ = ["AskResult", "ask"]
