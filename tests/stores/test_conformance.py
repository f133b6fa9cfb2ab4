"""One conformance suite over every store adapter (memory, Chroma embedded and server, Qdrant
embedded (edge) and qdrant-client local mode), checked against exact numpy search."""

from __future__ import annotations

import numpy as np
import pytest

from lembed.errors import StoreError, ValidationError
from lembed.stores import Hit, VectorStore
from tests.stores.conftest import ClientFactory

pytestmark = pytest.mark.store

DIM = 16


def vectors(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def fill(store: VectorStore, n: int, seed: int = 0) -> np.ndarray:
    vecs = vectors(n, seed)
    store.upsert(
        [f"id-{i}" for i in range(n)],
        vecs,
        [f"text {i}" for i in range(n)],
        [{"parity": "even" if i % 2 == 0 else "odd", "i": i, "big": i >= n // 2} for i in range(n)],
    )
    return vecs


def exact(vecs: np.ndarray, q: np.ndarray, k: int, rows: list[int] | None = None) -> list[int]:
    rows = list(range(len(vecs))) if rows is None else rows
    unit = vecs[rows] / np.linalg.norm(vecs[rows], axis=1, keepdims=True)
    scores = unit @ (q / np.linalg.norm(q))
    return [rows[j] for j in np.argsort(-scores)[:k]]


def test_upsert_count_and_replace(make_client: ClientFactory, collection_name: str) -> None:
    store = make_client().open(collection_name, DIM, model="m")
    assert store.count() == 0
    vecs = fill(store, 20)
    assert store.count() == 20
    store.upsert(["id-3"], vecs[4:5], ["replaced"], [{"parity": "x", "i": 3, "big": False}])
    assert store.count() == 20
    top = store.query(vecs[4], k=2)
    assert {h.id for h in top} == {"id-3", "id-4"}
    replaced = next(h for h in top if h.id == "id-3")
    assert replaced.text == "replaced"
    assert replaced.metadata == {"parity": "x", "i": 3, "big": False}


def test_query_ranks_like_exact_search(make_client: ClientFactory, collection_name: str) -> None:
    store = make_client().open(collection_name, DIM)
    vecs = fill(store, 200)
    for q in vectors(10, seed=1):
        hits = store.query(q, k=10)
        assert all(isinstance(h, Hit) for h in hits)
        assert [h.id for h in hits] == [f"id-{j}" for j in exact(vecs, q, 10)]
        want = vecs[exact(vecs, q, 10)] @ q / np.linalg.norm(vecs[exact(vecs, q, 10)], axis=1)
        np.testing.assert_allclose([h.score for h in hits], want / np.linalg.norm(q), atol=1e-4)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_vectors_are_normalised_on_insert_and_query(
    make_client: ClientFactory, collection_name: str
) -> None:
    store = make_client().open(collection_name, DIM)
    v = vectors(2, seed=3)
    store.upsert(["long", "short"], np.stack([v[0] * 50, v[1] * 0.01]), ["a", "b"], [{}, {}])
    hit = store.query(v[0] * 1e-3, k=1)[0]
    assert hit.id == "long"
    assert hit.score == pytest.approx(1.0, abs=1e-4)


def test_metadata_filters(make_client: ClientFactory, collection_name: str) -> None:
    store = make_client().open(collection_name, DIM)
    vecs = fill(store, 40)
    hits = store.query(vecs[1], k=40, where={"parity": "even"})
    assert len(hits) == 20 and all(h.metadata["parity"] == "even" for h in hits)
    both = store.query(vecs[1], k=40, where={"parity": "odd", "big": True})
    assert {h.id for h in both} == {f"id-{i}" for i in range(21, 40, 2)}
    assert [h.id for h in store.query(vecs[1], k=5, where={"i": 7})] == ["id-7"]
    assert store.query(vecs[1], k=5, where={"parity": "none"}) == []
    assert store.count(where={"parity": "odd"}) == 20
    assert set(store.scan(where={"big": False})) == {f"id-{i}" for i in range(20)}


def test_k_larger_than_collection(make_client: ClientFactory, collection_name: str) -> None:
    store = make_client().open(collection_name, DIM)
    vecs = fill(store, 3)
    assert len(store.query(vecs[0], k=50)) == 3
    with pytest.raises(ValidationError):
        store.query(vecs[0], k=0)


def test_delete_by_id_and_filter(make_client: ClientFactory, collection_name: str) -> None:
    store = make_client().open(collection_name, DIM)
    vecs = fill(store, 30)
    store.delete(ids=["id-0", "id-1", "no-such-id"])
    assert store.count() == 28
    store.delete(where={"parity": "odd"})
    assert store.count() == 14
    assert set(store.scan()) == {f"id-{i}" for i in range(2, 30, 2)}
    assert "id-0" not in {h.id for h in store.query(vecs[0], k=30)}
    store.delete()  # nothing named: nothing deleted
    assert store.count() == 14


def test_scan_pages_through_everything(make_client: ClientFactory, collection_name: str) -> None:
    store = make_client().open(collection_name, DIM)
    fill(store, 1100)  # more than one page (1000) of every adapter's scroll
    meta = store.scan()
    assert len(meta) == 1100
    assert meta["id-1050"] == {"parity": "even", "i": 1050, "big": True}


def test_bad_input_is_refused_and_writes_nothing(
    make_client: ClientFactory, collection_name: str
) -> None:
    store = make_client().open(collection_name, DIM)
    fill(store, 5)
    bad = [
        (["a"], vectors(1, dim=DIM + 1), ["t"], [{}]),  # wrong dimension
        (["a", "b"], vectors(1), ["t"], [{}]),  # lengths differ
        (["a"], np.zeros((1, DIM), np.float32), ["t"], [{}]),  # no direction
        (["a"], np.full((1, DIM), np.nan, np.float32), ["t"], [{}]),
        (["a"], vectors(1), ["t"], [{"nested": {"x": 1}}]),  # not a flat scalar
        (["a", "a"], vectors(2), ["t", "u"], [{}, {}]),  # duplicate ids
    ]
    for ids, vecs, texts, metas in bad:
        with pytest.raises(ValidationError):
            store.upsert(ids, vecs, texts, metas)  # type: ignore[arg-type]
    assert store.count() == 5
    with pytest.raises(ValidationError):
        store.query(vectors(1, dim=DIM - 1)[0])


def test_collections_list_reopen_and_drop(
    kind: str, make_client: ClientFactory, collection_name: str
) -> None:
    client = make_client()
    fill(client.open(collection_name, DIM, model="my-model"), 7)
    info = {c.name: c for c in client.collections()}[collection_name]
    assert (info.count, info.dim, info.model) == (7, DIM, "my-model")
    with pytest.raises(ValidationError):
        client.open(collection_name, DIM * 2)
    if kind != "memory":  # persistent stores keep the data across clients
        client.close()
        again = make_client()
        assert again.get(collection_name).count() == 7
        client = again
    assert client.drop(collection_name) is True
    assert client.drop(collection_name) is False
    with pytest.raises(StoreError):
        client.get(collection_name)
    assert collection_name not in {c.name for c in client.collections()}


def test_fanout_writes_everywhere_and_reads_the_first() -> None:
    from lembed.stores.fanout import FanOut
    from lembed.stores.memory import MemoryStore

    a, b = MemoryStore("a", DIM), MemoryStore("b", DIM)
    fan = FanOut([a, b])
    vecs = fill(fan, 10)  # type: ignore[arg-type]
    assert a.scan() == b.scan() and fan.count() == 10
    fan.delete(ids=["id-1"])
    assert a.count() == b.count() == 9
    assert fan.query(vecs[2], k=1)[0].id == "id-2"
    with pytest.raises(ValidationError):
        FanOut([a, MemoryStore("c", DIM + 1)])
