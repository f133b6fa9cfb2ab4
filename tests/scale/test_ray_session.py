"""The guarded local Ray: loopback only, sized as asked, its HOME a temporary folder holding
the bootstrap file that stops the cloud probes; joining a cluster refuses local sizing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lembed.errors import ValidationError
from lembed.scale.ray_guard import BOOTSTRAP, RaySession, ray_session


def test_local_ray_is_guarded(local_ray: RaySession) -> None:
    import ray

    assert local_ray.resources["CPU"] == 2
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
    assert local_ray.home is not None and os.environ["HOME"] == str(local_ray.home)
    assert (Path(local_ray.home) / BOOTSTRAP).is_file()
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"

    @ray.remote(num_cpus=1)
    def seen() -> tuple[str, str, str]:
        return os.environ["HOME"], os.environ["RAY_USAGE_STATS_ENABLED"], os.environ["HF_HUB_CACHE"]

    home, stats, hub = ray.get(seen.remote())
    assert (home, stats, hub) == (str(local_ray.home), "0", os.environ["HF_HUB_CACHE"])


def test_existing_ray_is_reused(local_ray: RaySession) -> None:
    with ray_session() as again:
        assert again.address == "existing" and not again.started


def test_joining_refuses_local_sizing() -> None:
    with pytest.raises(ValidationError, match="cluster"), ray_session("auto", num_cpus=2):
        pass
