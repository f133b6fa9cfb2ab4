"""OpenVINO backend: the same ONNX graph on Intel's CPU runtime, fp32 or bf16 compute.

``precision="bf16"`` asks OpenVINO to run the matrix products in bfloat16 — a faster
exact-enough mode where the CPU multiplies bf16 in hardware tiles (AMX-BF16, Sapphire
Rapids and later): an earlier probe measured 1.8x the fp32 engine at min cosine 0.99994 on
such a CPU. Without AMX it does not pay: on a Xeon with AVX512-BF16 and AVX512-FP16 but no
AMX (this project's build machine), bf16 ran at 0.6-0.9x and f16 at 0.6-0.8x of
ONNX Runtime fp32 (one thread, STS sentences and 240-token passages; benchmarks/throughput.py
--engines onnx openvino-bf16-forced: 0.72x / 0.86x at min cosine 0.99998 / 0.99997).
So bf16 engages only where :func:`bf16_pays` finds AMX-BF16 and OpenVINO reports BF16;
elsewhere it warns once and runs fp32. OpenVINO is an extra
(``pip install 'lembed[openvino]'``), imported here only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lembed.errors import BackendError, ValidationError, require
from lembed.runtime.cross_encoder import HIDDEN, Head
from lembed.runtime.tokenizer import Batch

log = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16")
_warned: set[str] = set()


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is not there)."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bf16_pays(capabilities: Iterable[str], flags: Iterable[str]) -> str | None:
    """``None`` when bf16 compute is worth it here, else why not (for the warning)."""
    if "BF16" not in set(capabilities):
        return "OpenVINO reports no BF16 support on this CPU"
    if "amx_bf16" not in set(flags):
        return "this CPU has no AMX-BF16 (bf16 without it measured 0.6-0.9x of fp32 on AVX512-BF16)"
    return None


def warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning("%s", message)


class OpenVinoBackend:
    name = "openvino"
    device = "cpu"

    def __init__(
        self,
        graph: Path,
        *,
        threads: int = 0,
        precision: str = "fp32",
        head: Head = HIDDEN,
        detect: bool = True,
    ) -> None:
        """``detect=False`` applies ``precision`` even where it does not pay (benchmarks)."""
        if precision not in PRECISIONS:
            raise ValidationError(
                f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}",
                param="precision",
            )
        ov: Any = require("openvino", "openvino", "The openvino backend")
        core = ov.Core()
        self.graph = graph
        self.requested = precision
        if precision == "bf16" and detect:
            caps = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            why = bf16_pays(caps, cpu_flags())
            if why is not None:
                warn_once("bf16", f"bf16 asked for, running fp32: {why}")
                precision = "fp32"
        self.precision = precision
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            "PERFORMANCE_HINT": "LATENCY",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            compiled = core.compile_model(core.read_model(str(graph)), "CPU", config)
        except Exception as exc:
            raise BackendError(f"cannot load ONNX graph {graph} with OpenVINO: {exc}") from exc
        self._inputs = [i.get_any_name() for i in compiled.inputs]
        names = [o.get_any_name() for o in compiled.outputs]
        wanted = [n for n in head.onnx_names if n in names]
        if not wanted:
            ranked = [
                o.get_any_name()
                for o in compiled.outputs
                if o.get_partial_shape().rank.get_length() == head.rank
            ]
            if not ranked:
                raise BackendError(f"ONNX graph {graph} has no {head.name} output")
            wanted = ranked
        self._output = compiled.output(wanted[0])
        self._request = compiled.create_infer_request()

    def forward(self, batch: Batch) -> np.ndarray:
        feed = {
            "input_ids": batch.input_ids,
            "attention_mask": batch.attention_mask,
            "token_type_ids": batch.token_type_ids,
        }
        result = self._request.infer({k: feed[k] for k in self._inputs})
        return np.array(result[self._output], dtype=np.float32)
