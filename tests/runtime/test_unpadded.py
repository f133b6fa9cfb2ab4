"""BERT-style graphs whose dense layers skip padding (``lembed.runtime.unpadded``): the
export of BERT (bge-small) and XLM-RoBERTa (bge-m3) fixtures is marked unpadded and gives
transformers' last hidden state on every real token of a mixed-length batch, zeros on the
padding; architectures it does not know are exported padded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lembed.engine.load import load_model
from lembed.engine.model import EmbeddingModel
from lembed.runtime.backends import UNPADDED_PADDING_COST, padding_cost
from lembed.runtime.unpadded import unpadded_encoder
from lembed.settings import Settings
from tests.fixtures.bert_small import bert_small
from tests.fixtures.bge_m3 import in_hub_cache

pytestmark = pytest.mark.model

TEXTS = [
    "a",
    "a sentence of a few more words than the first",
    "short one",
    "a longer input " * 12,
]


@pytest.fixture(scope="module", params=["bge-small-en-v1.5", "bge-m3"])
def case(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, settings: Settings
) -> tuple[EmbeddingModel, Path]:
    name = str(request.param)
    if name == "bge-m3":
        hub = tmp_path_factory.mktemp("hub")
        snap = in_hub_cache(hub)
    else:
        snap = bert_small("BAAI/bge-small-en-v1.5")
        hub = snap.parents[2]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_CACHE", str(hub))
        model = load_model(name, backend="onnx", settings=settings)
    return model, snap


def test_the_graph_skips_padding_and_matches_transformers(
    case: tuple[EmbeddingModel, Path],
) -> None:
    import torch
    import transformers

    model, snap = case
    backend = model.backend
    assert padding_cost(backend) == UNPADDED_PADDING_COST  # the graph says it is unpadded
    batch = model.tokenizer.pad(model.encode(TEXTS).encodings)
    mask = batch.attention_mask.astype(bool)
    assert (~mask).sum() > mask.sum()  # mostly padding: the case the graph is for
    got = backend.forward(batch)
    hf = transformers.AutoModel.from_pretrained(str(snap), attn_implementation="eager").eval()
    feed = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
    if hf.config.type_vocab_size > 1:
        feed["token_type_ids"] = batch.token_type_ids
    with torch.inference_mode():
        want = hf(**{k: torch.from_numpy(v) for k, v in feed.items()}).last_hidden_state.numpy()
    assert float(np.abs(got[mask] - want[mask]).max()) < 1e-4
    assert not got[~mask].any()
    # and the export floored its attention softmaxes (lembed.runtime.softmax_floor)
    import onnx

    graph = onnx.load(str(backend.graph), load_external_data=False).graph
    made = {out: node.op_type for node in graph.node for out in node.output}
    softmaxes = [node for node in graph.node if node.op_type == "Softmax"]
    assert softmaxes and all(made[node.input[0]] == "Max" for node in softmaxes)


def test_other_architectures_are_not_rewritten() -> None:
    import torch
    import transformers

    small = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    relative = transformers.BertConfig(
        vocab_size=64, intermediate_size=64, position_embedding_type="relative_key", **small
    )
    distil = transformers.DistilBertConfig(vocab_size=64, dim=32, n_layers=1, n_heads=2)
    for hf in (transformers.BertModel(relative), transformers.DistilBertModel(distil)):
        assert unpadded_encoder(hf.eval(), torch, ("input_ids", "attention_mask")) is None
