"""An encoder whose dense layers skip the padding: the graph lembed exports for BERT-style
models (BERT, RoBERTa, XLM-RoBERTa with absolute positions).

A padded batch runs every matrix product, layer norm and GELU on ``rows × longest`` tokens,
so a batch of mixed lengths spends much of its work on padding: a server's window of 8
random STS sentences is 44 % padding. This encoder runs the embeddings on the padded batch,
gathers the real tokens once, and runs every dense layer on those only; each layer's
queries, keys and values go back to the padded layout just for attention, which is per input
and masked exactly as in the padded model. Inputs and output are the padded graph's
(``input_ids``, ``attention_mask``, ``token_type_ids`` → ``last_hidden_state`` [batch, seq,
dim], zeros on padding), so everything downstream is unchanged.

Measured on all-MiniLM-L6-v2, one thread, thread time (``docs/serving.md``): windows of 8
and 16 random STS sentences +25 % and +34 % sentences/s, length-sorted batches of 32 (1.8 %
padding) unchanged. ``export.export_onnx`` checks the graph against the padded torch model
and falls back to the padded export if it disagrees.
"""

from __future__ import annotations

from typing import Any

ARCHITECTURES = frozenset({"bert", "roberta", "xlm-roberta"})
# ONNX metadata on a graph exported this way: its passes cost their real tokens, not their
# padded ones (:func:`lembed.runtime.backends.padding_cost`).
METADATA_KEY = "lembed.unpadded"


def unpadded_encoder(hf: Any, torch: Any, accepted: tuple[str, ...]) -> Any | None:
    """``hf`` (a transformers BERT-style base model, eval mode) as a module computing its last
    hidden state without padding in the dense layers, taking ``accepted`` inputs positionally;
    ``None`` for any other architecture."""
    config = hf.config
    if (
        not type(hf).__module__.startswith("transformers.models.")  # remote code: its own layers
        or config.model_type not in ARCHITECTURES
        or getattr(config, "position_embedding_type", "absolute") != "absolute"
        or getattr(config, "is_decoder", False)
        or not hasattr(hf, "embeddings")
        or not hasattr(hf, "encoder")
    ):
        return None
    heads = int(config.num_attention_heads)
    width = int(config.hidden_size)
    size = width // heads

    class Unpadded(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.model = hf

        def forward(self, *args: Any) -> Any:
            given = dict(zip(accepted, args, strict=True))
            input_ids, mask = given["input_ids"], given["attention_mask"]
            batch, seq = input_ids.shape
            types = given.get("token_type_ids")
            x = self.model.embeddings(input_ids=input_ids, token_type_ids=types)
            flat = mask.reshape(-1)
            real = torch.nonzero(flat).squeeze(1)  # the real tokens' slots
            # each padded slot's row among the real tokens; a padding slot reads row 0 (its
            # query's output is dropped, its key masked), the output's zero row at the end
            rows = torch.cumsum(flat, 0) - 1
            slot = torch.where(flat > 0, rows, 0).view(batch, 1, seq)
            # One Gather each puts q, k and v in attention's [batch, head, slot, size] layout,
            # reading qkv as rows of one head's values: row (token * 3 + part) * heads + head.
            head = torch.arange(heads).view(1, heads, 1)
            picks = [((slot * 3 + part) * heads + head).reshape(-1) for part in range(3)]
            # and one Gather takes the context back: real token t's head h is row
            # (t's batch * heads + h) * seq + t's position of the [batch, head, slot] rows
            back = ((real // seq)[:, None] * heads + head.view(1, heads)) * seq
            back = (back + (real % seq)[:, None]).reshape(-1)
            tokens = real.shape[0]
            h = x.reshape(batch * seq, width).index_select(0, real).unsqueeze(0)
            bias = (1.0 - mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
            for layer in self.model.encoder.layer:
                attn = layer.attention.self
                weight = torch.cat([attn.query.weight, attn.key.weight, attn.value.weight])
                bias_qkv = torch.cat([attn.query.bias, attn.key.bias, attn.value.bias])
                qkv = torch.nn.functional.linear(h, weight, bias_qkv).reshape(-1, size)
                q, k, v = (qkv.index_select(0, i).view(batch, heads, seq, size) for i in picks)
                scores = torch.matmul(q, k.transpose(-1, -2)) * size**-0.5 + bias
                context = torch.matmul(scores.softmax(-1), v).reshape(-1, size)
                context = context.index_select(0, back).view(1, tokens, width)
                out = layer.attention.output
                h = out.LayerNorm(out.dense(context) + h)
                inner = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(h))
                h = layer.output.LayerNorm(layer.output.dense(inner) + h)
            zero = torch.zeros(1, 1, width, dtype=h.dtype)
            out_slot = torch.where(flat > 0, rows, tokens)
            padded = torch.cat([h, zero], 1)[0].index_select(0, out_slot)
            return padded.view(batch, seq, width)

    return Unpadded().eval()
