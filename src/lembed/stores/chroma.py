"""Chroma adapters: embedded (``PersistentClient``, the default store) and server (``HttpClient``).

Collections are created with cosine space and no embedding function (lembed embeds; Chroma
must never load its own model). Telemetry is off. Chroma reports cosine *distance*; hits
carry the similarity ``1 - distance``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lembed.errors import StoreError, require
from lembed.stores.base import (
    CollectionInfo,
    Hit,
    Metadata,
    Where,
    check_batch,
    check_dim,
    check_k,
    unit,
)
from lembed.stores.boundary import translate_errors

_PAGE = 1000


def _where(where: Where | None) -> dict[str, Any] | None:
    if not where:
        return None
    if len(where) == 1:
        return dict(where)
    return {"$and": [{key: value} for key, value in where.items()]}


@translate_errors("chroma")
class ChromaStore:
    """One Chroma collection."""

    def __init__(self, collection: Any, dim: int, max_batch: int) -> None:
        self._col = collection
        self.name: str = collection.name
        self.dim = dim
        self._max_batch = max_batch

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        vecs = check_batch(ids, vectors, texts, metadatas, self.dim)
        for start in range(0, len(ids), self._max_batch):
            end = start + self._max_batch
            self._col.upsert(
                ids=list(ids[start:end]),
                embeddings=vecs[start:end],
                documents=list(texts[start:end]),
                metadatas=[dict(m) or None for m in metadatas[start:end]],
            )

    def query(self, vector: np.ndarray, k: int = 10, where: Where | None = None) -> list[Hit]:
        check_k(k)
        q = unit(vector, self.dim)
        res = self._col.query(
            query_embeddings=q,
            n_results=k,
            where=_where(where),
            include=["documents", "metadatas", "distances"],
        )
        return [
            Hit(id_, 1.0 - float(dist), doc or "", dict(meta or {}))
            for id_, dist, doc, meta in zip(
                res["ids"][0],
                res["distances"][0],
                res["documents"][0],
                res["metadatas"][0],
                strict=True,
            )
        ]

    def delete(self, ids: Sequence[str] | None = None, where: Where | None = None) -> None:
        for start in range(0, len(ids or ()), self._max_batch):
            self._col.delete(ids=list(ids[start : start + self._max_batch]))  # type: ignore[index]
        if where:
            self._col.delete(where=_where(where))

    def count(self, where: Where | None = None) -> int:
        if not where:
            return int(self._col.count())
        return len(self.scan(where))

    def scan(self, where: Where | None = None) -> dict[str, Metadata]:
        out: dict[str, Metadata] = {}
        offset = 0
        while True:
            page = self._col.get(
                where=_where(where), include=["metadatas"], limit=_PAGE, offset=offset
            )
            for id_, meta in zip(page["ids"], page["metadatas"], strict=True):
                out[id_] = dict(meta or {})
            if len(page["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def close(self) -> None:
        pass


@translate_errors("chroma")
class ChromaClient:
    """A Chroma folder (embedded) or server; holds collections."""

    def __init__(self, *, path: str | Path | None = None, url: str | None = None) -> None:
        chromadb = require("chromadb", "chroma", "the Chroma store")
        config = require("chromadb.config", "chroma", "the Chroma store")
        settings = config.Settings(anonymized_telemetry=False)
        try:
            if url is not None:
                from urllib.parse import urlsplit

                parts = urlsplit(url)
                self.uri = f"chroma+{url}"
                self._client = chromadb.HttpClient(
                    host=parts.hostname or "localhost",
                    port=parts.port or 8000,
                    ssl=parts.scheme == "https",
                    settings=settings,
                )
            else:
                folder = Path(path or ".lembed/chroma")
                folder.mkdir(parents=True, exist_ok=True)
                self.uri = f"chroma:{folder}"
                self._client = chromadb.PersistentClient(path=str(folder), settings=settings)
            self._max_batch = int(self._client.get_max_batch_size())
        except Exception as exc:  # connection refused, unreadable folder, ...
            raise StoreError(f"cannot open Chroma at {url or path}: {exc}") from exc

    def open(self, name: str, dim: int, model: str | None = None) -> ChromaStore:
        meta: dict[str, Any] = {"lembed_dim": dim}
        if model:
            meta["lembed_model"] = model
        col = self._client.get_or_create_collection(
            name,
            metadata=meta,
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
        have = (col.metadata or {}).get("lembed_dim")
        if have is not None:
            check_dim(name, int(have), dim)
        return ChromaStore(col, dim, self._max_batch)

    def get(self, name: str) -> ChromaStore:
        try:
            col = self._client.get_collection(name, embedding_function=None)
        except Exception as exc:
            raise StoreError(f"no collection {name!r} in {self.uri}") from exc
        dim = (col.metadata or {}).get("lembed_dim")
        if dim is None:
            raise StoreError(f"collection {name!r} in {self.uri} was not made by lembed")
        return ChromaStore(col, int(dim), self._max_batch)

    def collections(self) -> list[CollectionInfo]:
        out = []
        for col in self._client.list_collections():
            meta = col.metadata or {}
            dim = meta.get("lembed_dim")
            out.append(
                CollectionInfo(
                    col.name,
                    int(col.count()),
                    int(dim) if dim is not None else None,
                    meta.get("lembed_model"),
                )
            )
        return out

    def drop(self, name: str) -> bool:
        if name not in {c.name for c in self._client.list_collections()}:
            return False
        self._client.delete_collection(name)
        return True

    def close(self) -> None:
        """Release the client (SQLite handles, HTTP connections); idempotent."""
        clients = [self._client, getattr(self._client, "_admin_client", None)]
        servers = [getattr(c, "_server", None) for c in clients if c is not None]
        self._client.close()
        shared = require("chromadb.api.shared_system_client", "chroma", "the Chroma store")
        if self._client._identifier in shared.SharedSystemClient._identifier_to_system:
            return  # another client still uses this system
        for server in servers:  # chromadb 1.5 stops the system but leaves httpx.Clients open
            session = getattr(server, "_session", None)
            if session is not None:
                session.close()
