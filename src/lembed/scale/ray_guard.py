"""Start (or join) Ray without letting it talk to anything but this machine.

Every ``ray.init`` that starts a local instance probes cloud metadata services
(``169.254.169.254``, ``metadata.google.internal``) to guess which cloud it runs on, even with
``RAY_USAGE_STATS_ENABLED=0``, and opens a UDP socket towards ``8.8.8.8`` to find the node's
"remotely reachable" address, which it then binds instead of the loopback one asked for.
:func:`ray_session` applies the guard lembed uses whenever it starts Ray itself:

- ``RAY_USAGE_STATS_ENABLED=0``: no usage report;
- ``HOME`` points at a fresh temporary folder holding ``ray_bootstrap_config.yaml`` with
  ``provider: {type: local}``: Ray reads the cloud from there and skips the metadata probes
  (its auth token and session files land there too, not in the user's home);
- ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: the single-node mode Ray uses on laptops, whose
  node address is ``127.0.0.1`` (no ``8.8.8.8`` lookup; nothing listens beyond loopback);
- no dashboard; ``_temp_dir`` (sockets, logs, spilled objects) inside the temporary folder.

The variables are set for the life of the session (the Ray processes inherit them) and
restored on exit, after ``ray.shutdown()``; the folder is removed. Caches that derive from
``HOME`` (the Hugging Face hub, lembed's ONNX cache) are pinned to their real locations
first, so models still resolve inside the session. ``benchmarks/scale_ray.py --strace``
proves the guard: every ``connect()`` of the whole process tree goes to loopback or a Unix
socket.

Joining an existing cluster (``address="auto"`` or ``"ray://head:10001"``) starts nothing
here: that cluster's operators own its configuration, so no guard is applied.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lembed.errors import ValidationError, require
from lembed.models.resolve import hf_cache_dir

BOOTSTRAP = "ray_bootstrap_config.yaml"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class RaySession:
    """What :func:`ray_session` started or joined."""

    address: str  # "local" when started here
    started: bool  # True when this process started (and will stop) the Ray instance
    resources: dict[str, float]
    home: Path | None  # the temporary HOME of a guarded local instance


def guard_env(home: Path) -> dict[str, str]:
    """The environment variables to set before a local ``ray.init`` (see the module doc).

    Writes ``home/ray_bootstrap_config.yaml``; pins the caches that would move with ``HOME``.
    """
    home.mkdir(parents=True, exist_ok=True)
    (home / BOOTSTRAP).write_text("provider:\n  type: local\n", encoding="utf-8")
    return {
        "HOME": str(home),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "HF_HUB_CACHE": str(hf_cache_dir()),
        "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"),
    }


@contextmanager
def patched_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block; restore what was there after."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in before.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextmanager
def _single_node(ray: Any) -> Iterator[None]:
    """Ray reads ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` once, when it is first imported: the
    Ray processes started now read the variable, this process gets the constant set."""
    constants = ray._private.ray_constants
    before = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = before


def check_address(address: str | None) -> str | None:
    if address in (None, "", "local"):
        return None
    if address == "auto" or address.startswith("ray://") or ":" in address:
        return address
    raise ValidationError(
        f"--address {address!r}: use 'auto' (the running cluster), ray://HOST:10001 "
        "(Ray Client), HOST:6379 (a head's GCS), or leave it out to start a local Ray",
        param="address",
    )


@contextmanager
def ray_session(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    object_store_mb: int | None = None,
) -> Iterator[RaySession]:
    """Ray for the block: join ``address``, or start a guarded local instance on loopback.

    ``num_cpus`` / ``num_gpus`` / ``object_store_mb`` size a local instance (default: what
    Ray detects); they are refused with an address, where the cluster decides. If Ray is
    already initialised in this process, it is used as it is and left running.
    """
    ray: Any = require("ray", "ray", "--engine ray")
    target = check_address(address)
    sized = num_cpus is not None or num_gpus is not None or object_store_mb is not None
    if target is not None and sized:
        raise ValidationError(
            "CPUs, GPUs and object store size are the cluster's own when joining one",
            param="address",
        )
    if ray.is_initialized():
        yield RaySession("existing", False, dict(ray.cluster_resources()), None)
        return
    if target is not None:
        ray.init(address=target, logging_level="WARNING", log_to_driver=False)
        try:
            yield RaySession(target, False, dict(ray.cluster_resources()), None)
        finally:
            ray.shutdown()
        return
    home = Path(tempfile.mkdtemp(prefix="lembed-ray-"))
    try:
        with patched_env(guard_env(home)), _single_node(ray):
            ray.init(
                num_cpus=num_cpus,
                num_gpus=num_gpus,
                object_store_memory=object_store_mb * 2**20 if object_store_mb else None,
                include_dashboard=False,
                _node_ip_address=LOOPBACK,
                _temp_dir=str(home / "ray"),
                logging_level="WARNING",
                log_to_driver=False,
            )
            try:
                yield RaySession("local", True, dict(ray.cluster_resources()), home)
            finally:
                ray.shutdown(wait_for_processes=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
