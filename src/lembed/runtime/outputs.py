"""Extra outputs from a model's last hidden state: sparse lexical weights and ColBERT
multi-vectors, computed exactly as BGE-M3's reference (FlagEmbedding ``M3Embedder``) does.

- **sparse**: ``relu(sparse_linear(hidden))`` gives one weight per token; a token id's weight
  is the largest over its occurrences; the tokenizer's CLS, EOS, PAD and UNK tokens are
  dropped, and so are zero weights. The score of two sparse vectors is their dot product
  (FlagEmbedding's ``compute_lexical_matching_score``).
- **multivector**: ``colbert_linear(hidden[1:])`` — every token but the first (CLS), the
  final EOS included — each vector L2-normalised. Scored by MaxSim.

The layers are ``torch.nn.Linear`` state dicts saved with ``torch.save`` (``*.pt``), named by
the catalog entry's ``heads``. They are read here without torch, by a restricted unpickler
that rebuilds only plain tensors, so the ONNX backend needs no torch and a ``.pt`` file can
run no code.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lembed.errors import ValidationError
from lembed.models.catalog import ModelSpec, Output
from lembed.runtime.pooling import l2_normalize

# FlagEmbedding drops these special tokens from lexical weights (its ``unused_tokens``).
UNUSED_SPECIAL = ("cls_token", "eos_token", "pad_token", "unk_token")

_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),  # widened to float32 below
}


@dataclass(frozen=True)
class SparseVector:
    """Token ids (ascending) and their positive weights."""

    indices: np.ndarray  # int64
    values: np.ndarray  # float32

    def as_dict(self) -> dict[int, float]:
        return {int(i): float(v) for i, v in zip(self.indices, self.values, strict=True)}

    def dot(self, other: SparseVector) -> float:
        """The lexical matching score: sum of weight products over shared token ids."""
        _, a, b = np.intersect1d(self.indices, other.indices, return_indices=True)
        return float(np.dot(self.values[a].astype(np.float64), other.values[b]))


@dataclass(frozen=True)
class Linear:
    """``y = x @ weight.T + bias``, as ``torch.nn.Linear``."""

    weight: np.ndarray  # float32 [out, in]
    bias: np.ndarray  # float32 [out]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x @ self.weight.T + self.bias, dtype=np.float32)


class _Storage:
    def __init__(self, data: np.ndarray) -> None:
        self.data = data


def _rebuild_tensor(
    storage: _Storage, offset: int, size: Sequence[int], stride: Sequence[int], *_: Any
) -> np.ndarray:
    data = storage.data
    if not size:
        return np.array(data[offset])
    item = data.itemsize
    view = np.lib.stride_tricks.as_strided(
        data[offset:], shape=tuple(size), strides=tuple(s * item for s in stride)
    )
    return np.array(view)


class _TorchUnpickler(pickle.Unpickler):
    """Unpickles a ``torch.save`` state dict of plain tensors, and nothing else."""

    def __init__(self, fh: Any, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(fh)
        self._archive = archive
        self._prefix = prefix

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a head's weights")

    def persistent_load(self, pid: Any) -> _Storage:
        kind, storage_type, key, _location, numel = pid
        if kind != "storage" or storage_type not in _STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unsupported storage {storage_type!r}")
        raw = self._archive.read(f"{self._prefix}/data/{key}")
        data = np.frombuffer(raw, dtype=_STORAGE_DTYPES[storage_type], count=int(numel))
        if storage_type == "BFloat16Storage":
            data = (data.astype(np.uint32) << 16).view(np.float32)
        return _Storage(data.astype(np.float32))


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Read a ``torch.save``'d state dict of tensors (zip format) as float32 numpy arrays."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pkl = next(n for n in names if n.endswith("/data.pkl"))
            prefix = pkl.rsplit("/", 1)[0]
            order = "little"
            if f"{prefix}/byteorder" in names:
                order = archive.read(f"{prefix}/byteorder").decode().strip()
            if order != "little":
                raise ValidationError(f"{path}: big-endian tensors are not supported")
            with archive.open(pkl) as fh:
                state = _TorchUnpickler(fh, archive, prefix).load()
    except (OSError, zipfile.BadZipFile, StopIteration, pickle.UnpicklingError) as exc:
        raise ValidationError(f"cannot read the head weights {path}: {exc}") from exc
    if not isinstance(state, dict):
        raise ValidationError(f"{path} is not a state dict")
    return {str(k): np.asarray(v, dtype=np.float32) for k, v in state.items()}


def load_linear(path: Path, hidden: int | None = None) -> Linear:
    state = load_state_dict(path)
    if "weight" not in state or "bias" not in state:
        raise ValidationError(f"{path}: a Linear head needs 'weight' and 'bias' tensors")
    weight, bias = state["weight"], state["bias"]
    if weight.ndim != 2 or bias.shape != (weight.shape[0],):
        raise ValidationError(f"{path}: weight {weight.shape} and bias {bias.shape} mismatch")
    if hidden is not None and weight.shape[1] != hidden:
        raise ValidationError(
            f"{path}: the head takes {weight.shape[1]}-d input, the model gives {hidden}-d"
        )
    return Linear(np.ascontiguousarray(weight), bias)


def special_token_ids(folder: Path, names: Sequence[str] = UNUSED_SPECIAL) -> frozenset[int]:
    """Ids of the named special tokens (``special_tokens_map.json`` / ``tokenizer_config.json``
    give their text, ``tokenizer.json`` their id)."""
    tokens: dict[str, str] = {}
    for file in ("tokenizer_config.json", "special_tokens_map.json"):
        path = folder / file
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            for name in names:
                value = data.get(name)
                if isinstance(value, dict):
                    value = value.get("content")
                if isinstance(value, str):
                    tokens[name] = value
    tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    added = tok.get("added_tokens", [])
    ids: dict[str, int] = {}
    vocab = tok.get("model", {}).get("vocab")
    if isinstance(vocab, dict):  # WordPiece / BPE: {token: id}
        ids = {str(k): int(v) for k, v in vocab.items()}
    elif isinstance(vocab, list):  # Unigram: [[piece, score], ...]
        ids = {str(piece): i for i, (piece, _) in enumerate(vocab)}
    ids.update({t["content"]: int(t["id"]) for t in added})
    if not tokens:  # no tokenizer config: every special added token
        return frozenset(int(t["id"]) for t in added if t.get("special"))
    return frozenset(ids[t] for t in tokens.values() if t in ids)


class ExtraOutputs:
    """A model's extra output layers, loaded from its folder as its catalog entry names them."""

    def __init__(self, linears: dict[Output, Linear], unused_ids: frozenset[int]) -> None:
        self.linears = linears
        self.unused_ids = np.array(sorted(unused_ids), dtype=np.int64)

    @classmethod
    def load(cls, folder: Path, spec: ModelSpec, hidden: int | None = None) -> ExtraOutputs:
        linears: dict[Output, Linear] = {}
        for head in spec.heads:
            path = folder / head.file
            if not path.is_file():
                raise ValidationError(
                    f"{spec.name}: the {head.output} head {head.file} is missing from {folder}; "
                    f"download it with `lembed pull {spec.name}`"
                )
            linears[head.output] = load_linear(path, hidden)
        return cls(linears, special_token_ids(folder))

    def sparse(self, hidden: np.ndarray, ids: np.ndarray) -> SparseVector:
        """Lexical weights of one sequence: ``hidden`` [seq, h], ``ids`` [seq], no padding."""
        weights = np.maximum(self.linears["sparse"](hidden)[:, 0], 0.0)
        keep = (weights > 0) & ~np.isin(ids, self.unused_ids)
        kept_ids, kept_w = ids[keep].astype(np.int64), weights[keep]
        indices, inverse = np.unique(kept_ids, return_inverse=True)
        values = np.zeros(len(indices), dtype=np.float32)
        np.maximum.at(values, inverse, kept_w)
        return SparseVector(indices, values)

    def multivector(self, hidden: np.ndarray) -> np.ndarray:
        """ColBERT vectors of one sequence: every token but the first, unit length."""
        return l2_normalize(self.linears["multivector"](hidden[1:]))

    def apply(
        self,
        hidden: np.ndarray,
        input_ids: np.ndarray,
        attention_mask: np.ndarray,
        outputs: Sequence[Output],
    ) -> dict[Output, list[Any]]:
        """The asked outputs for each row of a right-padded batch ("dense" is skipped)."""
        out: dict[Output, list[Any]] = {o: [] for o in outputs if o != "dense"}
        lengths = attention_mask.sum(axis=1).astype(np.int64)
        for row, n in enumerate(lengths):
            seq = hidden[row, :n]
            if "sparse" in out:
                out["sparse"].append(self.sparse(seq, input_ids[row, :n]))
            if "multivector" in out:
                out["multivector"].append(self.multivector(seq))
        return out
