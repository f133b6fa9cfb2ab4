"""An embedding model ready to use: tokenizer + backend + the model's rules.

``EmbeddingModel.embed`` applies the model's query/document prefix, enforces its context
window (error, or truncate and report), runs length-sorted batches cut by a token budget
that counts padding (:mod:`lembed.engine.batching`), pools, L2-normalises, and shapes the
output (Matryoshka dimensions, int8/binary).
"""

from __future__ import annotations

import dataclasses
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from tokenizers import Encoding

from lembed.engine.batching import Truncate, check_texts, plan_batches, truncate_mode
from lembed.errors import InputTooLongError, ValidationError
from lembed.models.catalog import OUTPUTS, ModelSpec, Output
from lembed.models.resolve import ResolvedModel
from lembed.runtime.backends import Backend
from lembed.runtime.outputs import ExtraOutputs, SparseVector
from lembed.runtime.pooling import l2_normalize, pool
from lembed.runtime.quantize import OUTPUT_DTYPES, OutputDtype, quantize, truncate_dims
from lembed.runtime.tokenizer import Direction, Tokenizer
from lembed.settings import default

InputType = Literal["query", "document", "none"]
INPUT_TYPES: tuple[InputType, ...] = ("query", "document", "none")


class MatryoshkaWarning(UserWarning):
    """Dimensions were cut on a model not trained for that size."""


@dataclass(frozen=True)
class Encoded:
    """Texts tokenised for one model: exact counts and which ones were cut."""

    encodings: list[Encoding]
    truncated: list[int] = field(default_factory=list)
    task: str | None = None  # the task adapter the input type selects (jina-embeddings-v3)

    @property
    def token_counts(self) -> list[int]:
        return [len(e.ids) for e in self.encodings]


@dataclass(frozen=True)
class Embeddings:
    """The result of :meth:`EmbeddingModel.embed`."""

    vectors: np.ndarray  # [n, dimensions] of the output dtype (packed bytes for binary)
    token_counts: list[int]  # tokens per input as embedded (prefix and specials included)
    truncated: list[int]  # indices of inputs cut to the model's window
    model: str
    seconds: float = 0.0
    # Only with ``embed(output=...)`` on a model that has those heads (bge-m3):
    sparse: list[SparseVector] | None = None  # lexical weights per input
    multivectors: list[np.ndarray] | None = None  # [tokens - 1, dim] unit vectors per input

    @property
    def prompt_tokens(self) -> int:
        return sum(self.token_counts)


