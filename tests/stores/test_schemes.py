"""A store is one entry in ``lembed.stores.SCHEMES``: opening, errors, help, quantisation and
the writer lock all follow from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lembed.errors import ValidationError
from lembed.stores import SCHEMES, Scheme, open_client, quantizes, store_uris, writer_key
from lembed.stores.memory import MemoryClient


def test_a_new_scheme_is_one_entry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def folder_store(uri: str, rest: str, quantization: str) -> MemoryClient:
        return MemoryClient()

    entry = Scheme(folder_store, "mine:PATH", True, "folder", folder=True)
    monkeypatch.setitem(SCHEMES, "mine", entry)
    assert isinstance(open_client(f"mine:{tmp_path}", quantization="int8"), MemoryClient)
    assert "mine:PATH" in store_uris() and quantizes("mine:x")
    assert writer_key(f"mine:{tmp_path}", "a") == writer_key(f"mine:{tmp_path}/", "b")
    with pytest.raises(ValidationError, match="mine:PATH"):
        open_client("nope:x")


def test_built_in_schemes() -> None:
    assert store_uris() == (
        "chroma:PATH, chroma+http://HOST:PORT, qdrant:PATH, qdrant+http://HOST:PORT, "
        "qdrant+local:PATH or memory:"
    )
    assert quantizes("qdrant:./q") and quantizes("qdrant+https://h")
    assert not quantizes("chroma:./c") and not quantizes("qdrant+local:./q")
    assert writer_key("memory:", "c") is None and writer_key("nope:x", "c") is None
    assert writer_key("qdrant+http://h:6333/", "c") == "qdrant+http://h:6333 / c"
    with pytest.raises(ValidationError, match="do not quantise"):
        open_client("chroma:./c", quantization="int8")
