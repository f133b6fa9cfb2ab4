"""The softmax floor pass (``lembed.runtime.softmax_floor``): with masked attention scores
the real keys get the very same probabilities as before and a masked key at most e^-80 of
its row's largest, in opsets 17 and 18; other softmaxes are left alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lembed.runtime.softmax_floor import FLOOR, floor_softmax

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _attention_softmax(opset: int, axis: int = -1) -> Any:
    """Softmax(scores + bias) over [batch, heads, query, key], as an attention layer."""
    from onnx import TensorProto, helper

    node = helper.make_node("Add", ["scores", "bias"], ["masked"])
    soft = helper.make_node("Softmax", ["masked"], ["probs"], axis=axis, name="attn/Softmax")
    dims = ["batch", "heads", "query", "key"]

    def value(name: str, kind: int) -> Any:
        return helper.make_tensor_value_info(name, kind, dims)

    graph = helper.make_graph(
        [node, soft],
        "attention",
        [value("scores", TensorProto.FLOAT), value("bias", TensorProto.FLOAT)],
        [value("probs", TensorProto.FLOAT)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _run(model: Any, feed: dict[str, np.ndarray]) -> np.ndarray:
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, feed)[0])


@pytest.mark.parametrize("opset", [17, 18])
def test_masked_softmax_is_unchanged(opset: int) -> None:
    rng = np.random.default_rng(0)
    scores = (rng.standard_normal((5, 4, 23, 23)) * 4).astype(np.float32)
    mask = rng.random((5, 1, 1, 23)) < 0.5
    mask[:, :, :, 0] = False  # every row keeps a key
    bias = np.where(mask, np.finfo(np.float32).min, 0).astype(np.float32)
    feed = {"scores": scores, "bias": np.broadcast_to(bias, scores.shape).copy()}

    before = _run(_attention_softmax(opset), feed)
    model = _attention_softmax(opset)
    assert floor_softmax(model) == 1
    after = _run(model, feed)

    masked = np.broadcast_to(mask, after.shape)
    assert np.array_equal(after[~masked], before[~masked])
    assert not before[masked].any()
    top = after.max(axis=-1, keepdims=True)
    bound = np.broadcast_to(top, after.shape)[masked] * np.exp(-FLOOR) * (1 + 1e-5)
    assert (after[masked] <= bound).all()
    assert floor_softmax(model) == 0  # already floored


def test_a_softmax_over_another_axis_is_left_alone() -> None:
    model = _attention_softmax(17, axis=1)
    assert floor_softmax(model) == 0
    assert [n.op_type for n in model.graph.node] == ["Add", "Softmax"]