class EmbeddingModel:
    """A loaded embedding model. Thread-compatible: one forward pass at a time per caller."""

    def __init__(
        self,
        resolved: ResolvedModel,
        tokenizer: Tokenizer,
        backend: Backend,
        *,
        batch_tokens: int = default("batch_tokens"),
        max_batch_size: int = default("max_batch_size"),
        load_seconds: float = 0.0,
        task: str | None = None,
        backend_for_task: Callable[[str | None], Backend] | None = None,
    ) -> None:
        self.resolved = resolved
        self.spec: ModelSpec = resolved.spec
        self.tokenizer = tokenizer
        self.backend = backend  # runs ``task``'s weights; other tasks load on first use
        self.task = task
        self._backends: dict[str | None, Backend] = {task: backend}
        self._backend_for_task = backend_for_task
        self._loading = threading.Lock()  # one task backend loads (or exports) at a time
        self.batch_tokens = batch_tokens
        self.max_batch_size = max_batch_size
        self.load_seconds = load_seconds
        self._extra: ExtraOutputs | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def max_tokens(self) -> int:
        return self.tokenizer.max_tokens

    def __repr__(self) -> str:
        return (
            f"EmbeddingModel({self.name!r}, backend={self.backend.name!r}, "
            f"device={self.backend.device!r}, dim={self.dim}, max_tokens={self.max_tokens})"
        )

    # -- tokenisation -------------------------------------------------------------------

    def backend_for(self, task: str | None) -> Backend:
        """The backend running ``task``'s adapter (loaded once, on first use)."""
        found = self._backends.get(task)
        if found is not None:
            return found
        if self._backend_for_task is None:
            raise ValidationError(f"{self.name} has no task adapter {task!r}")
        with self._loading:  # batch workers of several tasks may ask at once
            found = self._backends.get(task)
            if found is None:
                found = self._backends[task] = self._backend_for_task(task)
        return found

    def check_input_type(self, input_type: str) -> str:
        """``input_type`` if this model knows it (query, document, none or a named one)."""
        if input_type not in self.spec.input_types:
            raise ValidationError(
                f"input_type must be one of {', '.join(self.spec.input_types)}, not {input_type!r}",
                param="input_type",
            )
        return input_type

    def with_prefix(self, texts: list[str], input_type: str) -> list[str]:
        prefix = self.spec.prefix(self.check_input_type(input_type))
        if not prefix:
            return texts
        # Text that already carries the prefix (code written for a server that applies
        # none) is left alone rather than prefixed twice.
        return [t if t.startswith(prefix) else prefix + t for t in texts]

    def encode(
        self,
        texts: Sequence[str],
        *,
        input_type: InputType | str = "document",
        truncate: Truncate | bool = "right",
    ) -> Encoded:
        """Validate, prefix and tokenise ``texts`` within the model's window.

        A prefix is never cut: over-long inputs lose tokens of their own text only, from
        the right or (``truncate="left"``) from the start of the text after the prefix.
        """
        mode = truncate_mode(truncate)
        prefixed = self.with_prefix(check_texts(texts), input_type)
        return self.fit(prefixed, self.tokenizer.encode(prefixed), mode, input_type=input_type)

    def fit(
        self,
        prefixed: list[str],
        encodings: list[Encoding],
        mode: Truncate,
        *,
        input_type: InputType | str = "none",
    ) -> Encoded:
        """Hold ``encodings`` of ``prefixed`` texts to the model's window: refuse (``mode``
        "error") or re-encode the long ones cut from the right or left, keeping the
        ``input_type``'s prefix whole. The server's batch worker tokenises many requests in
        one call, then fits each one with this."""
        encodings = list(encodings)
        long = [i for i, e in enumerate(encodings) if len(e.ids) > self.max_tokens]
        if long and mode == "error":
            i = long[0]
            raise InputTooLongError(
                f"input[{i}] has {len(encodings[i].ids)} tokens, more than the "
                f"{self.max_tokens}-token window of {self.name}; shorten or split it, or allow "
                "truncation",
                index=i,
                tokens=len(encodings[i].ids),
                limit=self.max_tokens,
            )
        if long:
            keep = len(self.spec.prefix(input_type))
            side: Direction = "left" if mode == "left" else "right"
            cut = self.tokenizer.truncate_after([prefixed[i] for i in long], keep, side)
            for i, enc in zip(long, cut, strict=True):
                encodings[i] = enc
        return Encoded(encodings, long, self.spec.task(input_type))

    def tokenize(
        self, texts: Sequence[str], *, input_type: InputType | str = "none"
    ) -> list[list[int]]:
        """Token ids of each text (prefix included when asked), not truncated."""
        prefixed = self.with_prefix(check_texts(texts), input_type)
        return [list(e.ids) for e in self.tokenizer.encode(prefixed)]

    def count_tokens(
        self, texts: Sequence[str], *, input_type: InputType | str = "none"
    ) -> list[int]:
        """Exact token counts (special tokens included), before any truncation."""
        return [len(ids) for ids in self.tokenize(texts, input_type=input_type)]

    # -- inference ----------------------------------------------------------------------

    def forward(
        self,
        encodings: Sequence[Encoding],
        *,
        normalize: bool = True,
        task: str | None = None,
        backend: Backend | None = None,
    ) -> np.ndarray:
        """Pooled float32 vectors for ``encodings``, in their order, batched by token budget.

        Unit length unless ``normalize=False`` (the raw pooled output, as TEI offers).
        ``task`` picks the task adapter (``Encoded.task``) on models that have them;
        ``backend`` runs the pass instead of the task's own (a server's side-by-side copy).
        """
        backend = backend or self.backend_for(task)
        out = np.empty((len(encodings), self.dim), dtype=np.float32)
        lengths = [len(e.ids) for e in encodings]
        for idx in plan_batches(lengths, self.batch_tokens, self.max_batch_size):
            batch = self.tokenizer.pad([encodings[i] for i in idx])
            hidden = backend.forward(batch)
            out[idx] = pool(hidden, batch.attention_mask, self.spec.pooling)
        return l2_normalize(out) if normalize else out

    def check_outputs(self, output: Output | Sequence[Output]) -> tuple[Output, ...]:
        """Validate ``output`` ("dense", "sparse", "multivector" or several) for this model."""
        asked = (output,) if isinstance(output, str) else tuple(output)
        if not asked:
            raise ValidationError("output must name at least one output", param="output")
        for name in asked:
            if name not in OUTPUTS:
                raise ValidationError(
                    f"output must be one of {', '.join(OUTPUTS)}, not {name!r}", param="output"
                )
            if name not in self.spec.outputs:
                raise ValidationError(
                    f"{self.name} has no {name} output (it offers: {', '.join(self.spec.outputs)})",
                    param="output",
                )
        return asked

    def extra_outputs(self) -> ExtraOutputs:
        """The model's extra heads (sparse, multivector), read from its folder on first use."""
        if self._extra is None:
            self._extra = ExtraOutputs.load(self.resolved.path, self.spec)
        return self._extra

    def forward_outputs(
        self, encodings: Sequence[Encoding], outputs: Sequence[Output]
    ) -> tuple[np.ndarray, dict[Output, list[Any]]]:
        """Unit dense vectors and the asked heads' outputs, from one forward pass per batch."""
        heads = self.extra_outputs()
        dense = np.empty((len(encodings), self.dim), dtype=np.float32)
        extra: dict[Output, list[Any]] = {o: [None] * len(encodings) for o in outputs}
        extra.pop("dense", None)
        lengths = [len(e.ids) for e in encodings]
        for idx in plan_batches(lengths, self.batch_tokens, self.max_batch_size):
            batch = self.tokenizer.pad([encodings[i] for i in idx])
            hidden = self.backend.forward(batch)
            dense[idx] = pool(hidden, batch.attention_mask, self.spec.pooling)
            got = heads.apply(hidden, batch.input_ids, batch.attention_mask, list(extra))
            for name, values in got.items():
                for i, value in zip(idx, values, strict=True):
                    extra[name][i] = value
        return l2_normalize(dense), extra

    def shape(
        self, vectors: np.ndarray, *, dimensions: int | None = None, dtype: OutputDtype = "float32"
    ) -> np.ndarray:
        """Apply Matryoshka ``dimensions`` and the output ``dtype`` to unit vectors (options
        the caller checked with :meth:`check_output` before any work was done).

        The cut follows the model's ``matryoshka_recipe``: "layer_norm" centres each full
        vector first (a layer norm without affine weights; its scale cancels in the final
        normalisation), as nomic-embed-text's model card prescribes.
        """
        if dimensions is not None and dimensions != self.dim:
            if self.spec.matryoshka_recipe == "layer_norm":
                vectors = vectors - vectors.mean(axis=1, keepdims=True)
            vectors = truncate_dims(vectors, dimensions)
        return quantize(vectors, dtype)

    def check_output(self, dimensions: int | None, dtype: str, *, warn: bool = True) -> None:
        """Validate ``dimensions`` and ``dtype`` before any work is done; ``warn``: a
        ``MatryoshkaWarning`` for a size the model was not trained for."""
        if dtype not in OUTPUT_DTYPES:
            raise ValidationError(
                f"dtype must be one of {', '.join(OUTPUT_DTYPES)}, not {dtype!r}", param="dtype"
            )
        if dimensions is None:
            return
        if isinstance(dimensions, bool) or not isinstance(dimensions, int):
            raise ValidationError("dimensions must be an integer", param="dimensions")
        if not 1 <= dimensions <= self.dim:
            raise ValidationError(
                f"dimensions must be between 1 and {self.dim} for {self.name}, not {dimensions}",
                param="dimensions",
            )
        if dtype in ("binary", "ubinary") and dimensions % 8:
            raise ValidationError(
                "binary output packs 8 dimensions per byte: dimensions must be a multiple of 8",
                param="dimensions",
            )
        if warn and dimensions != self.dim and dimensions not in self.spec.matryoshka_dims:
            trained = ", ".join(map(str, self.spec.matryoshka_dims)) or "none"
            warnings.warn(
                f"{self.name} was not trained for {dimensions} dimensions (Matryoshka sizes: "
                f"{trained}); expect a larger quality loss",
                MatryoshkaWarning,
                stacklevel=3,
            )

    def embed(
        self,
        texts: str | Sequence[str],
        *,
        input_type: InputType | str = "document",
        dimensions: int | None = None,
        dtype: OutputDtype = "float32",
        truncate: Truncate | bool = "right",
        output: Output | Sequence[Output] = "dense",
    ) -> Embeddings:
        """Embed ``texts`` (one string or a list) into L2-normalised vectors.

        ``input_type`` picks the model's prefix: "query" for search queries, "document"
        (default) for what is stored, "none" for no prefix. ``truncate`` is "right" (default)
        or "left" to cut over-long inputs and report them in ``Embeddings.truncated``, or
        "error" to refuse them.

        ``output`` adds the model's extra heads (see ``spec.outputs``): "sparse" fills
        ``Embeddings.sparse`` with lexical weights, "multivector" fills
        ``Embeddings.multivectors`` with ColBERT token vectors; ``vectors`` is always the
        dense embedding, all from one forward pass. ``dimensions``/``dtype`` shape the dense
        vectors only.
        """
        start = time.perf_counter()
        self.check_output(dimensions, dtype)
        outputs = self.check_outputs(output)
        encoded = self.encode(texts, input_type=input_type, truncate=truncate)  # validates texts
        if outputs == ("dense",):
            vectors = self.forward(encoded.encodings, task=encoded.task)
            return self.result(encoded, vectors, dimensions=dimensions, dtype=dtype, start=start)
        vectors, extra = self.forward_outputs(encoded.encodings, outputs)
        result = self.result(encoded, vectors, dimensions=dimensions, dtype=dtype, start=start)
        return dataclasses.replace(
            result, sparse=extra.get("sparse"), multivectors=extra.get("multivector")
        )

    def result(
        self,
        encoded: Encoded,
        vectors: np.ndarray,
        *,
        dimensions: int | None,
        dtype: OutputDtype,
        start: float,
    ) -> Embeddings:
        """``vectors`` shaped into an ``Embeddings``; ``dimensions`` and ``dtype`` were checked
        by the caller (:meth:`check_output`) before any work was done."""
        shaped = self.shape(vectors, dimensions=dimensions, dtype=dtype)
        return Embeddings(
            vectors=shaped,
            token_counts=encoded.token_counts,
            truncated=encoded.truncated,
            model=self.name,
            seconds=time.perf_counter() - start,
        )
