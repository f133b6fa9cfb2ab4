"""Cross-encoder rerankers: score (query, passage) pairs, best first.

A reranker resolves like an embedding model (a local folder, or a catalog name / HF id in
the HF cache; :class:`ModelNotFoundError` naming ``lembed pull`` when absent) and runs on
ONNX Runtime (exported once from the HF weights and cached, checked against torch) or on
torch. The score of a pair is the model's relevance logit (for two-label models, the
log-odds of the "relevant" label); ``normalize`` maps it through a sigmoid into (0, 1).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lembed.engine.model import plan_batches
from lembed.errors import EmptyInputError, InputTooLongError, ModelNotFoundError, ValidationError
from lembed.models.rerankers import RerankerSpec, find_reranker
from lembed.models.resolve import ResolvedModel, find_in_hf_cache
from lembed.rag.onnx_export import reranker_graph
from lembed.settings import Settings


@dataclass(frozen=True)
class Ranked:
    """One reranked passage: its index in the input and its score."""

    index: int
    score: float


def resolve_reranker(name: str, *, allow_paths: bool = True) -> tuple[RerankerSpec, Path]:
    """A reranker's spec and folder: a local folder path, or a catalog name / HF id."""
    if not name or not name.strip():
        raise ValidationError("reranker name is empty", param="model")
    folder = Path(name).expanduser()
    spec = find_reranker(name)
    if spec is None and (name.startswith((".", "/", "~")) or folder.is_dir()):
        if not allow_paths:
            raise ModelNotFoundError(f"reranker {name!r} not found (local paths are disabled)")
        if not (folder / "config.json").is_file():
            raise ModelNotFoundError(f"{name!r} is not a model folder (no config.json in it)")
        return _folder_spec(folder.resolve()), folder.resolve()
    hf_id = spec.hf_id if spec else name.strip()
    if "/" in hf_id and (path := find_in_hf_cache(hf_id)):
        return spec or _folder_spec(path, hf_id), path
    hint = spec.name if spec else name
    raise ModelNotFoundError(
        f"reranker {name!r} is not available locally; download it with `lembed pull {hint}` "
        "or pass the path of a cross-encoder folder"
    )


def _folder_spec(folder: Path, hf_id: str | None = None) -> RerankerSpec:
    import json

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    positions = int(config.get("max_position_embeddings", 512))
    if config.get("model_type") in ("roberta", "xlm-roberta", "camembert"):
        positions -= 2  # RoBERTa's position ids start after the padding index
    return RerankerSpec(
        name=folder.name,
        hf_id=hf_id or str(folder),
        max_tokens=min(positions, 512),
        license="unknown",
        params_m=0.0,
        size_mb=0,
    )


