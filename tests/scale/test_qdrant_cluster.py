"""Qdrant cluster options in the store URI: parsed, checked, and turned into arguments that
qdrant-client's ``create_collection`` takes and the server's ``CreateCollection`` body
validates (no Qdrant server runs here: the request body is checked against its schema)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from lembed.errors import ValidationError
from lembed.stores.qdrant import Cluster, QdrantClient, parse_cluster

pytestmark = pytest.mark.store


def test_parse_cluster() -> None:
    url, cluster = parse_cluster(
        "http://qdrant:6333?shards=12&replicas=3&write_consistency=2&on_disk=true"
    )
    assert url == "http://qdrant:6333"
    assert cluster == Cluster(shards=12, replicas=3, write_consistency=2, on_disk=True)
    assert parse_cluster("http://qdrant:6333") == ("http://qdrant:6333", Cluster())
    for bad in (
        "shards=0",
        "replicas=two",
        "on_disk=maybe",
        "colour=red",
        "replicas=1&write_consistency=2",
    ):
        with pytest.raises(ValidationError):
            parse_cluster(f"http://qdrant:6333?{bad}")


def test_create_args_fit_the_client_and_the_server_schema() -> None:
    from qdrant_client import models

    cluster = Cluster(shards=6, replicas=2, write_consistency=2, on_disk=True)
    args = cluster.create_args()
    assert args == {
        "shard_number": 6,
        "replication_factor": 2,
        "write_consistency_factor": 2,
        "on_disk_payload": True,
    }
    accepted = inspect.signature(QdrantClient.__init__).parameters  # lembed's adapter
    assert "url" in accepted
    from qdrant_client import QdrantClient as Upstream

    assert set(args) <= set(inspect.signature(Upstream.create_collection).parameters)
    body = models.CreateCollection(
        vectors=models.VectorParams(size=384, distance=models.Distance.COSINE, on_disk=True),
        **args,
    )
    assert (body.shard_number, body.replication_factor, body.write_consistency_factor) == (6, 2, 2)
    assert Cluster().create_args() == {}


def test_open_creates_the_collection_with_them(tmp_path: Path) -> None:
    # no server here: qdrant-client's local mode takes the same create_collection call,
    # ignores the sharding arguments and keeps on_disk, which shows the call carried them
    client = QdrantClient(path=tmp_path / "q")
    client.cluster = Cluster(shards=4, replicas=2, write_consistency=2, on_disk=True)
    try:
        client.open("docs", 8, model="m")
        params = client._client.get_collection("docs").config.params
        assert params.vectors.on_disk is True and params.vectors.size == 8
    finally:
        client.close()
