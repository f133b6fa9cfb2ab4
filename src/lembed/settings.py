"""One typed settings object, read from ``LEMBED_*`` environment variables when built.

Build it once (``Settings()``) at the entry point and pass it down; nothing reads the
environment at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lembed.errors import LembedError
from lembed.runtime import registry

Precision = Literal["fp32", "bf16"]
Quantize = Literal["none", "int8"]


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lembed"


class Settings(BaseSettings):
    """lembed's configuration (environment prefix ``LEMBED_``)."""

    model_config = SettingsConfigDict(env_prefix="LEMBED_", extra="ignore")

    model: str = Field("all-minilm-l6-v2", description="default model name, alias or path")
    backend: str = Field(
        "onnx", description=f"runtime: {', '.join(registry.names())} (fake: tests); default onnx"
    )
    quantize: Quantize = Field("none", description="onnx weights: none (fp32) or int8")
    precision: Precision = Field(
        "fp32", description="openvino compute: fp32, or bf16 (used where the CPU has AMX-BF16)"
    )
    device: str = Field("auto", description="auto, cpu or cuda")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="exported ONNX graphs")
    threads: int = Field(0, ge=0, description="inference threads; 0 = one per core")
    # CPU-tuned (benchmarks/throughput.py): activations of a 2048-token batch stay in cache;
    # on all-MiniLM-L6-v2 passages ran 1.2x faster than at 8192. Raise both on a GPU.
    batch_tokens: int = Field(
        2048, ge=1, description="token budget of one forward pass, padding included"
    )
    max_batch_size: int = Field(32, ge=1, description="most inputs in one forward pass")
    batch_workers: int = Field(
        0,
        ge=0,
        description="server: forward passes run side by side per model; 0 = auto (2 on a "
        "multi-core CPU with an ONNX model under 1 GiB, else 1)",
    )
    allow_model_paths: bool = Field(True, description="allow a model to be a local folder path")
    fake_delay_ms: float = Field(0, ge=0, description="fake backend: delay per batch (tests)")
    fake_fault: Literal["", "nan", "error", "crash", "hang"] = Field(
        "", description="fake backend: inject a fault (failure tests)"
    )
    # server
    host: str = Field("127.0.0.1", description="address `lembed serve` binds")
    port: int = Field(11434, ge=0, le=65535, description="port `lembed serve` listens on")
    api_key: str | None = Field(None, description="require 'Authorization: Bearer <key>'")
    max_inputs: int = Field(2048, ge=1, description="most inputs in one request")
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="largest request body")
    max_queue: int = Field(4096, ge=1, description="most inputs waiting; more → overloaded")
    max_queue_tokens: int = Field(
        262_144, ge=1, description="most tokens waiting (estimated); more → overloaded"
    )
    max_wait_s: float = Field(
        10.0,
        gt=0,
        description="longest expected or actual wait for a batch; longer → overloaded at once",
    )
    stall_s: float = Field(
        120.0, gt=0, description="a forward pass running longer is a hung runtime: health 503"
    )
    public_metrics: bool = Field(False, description="serve /metrics without the API key")
    header_timeout_s: float = Field(
        10.0, gt=0, description="close connections whose request headers take longer"
    )
    max_connections: int = Field(
        1024, ge=1, description="most open connections (idle ones included); more → 503"
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        """Only a registered backend (:data:`lembed.runtime.registry.BACKENDS`)."""
        try:
            registry.backend_kind(value)
        except LembedError as exc:  # pydantic reports a ValueError, naming the choices
            raise ValueError(str(exc)) from None
        return value


def default(name: str) -> Any:
    """The default of setting ``name`` as declared in :class:`Settings`: the one place
    defaults live, so objects built without a ``Settings`` (the Python API, tests) run the
    same values as those built from one."""
    return Settings.model_fields[name].default
