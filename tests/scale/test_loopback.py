"""Nothing leaves the machine: every connect() of the process tree, under strace, goes to
loopback, a Unix socket or the kernel — for the ONNX engine (onnxruntime's telemetry, which
resolves mobile.events.data.microsoft.com about 9 s in unless ORT_DISABLE_TELEMETRY is set
before it loads) and for ``lembed index --engine ray`` starting its own Ray (cloud metadata
probes, the 8.8.8.8 address lookup)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from lembed.settings import Settings
from tests.netcheck import connect_targets, traced

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace"),
]


def clean_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "ORT_"))}
    env["LEMBED_CACHE_DIR"] = str(settings.cache_dir)
    return env


def test_parser_sorts_targets() -> None:
    log = "\n".join(
        [
            '1 connect(3, {sa_family=AF_UNIX, sun_path="/tmp/lembed-ray-ab12/ray/session_x/'
            'sockets/raylet"}, 86) = 0',
            '2 connect(4, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("169.254.'
            '169.254")}, 16) = -1 EINPROGRESS',
            "3 connect(5, {sa_family=AF_INET6, sin6_port=htons(6379), sin6_flowinfo=htonl(0), "
            'inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
            "3 <... connect resumed>) = 0",
        ]
    )
    got = connect_targets(log)
    assert dict(got.outside) == {"AF_INET 169.254.169.254:80": 1}
    assert dict(got.local) == {
        "unix:/tmp/lembed-ray-*/ray/session_*/sockets/raylet": 1,
        "AF_INET6 loopback ::ffff:127.0.0.1": 1,
    }


@pytest.mark.model
def test_onnx_engine_connects_to_nothing_outside(settings: Settings) -> None:
    code = (
        "import time, lembed\n"
        "lembed.load_model().embed(['hello world'] * 32)\n"
        "time.sleep(12)\n"  # onnxruntime's telemetry fires about 9 s in
    )
    got = traced([sys.executable, "-c", code], clean_env(settings), timeout=300)
    assert got.exit_status == 0
    assert not got.outside, dict(got.outside)


def test_ray_index_connects_to_nothing_outside(settings: Settings, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"{i}.txt").write_text(f"Document number {i}.\n", encoding="utf-8")
    env = clean_env(settings) | {"LEMBED_BACKEND": "fake"}
    cmd = [sys.executable, "-m", "lembed", "index", str(docs), "--store", "memory:",
           "--engine", "ray", "--json"]  # fmt: skip
    got = traced(cmd, env, timeout=400)
    assert got.exit_status == 0
    assert not got.outside, dict(got.outside)
    assert any(k.startswith("unix:/tmp/lembed-ray-") for k in got.local)  # Ray ran, here
