"""Where a model's ONNX graph comes from: the repo's own ``onnx/`` folder, or a one-time
export of its HF weights with ``torch.onnx.export``, cached under the user cache dir.

int8 graphs are made from the fp32 one with ONNX Runtime's dynamic quantisation
(per-channel weights) and cached beside it. The same recipe exports a cross-encoder for its
logits (``head=LOGITS``, :mod:`lembed.runtime.cross_encoder`), into a folder of its own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from lembed.errors import BackendError, require
from lembed.models.rerankers import ResolvedReranker
from lembed.models.resolve import ResolvedModel
from lembed.runtime.cross_encoder import HIDDEN, Head
from lembed.runtime.softmax_floor import floor_softmax
from lembed.runtime.unpadded import METADATA_KEY as UNPADDED_KEY
from lembed.runtime.unpadded import unpadded_encoder

log = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# Bumped whenever the export recipe changes, so caches made by an older recipe are not reused.
# Protobuf caps one file at 2 GiB: a graph whose weights pass this many bytes (bge-m3 fp32:
# 2.3 GB) keeps them in one external-data file beside it, ``<graph>.onnx_data`` as the hub's
# onnx/ folders name it. ONNX Runtime finds it by the relative name stored in the graph.
EXTERNAL_DATA_BYTES = 2**31 - 2**27  # 1.875 GiB, headroom for the graph's own protobuf
EXPORT_RECIPE = (
    "eager-attention-v2;unpadded-bert-v2;native-ports-v1;int8-dynamic+blockwise-down-v1;"
    "softmax-floor-v1"
)


def fingerprint(folder: Path) -> str:
    """A short hash identifying the weights and config in ``folder`` (cheap: no full read)."""
    digest = hashlib.sha256(EXPORT_RECIPE.encode())
    for path in sorted(folder.iterdir()):
        if path.name == "config.json" or path.suffix in {".safetensors", ".bin"}:
            size = path.stat().st_size
            digest.update(f"{path.name}:{size}".encode())
            with path.open("rb") as fh:
                digest.update(fh.read(1 << 20))
                if size > 1 << 20:
                    fh.seek(-(1 << 20), os.SEEK_END)
                    digest.update(fh.read())
    return digest.hexdigest()[:16]


Exportable = ResolvedModel | ResolvedReranker


def cache_folder(model: Exportable, cache_dir: Path, head: Head = HIDDEN) -> Path:
    safe = "".join(c if c.isalnum() or c in "-._" else "-" for c in model.spec.name)
    kind = "" if head is HIDDEN else f"{head.name}-"  # a cross-encoder: "<name>-logits-<fp>"
    return cache_dir / "onnx" / f"{safe}-{kind}{fingerprint(model.path)}"


def onnx_graph(
    model: Exportable,
    cache_dir: Path,
    quantize: str = "none",
    task: str | None = None,
    head: Head = HIDDEN,
) -> Path:
    """The path of an ONNX graph for ``model`` (fp32 or int8), building it once if needed.

    The repository's own ``onnx/model.onnx`` wins; a graph with a ``task_id`` input (jina's)
    serves every task. Otherwise each task adapter gets its own export with that task's
    LoRA merged into the weights (``model.<task>.onnx``).
    """
    own = model.path / "onnx" / "model.onnx"
    folder = cache_folder(model, cache_dir, head)
    stem = "model" if task is None or own.is_file() else f"model.{task}"
    fp32 = own if own.is_file() else folder / f"{stem}.onnx"
    if not fp32.is_file():
        _atomic(fp32, lambda tmp: export_onnx(model, tmp, task=task, head=head))
    if quantize == "none":
        return fp32
    int8 = folder / f"{stem}.int8.onnx"
    if not int8.is_file():
        _atomic(int8, lambda tmp: quantize_int8(fp32, tmp))
    return int8


def _atomic(target: Path, build: Any) -> None:
    """Build into a temporary file and move it into place, so readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        build(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def export_onnx(
    model: Exportable, target: Path, *, task: str | None = None, head: Head = HIDDEN
) -> None:
    """Export the HF weights in ``model.path`` (``task``'s adapter merged) to one ONNX file
    whose output is ``head``'s (the last hidden state, or a cross-encoder's logits).

    A BERT-style encoder's last hidden state is exported unpadded
    (:mod:`lembed.runtime.unpadded`); should that graph disagree with torch, the padded
    export is made instead."""
    torch: Any = require("torch", "torch", "Exporting a model to ONNX")
    require("transformers", "torch", "Exporting a model to ONNX")
    log.info("exporting %s to ONNX (once; cached at %s)", model.spec.name, target.parent)
    hf = _load_for_export(model, task, head)
    accepted = _accepted_inputs(hf)
    fast = unpadded_encoder(hf, torch, accepted) if head is HIDDEN else None
    if fast is not None:
        try:
            _trace(fast, hf, accepted, target, torch, head, unpadded=True)
            _check_export(hf, accepted, target, torch, head)
            return
        except Exception as exc:  # any failure: the padded export instead
            log.warning("%s: no unpadded graph (%s); exporting it padded", model.spec.name, exc)

    class LastHidden(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.model = hf

        def forward(self, *args: Any) -> Any:
            return getattr(self.model(**dict(zip(accepted, args, strict=True))), head.output)

    _trace(LastHidden().eval(), hf, accepted, target, torch, head, unpadded=False)
    _check_export(hf, accepted, target, torch, head)


def _trace(
    module: Any,
    hf: Any,
    accepted: tuple[str, ...],
    target: Path,
    torch: Any,
    head: Head,
    *,
    unpadded: bool,
) -> None:
    """``torch.onnx.export`` of ``module`` to ``target`` (marked unpadded in its metadata)."""
    # A realistic dummy: a padded row, so no "mask is all ones" shortcut is traced in.
    example = {
        "input_ids": torch.full((2, 8), min(1000, _vocab(hf) - 1), dtype=torch.long),
        "attention_mask": torch.tensor([[1] * 8, [1] * 5 + [0] * 3], dtype=torch.long),
        "token_type_ids": torch.from_numpy(_types(hf, head, (2, 8))),
    }
    dummy = tuple(example[name] for name in accepted)
    axes = {name: {0: "batch", 1: "sequence"} for name in accepted}
    axes[head.output] = {0: "batch", 1: "sequence"} if head.rank == 3 else {0: "batch"}
    with (
        torch.no_grad(),
        warnings.catch_warnings(),
        tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as scratch,
    ):
        warnings.simplefilter("ignore")  # tracer chatter; the graph is checked after
        raw = Path(scratch) / "raw" / "model.onnx"  # torch may write >2 GB graphs as many files
        raw.parent.mkdir()
        torch.onnx.export(
            module,
            dummy,
            str(raw),
            input_names=list(accepted),
            output_names=[head.output],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
        save_graph(raw, target, Path(scratch), {UNPADDED_KEY: "1"} if unpadded else {})


def external_data_name(graph: Path) -> str:
    """The external-data file of ``graph``: ``model.onnx`` → ``model.onnx_data`` (the name
    ``_atomic``'s temporary ``.model.onnx.<pid>.tmp`` will end up with)."""
    name = graph.name
    if name.startswith(".") and name.endswith(".tmp"):
        name = name[1:].rsplit(".", 2)[0]
    return f"{name}_data"


def save_graph(
    raw: Path, target: Path, scratch: Path, metadata: dict[str, str] | None = None
) -> None:
    """Write the exported graph ``raw`` to ``target`` (its softmaxes floored,
    :mod:`lembed.runtime.softmax_floor`; ``metadata`` added to its metadata_props): one
    file, or, past :data:`EXTERNAL_DATA_BYTES` of weights, the graph plus one external-data
    file (moved in place before the graph, so a graph on disk always finds its weights)."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(raw))
    floor_softmax(proto)
    if metadata:
        onnx.helper.set_model_props(proto, metadata)
    weights = sum(
        len(t.raw_data) if t.raw_data else numpy_helper.to_array(t).nbytes
        for t in proto.graph.initializer
    )
    if weights <= EXTERNAL_DATA_BYTES:
        onnx.save_model(proto, str(target))
        return
    data = external_data_name(target)
    staged = scratch / "external" / data.removesuffix("_data")
    staged.parent.mkdir()
    onnx.save_model(
        proto,
        str(staged),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data,
        size_threshold=1024,
    )
    log.info("%s: %.2f GB of weights, stored as external data %s", target, weights / 1e9, data)
    os.replace(staged.parent / data, target.parent / data)
    os.replace(staged, target)


def _types(hf: Any, head: Head, shape: tuple[int, int]) -> Any:
    """Token type ids of a dummy input: a pair (0s, then 1s) for a cross-encoder whose
    model has a second type, else all 0."""
    import numpy as np

    types = np.zeros(shape, dtype=np.int64)
    if head.pairs and int(getattr(hf.config, "type_vocab_size", 1) or 1) >= 2:
        types[:, shape[1] // 2 :] = 1
    return types


def _load_for_export(model: Exportable, task: str | None = None, head: Head = HIDDEN) -> Any:
    """The HF model in eval mode, with plain ("eager") attention where the model has it.

    Traced SDPA attention exports as extra masking ops (``IsNaN``/``Where`` on every score
    tensor); the eager path exports as MatMul/Softmax/MatMul only. Measured on
    all-MiniLM-L6-v2 with one thread: passages +7 % tokens/s, short sentences unchanged,
    same outputs (cosine to the SDPA graph >= 0.9999998).
    """
    from lembed.runtime.checkpoints import load_transformer

    return load_transformer(
        model.path,
        task=task,
        trust_remote_code=model.spec.trust_remote_code,
        attn_implementation="eager",
        auto_class=head.auto_class,
    )


def _check_export(
    hf: Any, accepted: tuple[str, ...], graph: Path, torch: Any, head: Head = HIDDEN
) -> None:
    """Compare the graph with the torch model on a padded batch of another shape.

    Tracing fixes Python-level branches to the dummy input; a graph that only works for
    that shape must never be cached.
    """
    import numpy as np
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    vocab = _vocab(hf)  # ids 1000-2000, or the upper half of a small test vocabulary
    ids = rng.integers(min(1000, vocab // 2), min(2000, vocab), size=(3, 37), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[1, 20:] = 0
    mask[2, 5:] = 0
    types = _types(hf, head, ids.shape) * mask
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    (got,) = session.run([head.output], {k: feed[k] for k in accepted})
    with torch.inference_mode():
        out = hf(**{k: torch.from_numpy(feed[k]) for k in accepted})
        want = getattr(out, head.output).numpy()
    valid = mask.astype(bool) if head.rank == 3 else slice(None)  # logits: one row a pair
    err = float(np.abs(got[valid] - want[valid]).max())
    if not err < 1e-3:
        raise BackendError(f"the exported ONNX graph disagrees with torch (max error {err:.2g})")


def _vocab(hf: Any) -> int:
    return int(hf.get_input_embeddings().num_embeddings)


def _accepted_inputs(hf: Any) -> tuple[str, ...]:
    import inspect

    params = inspect.signature(hf.forward).parameters
    return tuple(name for name in INPUT_NAMES if name in params)


def ffn_down_projections(graph_path: Path) -> list[str]:
    """MatMul nodes whose weight contracts a wider input (the FFN down-projection).

    Their inputs are post-GELU activations with large outliers; quantising them costs most
    of int8's error (measured on all-MiniLM-L6-v2: min cosine to fp32 0.977 with them, 0.982
    without), so they stay fp32.
    """
    import onnx

    graph = onnx.load(str(graph_path), load_external_data=False).graph
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    names = []
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        dims = next((shapes[i] for i in node.input if i in shapes), ())
        if len(dims) == 2 and dims[0] > dims[1]:
            names.append(node.name)
    return names


def quantize_int8(fp32: Path, target: Path) -> None:
    """int8 MatMul weights: dynamic per-channel, and block-wise for the FFN down-projections.

    Most MatMuls get ONNX Runtime's dynamic quantisation (int8 weights with one scale per
    output channel, activations quantised per tensor at run time). The FFN down-projections
    take post-GELU activations with large outliers, where one scale per tensor costs most of
    int8's error; they get 8-bit weights in blocks of 64 with activations quantised per
    block instead (``MatMulNBits``, accuracy level 4 = int8 compute). Measured on
    all-MiniLM-L6-v2 with one thread: 1.9x fp32 on short sentences and 1.8x on passages, at
    the accuracy of keeping those projections fp32 (1.6x / 1.6x). Where this ONNX Runtime
    cannot build or run that op, the down-projections stay fp32.
    """
    require("onnx", "int8", "int8 quantisation")  # ONNX Runtime's quantiser works on onnx graphs
    from onnxruntime.quantization import QuantType, quantize_dynamic

    down = ffn_down_projections(fp32)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs advice about pre-processing on the root logger
    try:
        quantize_dynamic(
            str(fp32),
            str(target),
            per_channel=True,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=down,
        )
        if down:
            _blockwise_int8(target, down)
    finally:
        root.setLevel(level)


def _blockwise_int8(graph: Path, nodes: list[str], block: int = 64) -> None:
    """Rewrite ``nodes`` of ``graph`` in place as 8-bit block-quantised ``MatMulNBits``."""
    import onnx
    import onnxruntime as ort

    trial = graph.with_name(f".{graph.name}.blockwise")
    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )

        config = DefaultWeightOnlyQuantConfig(
            block_size=block, is_symmetric=True, accuracy_level=4, bits=8
        )
        quantizer = MatMulNBitsQuantizer(
            onnx.load(str(graph)),
            bits=8,
            block_size=block,
            is_symmetric=True,
            accuracy_level=4,
            nodes_to_include=nodes,
            algo_config=config,
        )
        quantizer.process()
        quantizer.model.save_model_to_file(str(trial), False)
        ort.InferenceSession(str(trial), providers=["CPUExecutionProvider"])  # loads here?
    except Exception as exc:  # an older onnxruntime: keep the fp32 down-projections
        log.warning("block-wise int8 unavailable (%s); FFN down-projections stay fp32", exc)
        trial.unlink(missing_ok=True)
        return
    os.replace(trial, graph)
