"""A lexical BM25 index kept beside a vector collection (``bm25s``, English stop words and
Snowball stemming).

The chunks themselves (id, text, metadata) live in a small SQLite file; the BM25 matrices
are rebuilt from it after every change (``update``) and saved next to it, so a search only
loads arrays. ``lembed index`` keeps the index in step with the collection: it calls
:meth:`LexicalIndex.update` with the chunks of the files it indexed and the ids it deleted.

Where it lives: for stores with a local folder (``chroma:PATH``, ``qdrant:PATH``,
``qdrant+local:PATH``) in ``PATH/lexical/<collection>``; for servers, under the cache dir
(``<cache>/lexical/<hash of the URI>/<collection>``); ``memory:`` stores have none.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lembed.errors import StoreError, require
from lembed.stores.base import Hit, Metadata

Chunk = tuple[str, str, Metadata]  # id, text, metadata


def lexical_folder(store_uri: str, collection: str, cache_dir: Path) -> Path | None:
    """Where the BM25 index of ``collection`` in ``store_uri`` lives (None for memory:)."""
    scheme, _, rest = store_uri.partition(":")
    if scheme == "memory":
        return None
    if scheme in ("chroma", "qdrant", "qdrant+local"):
        default = {"chroma": "./.lembed/chroma", "qdrant": "./.lembed/qdrant"}
        base = Path(rest or default.get(scheme, "./.lembed/qdrant-local")).expanduser()
        return base / "lexical" / collection
    digest = hashlib.sha256(store_uri.encode()).hexdigest()[:16]
    return cache_dir / "lexical" / digest / collection


def _bm25s() -> Any:
    """bm25s, with its logger (set to DEBUG on import) quieted: its "Building index from
    tokens" lines would reach any root handler another library configured."""
    bm25s: Any = require("bm25s", "rag", "BM25 retrieval")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _tokenize(texts: Sequence[str]) -> Any:
    bm25s = _bm25s()
    stemmer_mod: Any = require("Stemmer", "rag", "BM25 retrieval (PyStemmer)")
    stemmer = stemmer_mod.Stemmer("english")
    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
    )


class BM25:
    """An in-memory BM25 index over ``(id, text, metadata)`` chunks."""

    def __init__(self, chunks: Sequence[Chunk], retriever: Any | None = None) -> None:
        self.ids = [c[0] for c in chunks]
        self._texts = [c[1] for c in chunks]
        self._metas = [c[2] for c in chunks]
        if retriever is None and chunks:
            retriever = _bm25s().BM25()
            retriever.index(_tokenize(self._texts), show_progress=False)
        self._bm25 = retriever

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The ``k`` best chunks for ``query`` by BM25 score (only those sharing a term)."""
        if self._bm25 is None or not self.ids:
            return []
        (tokens,) = _tokenize([query])
        tokens = [t for t in tokens if t in self._bm25.vocab_dict]
        if not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            Hit(self.ids[i], float(scores[i]), self._texts[i], dict(self._metas[i]))
            for i in top
            if scores[i] > 0
        ]


class LexicalIndex:
    """A persistent BM25 index in ``folder``: ``chunks.sqlite`` plus the bm25s arrays."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._db_path = folder / "chunks.sqlite"
        self._loaded: BM25 | None = None

    def exists(self) -> bool:
        return self._db_path.is_file()

    def _db(self) -> sqlite3.Connection:
        self.folder.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._db_path)
        db.execute(
            "CREATE TABLE IF NOT EXISTS chunks (id TEXT PRIMARY KEY, text TEXT, metadata TEXT)"
        )
        return db

    def count(self) -> int:
        if not self.exists():
            return 0
        db = self._db()
        try:
            return int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        finally:
            db.close()

    def update(
        self,
        chunks: Iterable[Chunk],
        deleted: Iterable[str] = (),
        keep: set[str] | None = None,
    ) -> None:
        """Insert or replace ``chunks``, drop ``deleted`` ids (and, given ``keep``, every id
        not in it: the collection's ids, so a dropped and rebuilt collection leaves no
        strays), and rebuild the BM25 arrays."""
        db = self._db()
        try:
            with db:
                db.executemany(
                    "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?)",
                    ((i, t, json.dumps(m)) for i, t, m in chunks),
                )
                db.executemany("DELETE FROM chunks WHERE id = ?", ((i,) for i in deleted))
                if keep is not None:
                    stray = [i for (i,) in db.execute("SELECT id FROM chunks") if i not in keep]
                    db.executemany("DELETE FROM chunks WHERE id = ?", ((i,) for i in stray))
            rows = db.execute("SELECT id, text, metadata FROM chunks ORDER BY id").fetchall()
        finally:
            db.close()
        index = BM25([(i, t, json.loads(m)) for i, t, m in rows])
        target = self.folder / "bm25"
        tmp = self.folder / f".bm25.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        if index._bm25 is not None:
            index._bm25.save(str(tmp), show_progress=False)
            (tmp / "ids.json").write_text(json.dumps(index.ids))
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        else:
            shutil.rmtree(target, ignore_errors=True)
        self._loaded = index

    def load(self) -> BM25:
        """The index for searching (loaded once per object)."""
        if self._loaded is not None:
            return self._loaded
        if not self.exists():
            raise StoreError(
                f"no BM25 index at {self.folder}: run `lembed index` on this collection "
                "(it builds the index beside it)"
            )
        target = self.folder / "bm25"
        if not (target / "ids.json").is_file():
            self._loaded = BM25([])
            return self._loaded
        retriever = _bm25s().BM25.load(str(target), show_progress=False)
        ids = json.loads((target / "ids.json").read_text())
        db = self._db()
        try:
            rows = dict(
                (i, (t, m)) for i, t, m in db.execute("SELECT id, text, metadata FROM chunks")
            )
        finally:
            db.close()
        chunks = [(i, rows[i][0], json.loads(rows[i][1])) for i in ids if i in rows]
        if len(chunks) != len(ids):
            raise StoreError(f"the BM25 index at {self.folder} is damaged: run `lembed index`")
        self._loaded = BM25(chunks, retriever)
        return self._loaded

    def search(self, query: str, k: int = 10) -> list[Hit]:
        return self.load().search(query, k)
