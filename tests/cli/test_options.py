"""Shared CLI options: ``--backend`` help comes from the backend registry (a new backend
shows up in every command's help), and a bad ``LEMBED_*`` variable is a one-line error
with exit status 2. Real ``lembed`` processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lembed.runtime import registry

# Registers one more backend before the CLI is imported, then prints the help it asks for.
WITH_EXTRA_BACKEND = """
import sys
from lembed.runtime import registry
registry.BACKENDS["npu"] = registry.BackendKind("npu", registry.BACKENDS["fake"].make)
from lembed.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def help_of(*command: str) -> str:
    """The help text of ``command`` with the extra backend registered, white space folded."""
    out = subprocess.run(
        [sys.executable, "-c", WITH_EXTRA_BACKEND, *command, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode == 0, out.stderr
    return " ".join(out.stdout.split())


def test_backend_help_lists_the_registry() -> None:
    one = registry.choices().replace(" or fake", ", fake or npu")
    for command in ("embed", "serve", "index", "ask"):
        assert f"--backend <str> {one}" in help_of(command), command
    sweep = registry.choices(sweep=True).replace(" or fake", ", fake or npu")
    assert "onnx-int8" in sweep
    for words in (("bench",), ("eval", "retrieval"), ("eval", "sts")):
        assert f"{sweep}; repeat to sweep" in help_of(*words), words


def test_a_bad_environment_variable_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {"LEMBED_BACKEND": "xx", "LEMBED_MAX_CONNECTIONS": "many"}
    out = subprocess.run(
        [sys.executable, "-m", "lembed", "embed", "hello"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **env},
    )
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith(
        f"error: LEMBED_BACKEND: backend must be {registry.choices()}, not 'xx'; "
        "LEMBED_MAX_CONNECTIONS: "
    )
