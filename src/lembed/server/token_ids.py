"""Token-id inputs of ``POST /v1/embeddings``: accepted only when they are this model's.

OpenAI's API takes token ids as input, and clients use it: LangChain's ``OpenAIEmbeddings``
with its defaults tokenises every text with tiktoken (``cl100k_base``) and sends the ids. A
list of integers does not say which tokenizer made it, and most tiktoken ids of English text
are also valid ids of a BERT vocabulary, so decoding them with this model's tokenizer embeds
some other text and answers 200 with a wrong vector.

The rule: token ids are accepted only when the request says they come from the served
model's own tokenizer, with the lembed extension field ``"tokenizer": "<model>"`` naming the
model served (its name or an alias; e.g. ids from ``POST /tokenize``). Anything else is a
400 that says what to change: send text (LangChain: ``check_embedding_ctx_length=False``),
or name the tokenizer.
"""

from __future__ import annotations

from typing import Any

from lembed.engine.pool import ModelPool, ServedModel
from lembed.errors import LembedError, ValidationError

LANGCHAIN_HINT = "OpenAIEmbeddings(..., check_embedding_ctx_length=False)"


def texts_of(served: ServedModel, items: Any, tokenizer: str | None, pool: ModelPool) -> list[str]:
    """The texts of a request's ``input``; token ids are decoded when declared as this
    model's (``tokenizer``), refused otherwise."""
    if isinstance(items, str):
        return [items]
    if not items or isinstance(items[0], str):
        return list(items)
    name = served.model.name
    if not tokenizer or not _same_model(pool, tokenizer, served):
        said = "" if not tokenizer else f' ("tokenizer": {tokenizer!r} is not {name!r})'
        raise ValidationError(
            "input is token ids, and lembed cannot tell which tokenizer made them"
            f"{said}: OpenAI clients send tiktoken ids (LangChain's OpenAIEmbeddings does by "
            "default), which would embed some other text. Send the text instead (LangChain: "
            f"{LANGCHAIN_HINT}), or, for ids from this model's own tokenizer (POST /tokenize), "
            f'add "tokenizer": "{name}"',
            param="input",
        )
    rows = [items] if isinstance(items[0], int) else items
    vocab = served.model.tokenizer.vocab_size
    texts = []
    for i, ids in enumerate(rows):
        if not ids:
            raise ValidationError(f"input[{i}] is an empty list of token ids", param="input")
        bad = next((t for t in ids if not 0 <= t < vocab), None)
        if bad is not None:
            raise ValidationError(
                f"input[{i}] has token id {bad}, outside the vocabulary of {name} "
                f"(0..{vocab - 1}); send the text instead",
                param="input",
            )
        texts.append(served.model.tokenizer.decode(ids))
    return texts


def _same_model(pool: ModelPool, tokenizer: str, served: ServedModel) -> bool:
    try:
        return pool.get(tokenizer) is served
    except LembedError:  # not served here: not this model's tokenizer
        return False
