"""One writer at a time per collection: an advisory file lock taken before any work.

Two ``lembed index`` runs into the same collection would both embed everything (Chroma) or
the second would fail after loading its model (embedded Qdrant holds its folder). The lock
is taken first, so the second run fails at once with a clear message instead.

The key is the store's location and the collection; embedded Qdrant (``qdrant:``,
``qdrant+local:``) locks its whole folder, so its key is the folder alone (each URI
scheme says which in ``lembed.stores.SCHEMES``: :func:`lembed.stores.writer_key`). Lock files live
in ``<cache_dir>/locks``; the operating system releases a lock when its process ends, even
on ``kill -9``, so a crashed run never leaves a stale lock. ``memory:`` stores are private
to their process and take no lock. Re-entrant within a process.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from lembed.errors import StoreBusyError
from lembed.stores import writer_key

_held: dict[str, tuple[IO[str], int]] = {}


@contextmanager
def writer_lock(store: str, collection: str, cache_dir: Path) -> Iterator[None]:
    """Hold the writer lock of ``collection`` in ``store``; :class:`StoreBusyError` at once
    if another process holds it."""
    key = writer_key(store, collection)
    try:
        import fcntl
    except ImportError:  # not POSIX: no advisory locks; concurrent runs are the user's call
        key = None
    if key is None:
        yield
        return
    if key in _held:  # re-entrant: the CLI takes it before loading, index() again inside
        fh, depth = _held[key]
        _held[key] = (fh, depth + 1)
        try:
            yield
        finally:
            fh, depth = _held[key]
            _held[key] = (fh, depth - 1)
        return
    folder = cache_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock")
    fh = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise StoreBusyError(
            f"{key} is being written by {holder}: wait for that run to finish, or index "
            "into another collection (--collection)"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"lembed index (pid {os.getpid()})\n")
    fh.flush()
    _held[key] = (fh, 1)
    try:
        yield
    finally:
        fh, depth = _held[key]
        if depth > 1:
            _held[key] = (fh, depth - 1)
        else:
            del _held[key]
            fh.close()  # releases the lock