class Reranker:
    """A loaded cross-encoder. Thread-safe: one forward pass at a time."""

    def __init__(
        self, name: str, *, backend: str | None = None, settings: Settings | None = None
    ) -> None:
        settings = settings or Settings()
        start = time.perf_counter()
        self.spec, self.path = resolve_reranker(name, allow_paths=settings.allow_model_paths)
        self.name = self.spec.name
        self.max_tokens = self.spec.max_tokens
        self.batch_tokens = settings.batch_tokens
        self._lock = threading.Lock()
        self.max_batch_size = settings.max_batch_size
        self._tokenizer = _pair_tokenizer(self.path, self.max_tokens)
        self._cut = {
            side: _pair_tokenizer(self.path, self.max_tokens) for side in ("right", "left")
        }
        for side, tok in self._cut.items():
            tok.enable_truncation(self.max_tokens, strategy="longest_first", direction=side)
        kind = backend or settings.backend
        self.backend = "torch" if kind == "torch" else "onnx"
        self._run: Any
        if self.backend == "torch":
            self._run = _torch_runner(self.path, settings.threads)
        else:
            resolved = ResolvedModel(_as_model_spec(self.spec), self.path, "folder")
            graph = reranker_graph(resolved, settings.cache_dir)
            self._run = _onnx_runner(graph, settings.threads, _config_pad_id(self.path))
        self.load_seconds = time.perf_counter() - start

    def score(
        self, query: str, texts: Sequence[str], *, truncate: bool = True, direction: str = "right"
    ) -> np.ndarray:
        """Raw relevance logits of ``(query, text)`` for each text, in input order. Pairs over
        the window are cut (the longer side first, from ``direction``) or, with
        ``truncate=False``, refused with :class:`InputTooLongError`."""
        return self._score(query, texts, truncate, direction)[0]

    def _score(
        self, query: str, texts: Sequence[str], truncate: bool, direction: str = "right"
    ) -> tuple[np.ndarray, int]:
        if not isinstance(query, str) or not query.strip():
            raise EmptyInputError("the query is empty", param="query")
        if not texts:
            raise EmptyInputError("no texts to rerank", param="texts")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise EmptyInputError(f"text {i} is empty", param="texts")
        pairs = [(query, t) for t in texts]
        if not truncate:
            for i, enc in enumerate(self._tokenizer.encode_batch(pairs)):
                if len(enc.ids) > self.max_tokens:
                    raise InputTooLongError(
                        f"pair {i} has {len(enc.ids)} tokens; {self.name} reads at most "
                        f"{self.max_tokens} (send truncate: true to cut it)",
                        index=i,
                        tokens=len(enc.ids),
                        limit=self.max_tokens,
                    )
        if direction not in self._cut:
            raise ValidationError("truncation direction must be right or left", param="direction")
        encodings = self._cut[direction].encode_batch(pairs)
        scores = np.zeros(len(pairs), dtype=np.float32)
        lengths = [len(e.ids) for e in encodings]
        with self._lock:
            for batch in plan_batches(lengths, self.batch_tokens, self.max_batch_size):
                scores[batch] = self._run([encodings[i] for i in batch])
        return scores, sum(len(e.ids) for e in encodings)

    def rerank(
        self,
        query: str,
        texts: Sequence[str],
        *,
        top_n: int | None = None,
        normalize: bool = False,
        truncate: bool = True,
        direction: str = "right",
    ) -> list[Ranked]:
        """``texts`` sorted by relevance to ``query``, best first, cut to ``top_n``;
        ``normalize`` maps the logits through a sigmoid."""
        return self.rerank_counted(
            query, texts, top_n=top_n, normalize=normalize, truncate=truncate, direction=direction
        )[0]

    def rerank_counted(
        self,
        query: str,
        texts: Sequence[str],
        *,
        top_n: int | None = None,
        normalize: bool = False,
        truncate: bool = True,
        direction: str = "right",
    ) -> tuple[list[Ranked], int]:
        """Like :meth:`rerank`, with the number of tokens the pairs took."""
        scores, tokens = self._score(query, texts, truncate, direction)
        order = np.argsort(-scores, kind="stable")
        if top_n is not None:
            order = order[:top_n]
        ranked = [
            Ranked(int(i), sigmoid(float(scores[i])) if normalize else float(scores[i]))
            for i in order
        ]
        return ranked, tokens


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _pair_tokenizer(folder: Path, max_tokens: int) -> Any:
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ValidationError(f"{folder}: no tokenizer.json (a fast tokenizer is required)")
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    return tok


def _pad(encodings: Sequence[Any], pad_id: int = 0) -> dict[str, np.ndarray]:
    longest = max(len(e.ids) for e in encodings)
    ids = np.full((len(encodings), longest), pad_id, dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        n = len(enc.ids)
        ids[row, :n] = enc.ids
        mask[row, :n] = 1
        types[row, :n] = enc.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def relevance(logits: np.ndarray) -> np.ndarray:
    """One score per row: the single logit, or the log-odds of label 1 for two labels."""
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim == 1 or logits.shape[1] == 1:
        return logits.reshape(-1)
    return np.asarray(logits[:, 1] - logits[:, 0], dtype=np.float32)


def _onnx_runner(graph: Path, threads: int, pad_id: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]  # a repo's own graph may name it otherwise
    output = "logits" if "logits" in outputs else outputs[0]

    def run(encodings: Sequence[Any]) -> np.ndarray:
        feed = _pad(encodings, pad_id)
        (logits,) = session.run([output], {k: feed[k] for k in names})
        return relevance(logits)

    return run


def _config_pad_id(folder: Path) -> int:
    import json

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return int(config.get("pad_token_id") or 0)


def _torch_runner(folder: Path, threads: int) -> Any:
    from lembed.errors import require

    torch: Any = require("torch", "torch", "The torch reranker backend")
    transformers: Any = require("transformers", "torch", "The torch reranker backend")
    if threads:
        torch.set_num_threads(threads)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    pad_id = int(model.config.pad_token_id or 0)
    from lembed.runtime.export import _accepted_inputs

    accepted = _accepted_inputs(model)

    def run(encodings: Sequence[Any]) -> np.ndarray:
        feed = _pad(encodings, pad_id)
        with torch.inference_mode():
            out = model(**{k: torch.from_numpy(v) for k, v in feed.items() if k in accepted}).logits
        return relevance(out.float().numpy())

    return run


def _as_model_spec(spec: RerankerSpec) -> Any:
    from lembed.models.catalog import ModelSpec

    return ModelSpec(
        name=f"reranker-{spec.name}",
        hf_id=spec.hf_id,
        dim=1,
        max_tokens=spec.max_tokens,
        pooling="cls",
        normalized=False,
        license=spec.license,
        params_m=spec.params_m,
        size_mb=spec.size_mb,
    )


def load_reranker(
    name: str | None, *, backend: str | None = None, settings: Settings | None = None
) -> Reranker | None:
    """A reranker by name, or ``None`` for ``"none"`` / no name."""
    if name is None or name.strip().lower() in ("", "none", "off"):
        return None
    return Reranker(name, backend=backend, settings=settings)
