"""RAG fixtures: a tiny randomly initialised BERT cross-encoder built in a temp folder."""

from __future__ import annotations

import string
from pathlib import Path

import pytest


def build_tiny_cross_encoder(
    folder: Path, seed: int = 0, *, hidden: int = 32, layers: int = 2
) -> Path:
    """A small random BERT (by default 2 layers, 32 wide) with one relevance logit and a
    letter-level WordPiece tokenizer, saved in the sentence-transformers CrossEncoder
    layout."""
    import torch
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertForSequenceClassification

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = {tok: i for i, tok in enumerate(specials + chars + [f"##{c}" for c in chars])}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
        num_labels=1,
        pad_token_id=0,
        initializer_range=0.5,  # spread the random scores apart
    )
    BertForSequenceClassification(config).eval().save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_reranker_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-cross-encoder"))
