"""Ingest: from files to a searchable index (loaders, boilerplate, chunking, pipeline).

See :mod:`lembed.ingest.api` for ``index`` / ``search`` / ``collections`` / ``drop`` and
:mod:`lembed.ingest.pipeline` for what a run does.
"""

from __future__ import annotations

from lembed.ingest.api import collections, drop, index, search
from lembed.ingest.pipeline import IndexReport, Progress, chunk_id

__all__ = ["IndexReport", "Progress", "chunk_id", "collections", "drop", "index", "search"]
