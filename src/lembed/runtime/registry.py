"""Backend name → factory: the one table embedding models and cross-encoders are run from.

Each :class:`BackendKind` says how to build its runtime for a resolved model (a factory
taking the model, the run :class:`Options`, the task adapter and the output
:class:`~lembed.runtime.cross_encoder.Head`) and what it can do (quantisation modes, compute
precisions, whether it runs a cross-encoder's logits head). ``Settings.backend``, the CLI's
``--backend``, :func:`lembed.engine.load.load_model` and
:func:`lembed.engine.cross_encoder.load_cross_encoder` all check names against
:data:`BACKENDS`, so adding a backend is one entry here (plus its module and tests).
Runtimes are imported inside their factory: importing this module loads none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lembed.errors import ValidationError
from lembed.runtime.cross_encoder import HIDDEN, Head

if TYPE_CHECKING:
    from lembed.models.rerankers import ResolvedReranker
    from lembed.models.resolve import ResolvedModel
    from lembed.runtime.backends import Backend
    from lembed.runtime.backends.fake import Fault

    Runnable = ResolvedModel | ResolvedReranker

QUANTIZE: tuple[str, ...] = ("none", "int8")


@dataclass(frozen=True)
class Options:
    """How a runtime runs (read from :class:`~lembed.settings.Settings` by the loaders)."""

    cache_dir: Path
    threads: int = 0
    device: str = "auto"
    quantize: str = "none"
    precision: str = "fp32"
    fake_delay_s: float = 0.0
    fake_fault: Fault = ""


Factory = Callable[["Runnable", Options, "str | None", Head], "Backend"]


@dataclass(frozen=True)
class BackendKind:
    """One runtime: its name, its factory and what it supports."""

    name: str
    make: Factory
    quantize: tuple[str, ...] = ("none",)
    precisions: tuple[str, ...] = ("fp32",)
    logits: bool = True  # runs a cross-encoder's head; otherwise cross-encoders use "onnx"


def _onnx(model: Runnable, opts: Options, task: str | None, head: Head) -> Backend:
    from lembed.runtime.backends.onnx import OnnxBackend
    from lembed.runtime.checkpoints import tasks_of
    from lembed.runtime.export import onnx_graph

    graph = onnx_graph(model, opts.cache_dir, opts.quantize, task=task, head=head)
    ids = tasks_of(model.path)
    task_id = ids.index(task) if task in ids else None
    return OnnxBackend(graph, threads=opts.threads, device=opts.device, task_id=task_id, head=head)


def _openvino(model: Runnable, opts: Options, task: str | None, head: Head) -> Backend:
    from lembed.runtime.backends.openvino import OpenVinoBackend
    from lembed.runtime.export import onnx_graph

    # the fp32 ONNX graph, on OpenVINO (bf16 where it pays)
    graph = onnx_graph(model, opts.cache_dir, task=task, head=head)
    return OpenVinoBackend(graph, threads=opts.threads, precision=opts.precision, head=head)


def _torch(model: Runnable, opts: Options, task: str | None, head: Head) -> Backend:
    from lembed.runtime.backends.torch import TorchBackend

    return TorchBackend(model, threads=opts.threads, device=opts.device, task=task, head=head)


def _fake(model: Runnable, opts: Options, task: str | None, head: Head) -> Backend:
    from lembed.models.resolve import ResolvedModel
    from lembed.runtime.backends.fake import FakeBackend

    if not isinstance(model, ResolvedModel) or head is not HIDDEN:
        raise ValidationError("the fake backend runs embedding models only", param="backend")
    return FakeBackend(model.spec.dim, delay_s=opts.fake_delay_s, fault=opts.fake_fault)


BACKENDS: dict[str, BackendKind] = {
    kind.name: kind
    for kind in (
        BackendKind("onnx", _onnx, quantize=QUANTIZE),
        BackendKind("torch", _torch),
        BackendKind("openvino", _openvino, precisions=("fp32", "bf16"), logits=False),
        BackendKind("fake", _fake, logits=False),
    )
}


def names() -> tuple[str, ...]:
    """The backend names, in the registry's order."""
    return tuple(BACKENDS)


def _either(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def choices(*, sweep: bool = False) -> str:
    """The names as a help text (``onnx, torch, openvino or fake``); ``sweep``: the
    :func:`variants` instead (``onnx, onnx-int8, ...``)."""
    return _either(tuple(variants()) if sweep else names())


def backend_kind(name: str) -> BackendKind:
    """The registered backend ``name``, or a :class:`ValidationError` listing the names."""
    kind = BACKENDS.get(name)
    if kind is None:
        raise ValidationError(f"backend must be {_either(names())}, not {name!r}", param="backend")
    return kind


def check(name: str, quantize: str = "none", precision: str = "fp32") -> BackendKind:
    """The backend ``name`` after checking it supports ``quantize`` and ``precision``."""
    if quantize not in QUANTIZE:
        quoted = tuple(repr(q) for q in QUANTIZE)
        raise ValidationError(
            f"quantize must be {_either(quoted)}, not {quantize!r}", param="quantize"
        )
    kind = backend_kind(name)
    if quantize not in kind.quantize:
        able = tuple(k.name for k in BACKENDS.values() if quantize in k.quantize)
        raise ValidationError(
            f"{quantize} quantisation is available on the {_either(able)} backend only",
            param="quantize",
        )
    if precision not in kind.precisions:
        able = tuple(k.name for k in BACKENDS.values() if precision in k.precisions)
        raise ValidationError(
            f"precision {precision} needs the {_either(able)} backend", param="precision"
        )
    return kind


def variants() -> dict[str, tuple[str, str]]:
    """Sweepable names (``onnx``, ``onnx-int8``, ...) → (backend, quantize), for bench and
    evaluation: each backend at fp32 weights, then each of its quantised modes."""
    out: dict[str, tuple[str, str]] = {}
    for kind in BACKENDS.values():
        out[kind.name] = (kind.name, "none")
        for q in kind.quantize:
            if q != "none":
                out[f"{kind.name}-{q}"] = (kind.name, q)
    return out


def build(
    model: Runnable, name: str, opts: Options, *, task: str | None = None, head: Head = HIDDEN
) -> Backend:
    """The runtime of backend ``name`` for ``model`` (validated by :func:`check`)."""
    kind = check(name, opts.quantize, opts.precision)
    return kind.make(model, opts, task, head)
