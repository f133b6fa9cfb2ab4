"""Store adapters raise StoreError (chained to the client's own exception), never a raw
chromadb / qdrant exception; lembed's own errors pass through."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lembed.errors import StoreError, ValidationError
from lembed.stores import open_client
from lembed.stores.boundary import translate_errors

pytestmark = pytest.mark.store


def test_a_chromadb_error_comes_out_as_store_error(tmp_path: Path) -> None:
    client = open_client(f"chroma:{tmp_path / 'db'}")
    try:
        store = client.open("docs", 4, model="m")
        store.upsert(["a"], np.eye(4, dtype=np.float32)[:1], ["text"], [{"k": 1}])
        with pytest.raises(StoreError, match="chroma query failed: ValueError") as err:
            store.query(np.ones(4, dtype=np.float32), k=1, where={"k": {"$gt": "x"}})
        assert isinstance(err.value.__cause__, ValueError)
    finally:
        client.close()


def test_decorated_methods_translate_and_keep_lembed_errors() -> None:
    @translate_errors("toy")
    class Toy:
        def boom(self) -> None:
            raise KeyError("deep inside the client")

        def refuse(self) -> None:
            raise ValidationError("bad argument")

        def _private(self) -> None:
            raise KeyError("untouched")

    with pytest.raises(StoreError, match="toy boom failed: KeyError: 'deep inside the client'"):
        Toy().boom()
    with pytest.raises(ValidationError):
        Toy().refuse()
    with pytest.raises(KeyError):
        Toy()._private()
