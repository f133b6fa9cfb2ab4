"""What a transformer's forward pass is run for: its hidden states, or a head's logits.

Embedding models are run for their last hidden state (``[batch, seq, hidden]``, pooled in
numpy afterwards); cross-encoders for their classification head's logits (``[batch,
labels]``), which :func:`relevance` turns into one score per (query, passage) pair. A
:class:`Head` names, for each, the transformers class that loads it, the output to keep,
how ONNX graphs name and shape it; the backends (onnx, torch) and the export recipe take a
head instead of hard-coding one, so a cross-encoder runs on the same tokenizer, padding,
providers and export as an embedding model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Head:
    """One kind of model output, shared by the export recipe and every backend."""

    name: str  # "hidden" or "logits"
    auto_class: str  # the transformers Auto* class that loads the model with this output
    output: str  # the model output's attribute, and the exported graph's output name
    onnx_names: tuple[str, ...]  # names a repository's own graph may give it, preferred first
    rank: int  # 3: [batch, seq, hidden]; 2: [batch, labels]
    pairs: bool  # inputs are (query, passage) pairs, token type ids 0 then 1


HIDDEN = Head(
    name="hidden",
    auto_class="AutoModel",
    output="last_hidden_state",
    onnx_names=("last_hidden_state", "token_embeddings"),
    rank=3,
    pairs=False,
)
LOGITS = Head(
    name="logits",
    auto_class="AutoModelForSequenceClassification",
    output="logits",
    onnx_names=("logits",),
    rank=2,
    pairs=True,
)


def relevance(logits: np.ndarray) -> np.ndarray:
    """One relevance score per row of a cross-encoder's logits: the single logit, or for a
    two-label head the log-odds of label 1 ("relevant")."""
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim == 1 or logits.shape[1] == 1:
        return logits.reshape(-1)
    return np.asarray(logits[:, 1] - logits[:, 0], dtype=np.float32)
